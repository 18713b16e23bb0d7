"""A fine-tune from a bundle's weights is refused when the run would feed them other input than the bundle's card
says they learnt from (c30 in docs/model-development.md), unless the change is asked for."""
from __future__ import annotations

from inference.model_card import InputSpec
from training.start_input import input_differences


def _run(small_kermany, out, start, *extra):
    from training.cli_train import main as train_main

    return train_main(["--data", str(small_kermany), "--arch", "compact_cnn", "--epochs", "1", "--img-size", "32",
                       "--batch-size", "8", "--quiet", "--seed", "5", "--out", str(out),
                       "--no-pretrained", "--pretrained-path", str(start / "model.safetensors"), *extra])


def test_a_start_bundles_low_pass_must_be_given_again(trained_bundle, small_kermany, tmp_path, capsys):
    start, _ = trained_bundle  # compact_cnn, 32 px, squash, no per-image standardisation, no low-pass
    out = tmp_path / "refused"
    assert _run(small_kermany, out, start, "--low-pass-sigma", "2.0") != 0
    err = capsys.readouterr().err
    assert "--low-pass-sigma: 0.0 -> 2.0" in err and "--allow-start-input-change" in err
    assert not out.exists(), "refused before anything was written"


def test_the_same_input_or_an_asked_for_change_trains(trained_bundle, small_kermany, tmp_path):
    from inference.bundle import load_bundle

    start, _ = trained_bundle
    assert _run(small_kermany, tmp_path / "same", start) == 0
    assert _run(small_kermany, tmp_path / "changed", start, "--low-pass-sigma", "2.0",
                "--allow-start-input-change") == 0
    card = load_bundle(tmp_path / "changed").card
    assert card["input"]["normalisation"]["low_pass_sigma"] == 2.0
    assert card["training"]["config"]["allow_start_input_change"] is True


def test_every_input_field_that_changes_what_the_network_sees_is_compared():
    card_input = {"channels": 1, "height": 224, "width": 224, "resize_mode": "squash",
                  "normalisation": {"mean": [0.449], "std": [0.226], "per_image": True, "low_pass_sigma": 2.0}}
    start = InputSpec.from_card(card_input)
    same = InputSpec(channels=1, height=224, width=224, resize_mode="squash", per_image=True, low_pass_sigma=2.0)
    assert input_differences(start, same) == []
    other = InputSpec(channels=1, height=256, width=256, resize_mode="letterbox", per_image=False,
                      low_pass_sigma=0.0)
    assert input_differences(start, other) == ["--img-size: 224 -> 256", "--low-pass-sigma: 2.0 -> 0.0",
                                               "--per-image-norm: True -> False",
                                               "--resize-mode: squash -> letterbox"]
    # A card written before the low-pass existed says nothing of it: no low-pass.
    del card_input["normalisation"]["low_pass_sigma"]
    assert input_differences(InputSpec.from_card(card_input), same) == ["--low-pass-sigma: 0.0 -> 2.0"]

"""`xrayview-train --ensemble-of A --ensemble-of B`: the members' networks averaged into one bundle with its own
measured card, and refused when a member learnt from other films, splits or input than the run's."""
from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch


def _train(small_kermany, out, *extra):
    from training.cli_train import main as train_main

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = train_main(["--data", str(small_kermany), "--arch", "compact_cnn", "--img-size", "32", "--batch-size",
                         "8", "--quiet", "--out", str(out), *extra])
    return rc, stdout.getvalue()


@pytest.fixture(scope="module")
def second_member(small_kermany, tmp_path_factory):
    """Another network on trained_bundle's films and splits (same data and seed), trained for 1 epoch, not 3."""
    out = tmp_path_factory.mktemp("member") / "bundle"
    rc, _ = _train(small_kermany, out, "--epochs", "1", "--seed", "3")
    assert rc == 0
    return out


def test_an_ensemble_answers_the_mean_of_its_members_logits(trained_bundle, second_member, small_kermany, tmp_path):
    from inference.bundle import load_bundle
    from inference.image_io import load_image
    from inference.model_card import InputSpec
    from inference.preprocess import to_model_tensor
    from training.ensemble import MEMBER_TRAINING_KEYS

    first, _ = trained_bundle
    out = tmp_path / "ensemble"
    rc, printed = _train(small_kermany, out, "--seed", "3", "--ensemble-of", str(first), "--ensemble-of",
                         str(second_member))
    assert rc == 0, printed
    bundle = load_bundle(out)
    card = bundle.card
    assert card["architecture"] == "compact_cnn+compact_cnn"
    assert card["cam"]["target_layer"] == "members.0.features.block5"
    members = card["training"]["ensemble"]
    assert [m["weights_sha256"] for m in members] == [load_bundle(first).sha256, load_bundle(second_member).sha256]
    member_training = load_bundle(first).card["training"]  # what trained each member, as its own card says
    assert members[0]["training"] == {key: member_training[key] for key in MEMBER_TRAINING_KEYS}
    assert MEMBER_TRAINING_KEYS == ("weights", "lung_focus", "map_specificity", "consistency", "map_focus")
    assert members[0]["training"]["weights"].startswith(("raw weights", "exponential moving average"))
    assert card["training"]["epochs_run"] == 0 and card["training"]["lung_focus"] is None
    # the AUC the assembly reports is the one the calibrate stage measures on the same validation films
    assert card["training"]["best_val_auc"] == pytest.approx(card["training"]["validation_metrics"]["auc"], abs=1e-4)
    assert card["calibration"]["temperature"] > 0 and card["threshold"] is not None

    film = next((small_kermany / "PNEUMONIA").iterdir())
    x = to_model_tensor(load_image(film).render(), InputSpec.from_card(card["input"]))
    with torch.inference_mode():
        together = bundle.build()(x)
        apart = [load_bundle(path).build()(x) for path in (first, second_member)]
    torch.testing.assert_close(together, (apart[0] + apart[1]) / 2, rtol=0, atol=1e-5)
    assert not torch.allclose(apart[0], apart[1]), "two different networks: the mean is not either one"


def test_a_member_from_other_splits_is_refused(trained_bundle, small_kermany, tmp_path, capsys):
    first, _ = trained_bundle
    other_split = tmp_path / "seed4"
    assert _train(small_kermany, other_split, "--epochs", "1", "--seed", "4")[0] == 0
    out = tmp_path / "refused"
    rc, _ = _train(small_kermany, out, "--seed", "3", "--ensemble-of", str(first), "--ensemble-of", str(other_split))
    assert rc != 0
    err = capsys.readouterr().err
    assert str(other_split) in err and "data manifest" in err
    assert not out.exists(), "refused before anything was written"
    # --split-seed keeps the split while --seed changes the rest: that member joins
    same_split = tmp_path / "seed4-split3"
    assert _train(small_kermany, same_split, "--epochs", "1", "--seed", "4", "--split-seed", "3")[0] == 0
    assert (same_split / "data_manifest.csv").read_bytes() == (first / "data_manifest.csv").read_bytes()
    rc, printed = _train(small_kermany, out, "--seed", "3", "--ensemble-of", str(first), "--ensemble-of",
                         str(same_split))
    assert rc == 0, printed


def test_a_member_fed_other_input_or_a_lone_member_is_refused(trained_bundle, second_member, small_kermany,
                                                               tmp_path, capsys):
    first, _ = trained_bundle
    out = tmp_path / "refused"
    rc, _ = _train(small_kermany, out, "--seed", "3", "--low-pass-sigma", "1.0", "--ensemble-of", str(first),
                   "--ensemble-of", str(second_member))
    assert rc != 0
    assert "--low-pass-sigma: 0.0 -> 1.0" in capsys.readouterr().err
    rc, _ = _train(small_kermany, out, "--seed", "3", "--ensemble-of", str(first))
    assert rc != 0
    assert "at least two bundles" in capsys.readouterr().err
    assert not out.exists()


def test_one_network_answers_the_mean_over_views_of_the_film(trained_bundle, small_kermany, tmp_path, capsys):
    from inference.bundle import load_bundle
    from inference.cam import compute_cam
    from inference.image_io import load_image
    from inference.model_card import InputSpec
    from inference.preprocess import to_model_tensor

    first, _ = trained_bundle
    out = tmp_path / "views"
    rc, printed = _train(small_kermany, out, "--seed", "3", "--ensemble-of", str(first), "--views",
                         "mirror,shift_1_1")
    assert rc == 0, printed
    viewed, alone = load_bundle(out), load_bundle(first)
    card = viewed.card
    assert card["architecture"] == "compact_cnn|views=mirror,shift_1_1"
    # the network's own layer names and weights: the heatmap and the guard hook the same layers as alone
    assert card["cam"]["target_layer"] == alone.card["cam"]["target_layer"] == "features.block5"
    assert viewed.sha256 == alone.sha256
    assert "2 fixed views of it (mirror, shift_1_1)" in card["training"]["weights"]

    films = sorted((small_kermany / "PNEUMONIA").iterdir())[:3]
    spec = InputSpec.from_card(card["input"])
    x = torch.cat([to_model_tensor(load_image(film).render(), spec) for film in films])
    network, bare = viewed.build(), alone.build()
    with torch.inference_mode():
        answered = network(x)
        views = [bare(x), bare(x.flip(-1)), bare(torch.roll(x, shifts=(1, 1), dims=(-2, -1)))]
    torch.testing.assert_close(answered, sum(views) / 3, rtol=0, atol=1e-5)
    assert not torch.allclose(views[0], views[1], atol=1e-4), "the mirror is another view: the mean is not the film's"
    # the heatmap explains the film itself: its map is the bare network's (the views' passes are not hooked)
    fired = []
    handle = network.get_submodule("features.block5").register_forward_hook(lambda *_: fired.append(1))
    with_views = compute_cam(network, x, "features.block5", target=1)
    handle.remove()
    assert len(fired) == 1, "the hooked layer ran once per forward: the views ran unhooked"
    difference = with_views.heatmaps - compute_cam(bare, x, "features.block5", target=1).heatmaps
    assert abs(difference).max() < 1e-4
    torch.testing.assert_close(with_views.logits, answered, rtol=0, atol=1e-5)

    rc, _ = _train(small_kermany, tmp_path / "refused", "--seed", "3", "--views", "mirror")
    assert rc != 0 and "--ensemble-of" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


def test_how_alike_two_bundles_move_under_noise(trained_bundle, second_member, small_kermany, tmp_path, capsys):
    from training.cli_moves_alike import main as moves_main

    first, _ = trained_bundle
    (tmp_path / "films" / "PNEUMONIA").mkdir(parents=True)
    (tmp_path / "films" / "PNEUMONIA" / "broken.png").write_bytes(b"not a png")
    for film in sorted((small_kermany / "PNEUMONIA").iterdir())[:6]:
        (tmp_path / "films" / "PNEUMONIA" / film.name).write_bytes(film.read_bytes())
    assert moves_main(["--bundle", str(first), "--bundle", str(first), "--bundle", str(second_member),
                       "--data", str(tmp_path / "films")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["films"] == 6 and [u["file"] for u in report["unreadable"]] == ["PNEUMONIA/broken.png"]
    same, first_vs_second, _ = report["pairs"]
    # one network against itself under the same draws: the same moves
    assert same["correlation"] == pytest.approx(1.0) and same["sd_of_mean"] == same["sd_log_odds"][0] > 0
    assert first_vs_second["correlation"] < 0.999
    with pytest.raises(SystemExit):  # one bundle has nothing to be compared with
        moves_main(["--bundle", str(first), "--data", str(tmp_path / "films")])
    capsys.readouterr()
    # ... but its views: one network on the film and on its mirror, the same draw mirrored
    assert moves_main(["--bundle", str(first), "--views", "mirror", "--data", str(tmp_path / "films")]) == 0
    report = json.loads(capsys.readouterr().out)
    (pair,) = report["pairs"]
    assert pair["models"] == [str(first), f"{first}|mirror"] and report["views"] == ["mirror"]
    assert -1.0 <= pair["correlation"] < 0.999 and pair["sd_log_odds"][1] > 0

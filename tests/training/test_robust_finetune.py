"""LP-FT and WiSE-FT (training/robust_finetune.py): the probe head reproduces the logistic regression it was
fitted as, interpolation is exact and covers BatchNorm statistics, and training with both writes them into
the card."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.architectures import build_model
from inference.bundle import load_bundle
from inference.ood import final_linear
from training.robust_finetune import fit_linear_probe, head_inputs, interpolate_states
from training.trainer import Normalisation


def _images(shared_data, label: str, count: int, size: int = 32) -> torch.Tensor:
    from inference.preprocess import InputSpec
    from training.cache import decode_images

    folder = shared_data / "chest-xray-pneumonia" / "train" / label
    spec = InputSpec(channels=1, height=size, width=size)
    return decode_images(sorted(folder.iterdir())[:count], spec).images


def test_linear_probe_head_gives_the_logistic_regressions_probabilities(shared_data):
    from sklearn.linear_model import LogisticRegression

    torch.manual_seed(0)
    model = build_model("compact_cnn", 2, in_channels=1).eval()
    normal, pneumonia = _images(shared_data, "NORMAL", 30), _images(shared_data, "PNEUMONIA", 30)
    images = torch.cat([normal[:20], pneumonia[:20]])
    labels = torch.tensor([0] * 20 + [1] * 20)
    val_images = torch.cat([normal[20:], pneumonia[20:]])
    val_labels = torch.tensor([0] * 10 + [1] * 10)
    normalise = Normalisation((0.5,), (0.25,)).apply
    info = fit_linear_probe(model, images, labels, val_images, val_labels, normalise, torch.device("cpu"), 2)
    assert info["strength_C"] in (0.01, 0.03, 0.1, 0.3, 1.0) and info["train_images"] == 40
    # the same regression, fitted by hand, gives the probabilities the model's new head gives
    features = head_inputs(model, images, normalise, torch.device("cpu"))
    reference = LogisticRegression(C=info["strength_C"], class_weight="balanced", max_iter=5000).fit(
        features, labels.numpy())
    with torch.no_grad():
        probs = torch.softmax(model(normalise(val_images.float() / 255.0)), dim=1)[:, 1].numpy()
    expected = reference.predict_proba(head_inputs(model, val_images, normalise, torch.device("cpu")))[:, 1]
    assert np.allclose(probs, expected, atol=1e-5)
    head = final_linear(model)
    assert torch.allclose(head.weight[0], -head.weight[1])  # the binary logit split symmetrically


def test_interpolation_is_exact_and_includes_batchnorm_statistics():
    torch.manual_seed(1)
    start = build_model("compact_cnn", 2, in_channels=1).state_dict()
    torch.manual_seed(2)
    tuned = build_model("compact_cnn", 2, in_channels=1).state_dict()
    running = [k for k in tuned if k.endswith("running_mean")][0]
    tuned[running] = tuned[running] + 2.0
    tuned_counter = [k for k in tuned if k.endswith("num_batches_tracked")][0]
    tuned[tuned_counter] = torch.tensor(7)
    mixed = interpolate_states(start, tuned, 0.25)
    for key, value in mixed.items():
        if value.is_floating_point():
            assert torch.allclose(value, start[key] + 0.25 * (tuned[key] - start[key]), atol=1e-6), key
    assert torch.allclose(mixed[running], start[running] + 0.5)
    assert int(mixed[tuned_counter]) == 7
    assert all(torch.equal(mixed[k], tuned[k]) for k in tuned) is False
    same = interpolate_states(start, tuned, 1.0)
    assert all(torch.equal(same[k], tuned[k]) for k in tuned)


def test_training_with_lp_ft_and_wise_records_both_in_the_card(small_kermany, tmp_path):
    from training.cli_train import main as train_main

    out = tmp_path / "bundle"
    assert train_main(["--data", str(small_kermany), "--arch", "compact_cnn", "--epochs", "2", "--img-size", "32",
                       "--batch-size", "8", "--quiet", "--seed", "4", "--out", str(out), "--linear-probe",
                       "--wise", "0.6"]) == 0
    training = load_bundle(out).card["training"]
    assert training["config"]["linear_probe"] is True and training["config"]["wise_alpha"] == 0.6
    assert training["linear_probe"]["features"] == 128 and "validation_log_loss" in training["linear_probe"]
    assert "WiSE-FT" in training["weights"] and "linear-probe" in training["weights"]


def test_wise_alpha_out_of_range_is_refused(small_kermany, tmp_path, capsys):
    from training.cli_train import main as train_main

    with pytest.raises(SystemExit):
        train_main(["--data", str(small_kermany), "--out", str(tmp_path / "b"), "--wise", "1.5"])
    assert "must be in (0, 1]" in capsys.readouterr().err

"""The pytorch-grad-cam adapter: every method gives a float32 [0, 1] heatmap, at the original image size through
the Predictor, computed from the same forward pass as the probabilities."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from inference.architectures import build_model, default_cam_layer
from inference.bundle import load_bundle
from inference.cam import UnknownCamMethodError, compute_cam
from inference.image_io import load_image
from inference.predictor import Predictor
from inference.vocabulary import ARCHITECTURES, CAM_METHODS
from tests.helpers.tiny_models import make_tiny_bundle


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor(make_tiny_bundle(tmp_path_factory.mktemp("cam") / "tiny", resize_mode="letterbox"), "cpu")


@pytest.fixture(scope="module")
def chest(shared_data, tmp_path_factory):
    """A real chest radiograph (Kermany et al. 2018, CC BY 4.0), shrunk to 300 x 240-ish for speed."""
    from PIL import Image

    src = sorted((shared_data / "samples" / "chest-xray-fullres" / "PNEUMONIA").glob("*.jpeg"))[0]
    img = Image.open(src).convert("L")
    img.thumbnail((300, 300))
    path = tmp_path_factory.mktemp("chest") / "chest.png"
    img.save(path)
    return load_image(path)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_every_method_gives_a_heatmap_at_the_original_size(predictor, chest, method):
    prediction = predictor.predict(chest, cam_method=method)
    heat = prediction.heatmap
    assert heat.shape == chest.shape
    assert heat.dtype == np.float32
    assert float(heat.min()) >= 0.0 and float(heat.max()) <= 1.0
    assert float(heat.max()) > 0.9, "min-max scaled CAM must reach (near) 1 somewhere"
    assert float(heat.std()) > 0.01, "a constant heatmap explains nothing"
    assert prediction.cam_method == method
    assert prediction.cam_label == prediction.label
    assert prediction.timings_ms["cam"] > 0


def test_cam_pass_gives_the_same_probabilities_as_plain_inference(predictor, chest):
    plain = predictor.predict(chest, cam_method=None)
    with_cam = predictor.predict(chest, cam_method="gradcam")
    for label, p in plain.probabilities.items():
        assert with_cam.probabilities[label] == pytest.approx(p, abs=1e-5)
    assert plain.heatmap is None and plain.timings_ms["cam"] is None


def _reference_gradcam(model, x, layer_name, class_index):
    """Grad-CAM by hand of the class's log-odds y = z_c - logsumexp(other z) (for two classes the logit margin):
    ReLU(sum_k mean(dy/dA_k) * A_k), min-max scaled, resized like pytorch-grad-cam."""
    store = {}
    layer = model.get_submodule(layer_name)
    handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    with torch.enable_grad():
        x = x.clone().requires_grad_(True)
        logits = model(x)
        activations = store["a"]
        others = torch.cat([logits[0, :class_index], logits[0, class_index + 1:]])
        grads = torch.autograd.grad(logits[0, class_index] - torch.logsumexp(others, 0), activations)[0]
    handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(1))[0].detach().numpy()
    cam = cam - cam.min()
    cam = cam / (cam.max() + 1e-7)
    return cv2.resize(cam.astype(np.float32), (x.shape[-1], x.shape[-2]))


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen-params", "trainable-params"])
def test_adapter_matches_a_hand_computed_gradcam(frozen):
    torch.manual_seed(0)
    model = build_model("compact_cnn", 2).eval()
    model.requires_grad_(not frozen)
    x = torch.randn(1, 1, 64, 64)
    result = compute_cam(model, x, default_cam_layer("compact_cnn"), "gradcam", target=1)
    expected = _reference_gradcam(model, x, default_cam_layer("compact_cnn"), 1)
    np.testing.assert_allclose(result.heatmaps[0], expected, atol=1e-4)
    with torch.inference_mode():
        torch.testing.assert_close(result.logits, model(x))
    assert result.target_indices == [1]


def test_target_chooser_sees_the_logits_and_batches_work():
    torch.manual_seed(0)
    model = build_model("compact_cnn", 3).eval().requires_grad_(False)
    x = torch.randn(4, 1, 64, 64)
    result = compute_cam(model, x, default_cam_layer("compact_cnn"), "gradcam++",
                         target=lambda row: int(torch.argmin(row)))
    with torch.inference_mode():
        expected = model(x).argmin(dim=1).tolist()
    assert result.target_indices == expected
    assert result.heatmaps.shape == (4, 64, 64)


def test_works_when_called_under_no_grad_or_inference_mode():
    torch.manual_seed(0)
    model = build_model("compact_cnn", 2).eval().requires_grad_(False)
    x = torch.randn(1, 1, 64, 64)
    reference = compute_cam(model, x, "features.block5", "gradcam", target=0).heatmaps
    with torch.no_grad():
        under_no_grad = compute_cam(model, x, "features.block5", "gradcam", target=0).heatmaps
    with torch.inference_mode():
        under_inference = compute_cam(model, torch.randn(1, 1, 64, 64).copy_(x), "features.block5", "gradcam",
                                      target=0).heatmaps
    np.testing.assert_allclose(under_no_grad, reference, atol=1e-6)
    np.testing.assert_allclose(under_inference, reference, atol=1e-6)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "compact_cnn"])
def test_gradcam_runs_on_every_architecture(arch):
    torch.manual_seed(0)
    model = build_model(arch, 2).eval().requires_grad_(False)
    result = compute_cam(model, torch.randn(1, 1, 96, 96), default_cam_layer(arch), "gradcam")
    assert result.heatmaps.shape == (1, 96, 96)
    assert float(result.heatmaps.max()) > 0.9 and float(result.heatmaps.std()) > 0.01
    assert not any(p.grad is not None for p in model.parameters())


def test_unknown_method_is_refused(tmp_path):
    model = load_bundle(make_tiny_bundle(tmp_path / "m")).build()
    with pytest.raises(UnknownCamMethodError, match="gradcam"):
        compute_cam(model, torch.zeros(1, 1, 64, 64), "features.block5", "scorecam")


@pytest.mark.parametrize("frozen,power", [(True, 1.0), (False, 1.0), (True, 2.0)],
                         ids=["frozen-params", "trainable-params", "target-squared"])
def test_detail_layer_multiplies_the_two_layers_maps(frozen, power):
    """The card's cam.detail_layer: the heatmap is the product of the target layer's Grad-CAM (to the card's
    cam.target_power) and the detail layer's (each min-max scaled at the input size), scaled again, from one
    forward and backward pass."""
    torch.manual_seed(0)
    model = build_model("compact_cnn", 2).eval()
    model.requires_grad_(not frozen)
    x = torch.randn(1, 1, 64, 64)
    coarse = _reference_gradcam(model, x, "features.block5", 1)  # 2 x 2 grid
    fine = _reference_gradcam(model, x, "features.block4", 1)  # 4 x 4 grid
    product = coarse ** power * fine
    expected = (product - product.min()) / (product.max() - product.min() + 1e-7)
    result = compute_cam(model, x, "features.block5", "gradcam", target=1, detail_layer="features.block4",
                         target_power=power)
    np.testing.assert_allclose(result.heatmaps[0], expected, atol=1e-4)
    assert not np.allclose(result.heatmaps[0], coarse, atol=0.05), "the fused map must differ from the coarse one"
    with torch.inference_mode():
        torch.testing.assert_close(result.logits, model(x))


def test_predictor_draws_the_cards_detail_layer(tmp_path, chest):
    """Same weights (same seed), one card with a detail layer: the viewer's heatmap is the fused one."""
    plain = Predictor(make_tiny_bundle(tmp_path / "plain"), "cpu")
    fused = Predictor(make_tiny_bundle(tmp_path / "fused", card_overrides={
        "cam": {"target_layer": "features.block5", "detail_layer": "features.block4", "default_method": "gradcam"}}),
        "cpu")
    assert plain.cam_detail_layer is None and fused.cam_detail_layer == "features.block4"
    got = fused.predict(chest, cam_method="gradcam")
    expected = compute_cam(fused.model, fused.preprocess(chest), "features.block5", "gradcam",
                           target=fused.bundle.labels.index(got.cam_label), detail_layer="features.block4")
    assert got.heatmap.shape == chest.shape
    at_model_size = cv2.resize(got.heatmap, expected.heatmaps[0].shape[::-1], interpolation=cv2.INTER_AREA)
    assert float(np.corrcoef(at_model_size.ravel(), expected.heatmaps[0].ravel())[0, 1]) > 0.95
    plain_map = plain.predict(chest, cam_method="gradcam").heatmap
    assert float(np.abs(plain_map - got.heatmap).mean()) > 0.02, "same weights, other layers: the maps differ"


def test_a_detail_layer_the_model_lacks_is_a_card_error(tmp_path):
    from inference.errors import ModelCardInvalidError

    with pytest.raises(ModelCardInvalidError, match="cam.detail_layer 'features.block9' is not a layer"):
        make_tiny_bundle(tmp_path / "m", card_overrides={
            "cam": {"target_layer": "features.block5", "detail_layer": "features.block9"}})
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir()), "no half-written bundle"

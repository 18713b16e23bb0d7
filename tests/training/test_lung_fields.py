"""Lung-field masks and the Grad-CAM lung check, on real chest X-rays from ../shared/data."""
import numpy as np
import pytest

from inference.image_io import load_image
from training.lung_fields import atlas_mask, body_mask, build_atlas, lung_field_mask, mass_inside

# Normal chest X-rays whose lungs the segmenter outlines (checked by eye on a contact sheet).
OUTLINED = ["IM-0115-0001.jpg", "IM-0117-0001.jpg", "IM-0119-0001.jpg", "IM-0127-0001.jpg"]


def _normal(shared_data, name):
    return load_image(shared_data / "chest-xray-pneumonia" / "train" / "NORMAL" / name).render()


@pytest.mark.parametrize("name", OUTLINED)
def test_outlines_two_lungs_of_a_normal_chest(shared_data, name):
    display = _normal(shared_data, name)
    result = lung_field_mask(display)
    assert result.ok, result.reason
    mask = result.mask
    height, width = mask.shape
    assert mask.shape == display.shape
    assert 0.18 <= mask.mean() <= 0.35  # two lungs, not the whole thorax
    left, right = mask[:, : width // 2].mean(), mask[:, width // 2:].mean()
    assert left > 0.1 and right > 0.1 and 0.6 <= left / right <= 1.6
    assert mask[: height // 20].sum() == 0 and mask[-height // 20:].sum() == 0  # below the neck, above the edge
    assert mask[height // 3: 2 * height // 3, width // 2 - 3: width // 2 + 3].mean() < 0.5  # mediastinum


def test_refuses_what_it_cannot_outline():
    assert lung_field_mask(np.full((300, 300), 0.5, np.float32)).reason == "a flat image"
    assert not lung_field_mask(np.zeros((10, 10), np.float32)).ok
    gradient = np.tile(np.linspace(0, 1, 256, dtype=np.float32), (256, 1))
    assert not lung_field_mask(gradient).ok  # no lungs in a ramp: reported, never guessed


def test_body_mask_excludes_the_background(shared_data):
    display = _normal(shared_data, OUTLINED[0])
    body = body_mask(display)
    assert 0.6 <= body.mean() <= 0.99
    lungs = lung_field_mask(display).mask
    assert body[lungs].mean() > 0.99  # the lungs are inside the patient


def test_atlas_and_mass_inside(shared_data):
    masks = [lung_field_mask(_normal(shared_data, n)).mask for n in OUTLINED]
    atlas = build_atlas(masks)
    assert atlas.min() >= 0 and atlas.max() == pytest.approx(1.0)
    lungs = atlas_mask(atlas, (224, 224))
    assert 0.15 <= lungs.mean() <= 0.35
    heat = lungs.astype(np.float32)
    assert mass_inside(heat, lungs) == pytest.approx(1.0)
    assert mass_inside(1.0 - heat, lungs) == pytest.approx(0.0)
    half = np.zeros((4, 4)); half[:, :2] = 1.0
    assert mass_inside(np.ones((4, 4)), half.astype(bool)) == pytest.approx(0.5)
    assert np.isnan(mass_inside(np.zeros((4, 4)), half.astype(bool)))


def test_cam_check_on_the_bundled_model(project_root, shared_data):
    from training.cam_check import check

    result = check(project_root / "resources" / "models" / "chest-xray-pneumonia",
                   shared_data / "chest-xray-pneumonia" / "train", limit=4, atlas_limit=12)
    assert result["label"] == "PNEUMONIA" and result["n_positive_cases"] == 4
    assert result["n_true_positives"] >= 3
    assert result["atlas_images"] >= 4
    assert 0.15 <= result["atlas_lung_area_share"] <= 0.4
    for key in ("atlas_lung_field_mass", "outside_patient_mass"):
        assert 0.0 <= result[key]["median"] <= 1.0
    assert result["n_empty_heatmaps"] == 0
    measured = result["n_true_positives"] - result["n_empty_heatmaps"]
    assert result["n_lungs_outlined"] + sum(result["segmentation_failures"].values()) == measured


def test_cam_limitation_follows_the_measurement():
    from training.cam_check import CAM_LIMITATION_PREFIX, limitation_text

    result = {"n_true_positives": 379, "split": "test", "atlas_lung_area_share": 0.26,
              "atlas_lung_field_mass": {"median": 0.81}, "share_mostly_inside_atlas": 0.97,
              "outside_patient_mass": {"median": 0.02}}
    focused = limitation_text(result)
    assert focused.startswith(CAM_LIMITATION_PREFIX) and "81%" in focused and "97%" in focused
    assert "not lung-focused" not in focused
    result["atlas_lung_field_mass"]["median"] = 0.30
    assert "not lung-focused" in limitation_text(result) and "30%" in limitation_text(result)

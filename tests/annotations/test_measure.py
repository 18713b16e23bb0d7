"""Measurements on a real radiograph (the bundled sample DICOM: 1024 x 959, ImagerPixelSpacing 0.28 mm):
lengths, angles, Cobb angle, cardiothoracic ratio and region statistics against values worked out by hand or
by brute force over the pixels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from annotations import Annotation, Calibration, measure, new_annotation
from annotations.measurements import calibration_of, region_values
from inference.image_io import load_image


@pytest.fixture(scope="module")
def sample(project_root):
    return load_image(project_root / "resources/samples/chest-pa-sample.dcm")


def test_calibration_comes_from_the_image_and_says_where_it_was_measured(sample):
    calibration = calibration_of(sample)
    assert calibration == Calibration(0.28, 0.28, "ImagerPixelSpacing")
    assert calibration.note == "calibrated at detector"
    assert Calibration(0.1, 0.1, "PixelSpacing").note == "calibrated in the patient"


def test_distance_in_mm_with_spacing_and_in_pixels_without():
    line = new_annotation("distance", [(10, 10), (40, 50)])
    assert measure(line, Calibration(0.5, 0.5)).lines == ("25.0 mm",)
    assert measure(line).lines == ("50.0 px (no pixel spacing)",)
    # anisotropic spacing: 30 px across at 0.2 mm and 40 px down at 0.3 mm = hypot(6, 12)
    assert measure(line, Calibration(0.3, 0.2)).values["length_mm"] == pytest.approx(math.hypot(6, 12))


def test_angle_and_cobb_angle():
    right_angle = new_annotation("angle", [(100, 0), (0, 0), (0, 50)])
    assert measure(right_angle).lines == ("90.0°",)
    thirty = new_annotation("angle", [(10, 0), (0, 0), (10 * math.cos(math.radians(30)), 10 * math.sin(math.radians(30)))])
    assert measure(thirty).values["angle_deg"] == pytest.approx(30.0)
    # Cobb: the angle between the two lines whichever way each was drawn (never above 90)
    tilt = math.radians(20)
    cobb = new_annotation("cobb", [(0, 0), (100, 0), (100 * math.cos(tilt), 100 * math.sin(tilt)), (0, 0)])
    assert measure(cobb).values["angle_deg"] == pytest.approx(20.0)
    assert measure(cobb).lines == ("Cobb 20.0°",)


def test_cardiothoracic_ratio_from_two_horizontal_widths():
    # thorax drawn first, heart second; the second end's row is snapped to its start's
    ctr = new_annotation("ctr", [(100, 400), (900, 410), (350, 500), (750, 520)])
    assert ctr.points[1][1] == 400 and ctr.points[3][1] == 500
    result = measure(ctr, Calibration(0.28, 0.28))
    assert result.values["ratio"] == pytest.approx(400 / 800)
    assert result.lines == ("CTR 0.50", "heart 112.0 mm / thorax 224.0 mm")
    swapped = new_annotation("ctr", [(350, 500), (750, 500), (100, 400), (900, 400)])
    assert measure(swapped).values["ratio"] == pytest.approx(0.5)


def test_rectangle_statistics_are_those_of_the_pixels_inside(sample):
    rect = new_annotation("rectangle", [(50, 60), (10, 20)])  # drawn bottom-right to top-left
    assert rect.points == ((10, 20), (50, 60))
    expected = sample.modality[20:60, 10:50].astype(np.float64)
    result = measure(rect, calibration_of(sample), sample.modality)
    assert result.values["pixels"] == 1600
    assert result.values["mean"] == pytest.approx(expected.mean())
    assert result.values["sd"] == pytest.approx(expected.std())
    assert (result.values["min"], result.values["max"]) == (expected.min(), expected.max())
    assert result.values["area_mm2"] == pytest.approx(40 * 40 * 0.28 * 0.28)
    assert result.lines[-1] == "area 125.4 mm²"
    assert expected.max() > expected.min()  # a real patch of the film, not a flat one


def test_ellipse_statistics_match_a_brute_force_pixel_walk(sample):
    x0, y0, x1, y1 = 400.3, 300.8, 520.6, 390.1
    ellipse = new_annotation("ellipse", [(x0, y0), (x1, y1)])
    a, b, xc, yc = (x1 - x0) / 2, (y1 - y0) / 2, (x0 + x1) / 2, (y0 + y1) / 2
    inside = [float(sample.modality[r, c]) for r in range(sample.height) for c in range(380, 540)
              if ((c + 0.5 - xc) / a) ** 2 + ((r + 0.5 - yc) / b) ** 2 <= 1]
    result = measure(ellipse, None, sample.modality)
    assert result.values["pixels"] == len(inside)
    assert result.values["mean"] == pytest.approx(np.mean(inside))
    assert result.values["sd"] == pytest.approx(np.std(inside))
    assert result.values["area_px2"] == pytest.approx(math.pi * a * b)
    assert "px² (no pixel spacing)" in result.lines[-1]


def test_polygon_region_and_padding_is_left_out(sample):
    triangle = Annotation("polygon", ((100, 100), (200, 100), (100, 200)))
    values = region_values(triangle, sample.modality)
    # pixel centres strictly below the hypotenuse x + y < 300 (centres at +0.5)
    expected = [sample.modality[r, c] for r in range(100, 200) for c in range(100, 200) if (c + 0.5) + (r + 0.5) < 300]
    assert len(values) == len(expected) and values.mean() == pytest.approx(np.mean(expected))
    padding = np.zeros(sample.modality.shape, dtype=bool)
    padding[100:150, :] = True
    assert len(region_values(triangle, sample.modality, padding)) < len(values)
    assert measure(triangle).values["area_px2"] == pytest.approx(5000.0)


def test_annotations_keep_their_shape_rules():
    with pytest.raises(ValueError, match="distance annotation has 2"):
        Annotation("distance", ((0, 0),))
    with pytest.raises(ValueError, match="unknown annotation kind"):
        Annotation("spline", ((0, 0), (1, 1)))
    ctr = new_annotation("ctr", [(0, 10), (100, 10), (20, 30), (80, 30)])
    moved = ctr.with_point(1, (120, 55))
    assert moved.points[1] == (120, 10)  # a width stays horizontal
    text = new_annotation("text", [(5, 6)], text="effusion?")
    assert measure(text).lines == ("effusion?",)

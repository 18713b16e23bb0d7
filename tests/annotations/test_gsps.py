"""Presentation states (GSPS) written and read back on real DICOM files, checked with dcmtk: dcmpschk validates
them, dcmdump shows what is inside, and dcmp2pgm renders the image through them, so the window, the polarity
and the rotation/flip are tested as another viewer applies them, not only by reading our own file back."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from annotations import Annotation, measure, new_annotation
from annotations.gsps import (
    PresentationStateError,
    ViewState,
    build_presentation_state,
    dicom_spatial,
    read_presentation_state,
    save_presentation_state,
)
from annotations.measurements import calibration_of
from inference.image_io import load_image
from inference.windowing import WindowPreset
from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array, widen_to_bits


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} (dcmtk) is missing: run scripts/install.sh"
    return path


@pytest.fixture(scope="module")
def sample_path(project_root) -> Path:
    return project_root / "resources/samples/chest-pa-sample.dcm"


@pytest.fixture(scope="module")
def sample(sample_path):
    return load_image(sample_path)


def every_kind() -> list[Annotation]:
    return [
        new_annotation("distance", [(100.25, 200.5), (700.75, 210.125)]),
        new_annotation("angle", [(300, 100), (350, 300), (500, 280)]),
        new_annotation("cobb", [(200, 400), (600, 430), (220, 600), (610, 560)]),
        new_annotation("ellipse", [(420, 380), (560, 470)]),
        new_annotation("rectangle", [(150, 650), (260, 720)]),
        new_annotation("ctr", [(120, 520), (900, 520), (380, 600), (720, 600)]),
        new_annotation("arrow", [(800, 100), (640, 260)], text="line tip"),
        new_annotation("text", [(60, 80)], text="R upper zone: consolidation"),
        Annotation("polygon", ((600, 700), (700, 700), (650, 790))),
        Annotation("point", ((512, 480),)),
    ]


def _labels(annotations, image):
    calibration = calibration_of(image)
    return {a.uid: measure(a, calibration, image.modality).lines for a in annotations}


def _same_annotations(read, written):
    assert [a.kind for a in read] == [a.kind for a in written]
    for got, expected in zip(read, written):
        np.testing.assert_allclose(got.points, expected.points, atol=1e-3)  # GraphicData is 32-bit float
        assert got.text == expected.text


def test_round_trip_of_every_kind_through_a_file(sample, tmp_path):
    annotations = every_kind()
    view = ViewState(window_center=110, window_width=180, window_name="LUNG", display_inverted=False, rotation=90,
                     flip_horizontal=True)
    state = build_presentation_state(sample.dataset, annotations, view, labels=_labels(annotations, sample),
                                     creator="Test^Reader", software_version="0.1.0")
    path = save_presentation_state(state, tmp_path, "chest-pa-sample")
    assert path.name == "chest-pa-sample.pr1.dcm"
    back = read_presentation_state(pydicom.dcmread(path), sample.dataset.SOPInstanceUID)
    _same_annotations(back.annotations, annotations)
    assert back.view == view
    assert back.referenced_sop_instance_uids == (sample.dataset.SOPInstanceUID,)
    assert back.creator == "Test^Reader" and back.foreign_objects == 0 and back.skipped == ()
    ds = pydicom.dcmread(path)
    assert ds.StudyInstanceUID == sample.dataset.StudyInstanceUID and ds.Modality == "PR"
    assert ds.PatientID == sample.dataset.PatientID
    # a second save never replaces the first
    assert save_presentation_state(state, tmp_path, "chest-pa-sample").name == "chest-pa-sample.pr2.dcm"


def test_dcmpschk_accepts_it_and_dcmdump_shows_the_measurements(sample, tmp_path):
    annotations = every_kind()
    state = build_presentation_state(sample.dataset, annotations, ViewState(110, 180, "LUNG"),
                                     labels=_labels(annotations, sample))
    path = save_presentation_state(state, tmp_path, "sample")
    check = subprocess.run([_tool("dcmpschk"), str(path)], capture_output=True, text=True, timeout=60)
    output = check.stdout + check.stderr
    assert check.returncode == 0 and "Test passed" in output and "E:" not in output, output
    dump = subprocess.run([_tool("dcmdump"), "-q", "+L", "+U8", str(path)], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    text = dump.stdout
    assert "GrayscaleSoftcopyPresentationStateStorage" in text
    assert sample.dataset.SOPInstanceUID in text
    for label in ("XRAYVIEW DISTANCE", "XRAYVIEW COBB", "XRAYVIEW CTR", "XRAYVIEW ELLIPSE", "R upper zone"):
        assert label in text
    distance_mm = measure(annotations[0], calibration_of(sample)).lines[0]
    assert distance_mm == "168.2 mm" and distance_mm in text  # the number travels with the graphics
    assert "ELLIPSE" in text and "POLYLINE" in text


def _dcmp2pgm(image_path: Path, state_path: Path, tmp_path: Path) -> np.ndarray:
    out = tmp_path / f"{state_path.stem}.pgm"
    done = subprocess.run([_tool("dcmp2pgm"), "-p", str(state_path), str(image_path), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return np.asarray(Image.open(out), dtype=np.int16)


def test_dcmtk_renders_our_window_and_spatial_transform(sample, sample_path, tmp_path):
    window = WindowPreset("LUNG", 110.0, 180.0)
    expected = np.rint(window.apply(sample.modality) * 255).astype(np.int16)
    for rotation, flip_h, flip_v, transform in (
            (0, False, False, lambda a: a),
            (90, False, False, lambda a: np.rot90(a, -1)),  # clockwise
            (90, True, False, lambda a: np.fliplr(np.rot90(a, -1))),  # the viewer rotates, then flips
            (270, False, True, lambda a: np.flipud(np.rot90(a, 1))),
            (180, True, True, lambda a: a)):
        state = build_presentation_state(sample.dataset, [], ViewState(110, 180, "LUNG", rotation=rotation,
                                                                       flip_horizontal=flip_h, flip_vertical=flip_v))
        path = save_presentation_state(state, tmp_path, f"r{rotation}{flip_h}{flip_v}")
        rendered = _dcmp2pgm(sample_path, path, tmp_path)
        wanted = transform(expected)
        assert rendered.shape == wanted.shape, (rotation, flip_h, flip_v)
        assert np.abs(rendered - wanted).max() <= 1, (rotation, flip_h, flip_v)
    assert dicom_spatial(90, True, False) == (True, 90) and dicom_spatial(90, False, True) == (True, 270)


def test_monochrome1_is_written_inverse_and_renders_like_its_monochrome2_twin(tmp_path, shared_data):
    source = sorted((shared_data / "samples/chest-xray-fullres/NORMAL").iterdir())[0]
    pixels = widen_to_bits(load_gray_image(source, 192), 12)
    paths = {}
    for photometric in ("MONOCHROME1", "MONOCHROME2"):
        paths[photometric] = make_dicom_from_array(pixels, tmp_path / f"{photometric}.dcm", bits_stored=12,
                                                   photometric=photometric, spacing=(0.2, 0.2),
                                                   spacing_tag="PixelSpacing")
    rendered = {}
    for photometric, path in paths.items():
        image = load_image(path)
        assert image.inverted is (photometric == "MONOCHROME1")
        view = ViewState(2048, 4096, display_inverted=image.inverted)  # what the viewer shows by default
        state = build_presentation_state(image.dataset, [], view)
        assert state.PresentationLUTShape == ("INVERSE" if image.inverted else "IDENTITY")
        rendered[photometric] = _dcmp2pgm(path, save_presentation_state(state, tmp_path, photometric), tmp_path)
        assert read_presentation_state(state).view.display_inverted is image.inverted
    assert np.abs(rendered["MONOCHROME1"] - rendered["MONOCHROME2"]).max() <= 1
    assert rendered["MONOCHROME2"].std() > 20  # a real picture


def test_graphics_from_another_viewer_come_back_as_shapes(sample):
    import highdicom as hd

    layer = hd.pr.GraphicLayer(layer_name="OTHER", order=1)

    def graphic(kind, data, units="PIXEL"):
        return hd.pr.GraphicObject(graphic_type=kind, graphic_data=np.asarray(data, dtype=float), units=units)

    objects = [graphic("POLYLINE", [(10, 10), (50, 10), (50, 40), (10, 10)]),  # closed: a region
               graphic("INTERPOLATED", [(100, 100), (150, 120), (200, 100)]),
               graphic("CIRCLE", [(300, 300), (330, 300)]),
               graphic("ELLIPSE", [(400, 400), (480, 480), (460, 420), (420, 460)]),  # rotated 45 degrees
               graphic("POLYLINE", [(0.5, 0.5), (0.75, 0.5)], units="DISPLAY")]
    texts = [hd.pr.TextObject(text_value="other viewer note", units="PIXEL", bounding_box=(20, 30, 200, 60))]
    annotation = hd.pr.GraphicAnnotation(referenced_images=[sample.dataset], graphic_layer=layer,
                                         graphic_objects=objects, text_objects=texts)
    state = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[sample.dataset], series_instance_uid=hd.UID(), series_number=1, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="Other", manufacturer_model_name="Other", software_versions="1",
        device_serial_number="", content_label="OTHER", graphic_annotations=[annotation], graphic_layers=[layer])
    back = read_presentation_state(state, sample.dataset.SOPInstanceUID)
    kinds = [a.kind for a in back.annotations]
    assert kinds == ["polygon", "polyline", "ellipse", "polygon", "polyline", "text"]
    assert back.annotations[0].points == ((10, 10), (50, 10), (50, 40))
    assert back.annotations[2].points == ((270, 270), (330, 330))
    rotated = np.asarray(back.annotations[3].points)
    assert np.allclose(rotated.mean(axis=0), (440, 440)) and len(rotated) == 48
    # DISPLAY units are fractions of the displayed area (the whole 1024 x 959 image here)
    np.testing.assert_allclose(back.annotations[4].points, [(512, 479.5), (768, 479.5)])
    assert back.annotations[5].text == "other viewer note" and back.annotations[5].points == ((20, 30),)
    assert back.foreign_objects == 6
    assert read_presentation_state(state, "1.2.3.4").annotations == ()  # another image: nothing applies


def test_unicode_text_switches_the_character_set(sample, tmp_path):
    note = new_annotation("text", [(10, 10)], text="肺炎? — check")
    state = build_presentation_state(sample.dataset, [note])
    assert state.SpecificCharacterSet == "ISO_IR 192"
    path = save_presentation_state(state, tmp_path, "unicode")
    assert read_presentation_state(pydicom.dcmread(path)).annotations[0].text == "肺炎? — check"


def test_not_a_presentation_state_or_not_an_image(sample, tmp_path):
    with pytest.raises(PresentationStateError, match="not a presentation state"):
        read_presentation_state(sample.dataset)
    header = pydicom.Dataset()
    header.SOPInstanceUID = "1.2.3"
    with pytest.raises(PresentationStateError, match="missing"):
        build_presentation_state(header, [])

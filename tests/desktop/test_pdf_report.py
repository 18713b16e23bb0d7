"""Issue 14.4 and 13.1/13.3 in the PDF: laid out like a radiology report (patient and study block, images cropped
to their content with the heatmap's colour bar, the AI result with its operating point and the set it was
measured on, external validation with CIs, the model block, limitations, a reader sign-off), flowing onto a second
page instead of clipping. Checked by reading the rendered PDF back with poppler (pdftotext -bbox, pdfimages,
pdftoppm): every field is there and every word lies inside its page."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array

LIMITATIONS = [f"Limitation number {i}: the model was only measured on the films described in its card, "
               f"and this sentence is long enough to wrap onto a second line of the report." for i in range(1, 31)]
LAST_LIMITATION = "Limitation number 30"
EXTERNAL = [{"dataset": "external-a", "set_sha256": "ab" * 32, "n": 312, "counts": {"NORMAL": 117, "PNEUMONIA": 195},
             "threshold": 0.5, "temperature": 1.0, "measured_utc": "2026-11-30T10:00:00Z",
             "command": "xrayview-eval --write-card", "metrics": [
                 {"name": "auc", "value": 0.9721, "dataset": "external-a", "split": "external validation", "n": 312,
                  "ci95": [0.955, 0.9855]},
                 {"name": "sensitivity", "value": 0.9949, "dataset": "external-a", "split": "external validation",
                  "threshold": 0.5, "n": 312, "ci95": [0.9717, 0.9991]},
                 {"name": "specificity", "value": 0.6923, "dataset": "external-a", "split": "external validation",
                  "threshold": 0.5, "n": 312, "ci95": [0.6037, 0.7686]}]}]


@pytest.fixture(autouse=True)
def audit_log(tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))


@pytest.fixture
def long_card_bundle(tmp_path):
    from tests.helpers.tiny_models import make_tiny_bundle

    return make_tiny_bundle(tmp_path / "long-card", card_overrides={
        "limitations": LIMITATIONS, "external_validation": EXTERNAL,
        "metrics": [{"name": "auc", "value": 0.9970189, "dataset": "Kermany et al. 2018 chest X-ray",
                     "split": "test (patient-grouped hold-out carved from the training folder)", "n": 522,
                     "ci95": [0.992435, 0.999389]}],
        "threshold_table": [{"threshold": 0.5, "sensitivity": 0.982, "specificity": 0.978,
                             "name": "operating point"}, {"threshold": 0.3, "sensitivity": 0.99, "specificity": 0.9}]})


@pytest.fixture
def study_dicom(tmp_path, chest_source) -> Path:
    """A real film with 40-px black margins left and right (as letterboxed exports have), and a full header."""
    film = load_gray_image(chest_source, 256)
    margin = np.zeros((film.shape[0], 40), dtype=film.dtype)
    return make_dicom_from_array(np.hstack([margin, film, margin]), tmp_path / "study.dcm",
                                 patient=("DOE^JANE", "PID-42"), extra={
                                     "PatientBirthDate": "19800101", "PatientSex": "F", "StudyDate": "20260315",
                                     "AccessionNumber": "ACC-7781", "InstitutionName": "St Example Hospital",
                                     "ReferringPhysicianName": "SMITH^ANNA"})


def _pages(pdf: Path) -> list[dict]:
    """Per page: its size and its words with their boxes (pdftotext -bbox)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    pages = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S):
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', page.group(3))]
        pages.append({"width": float(page.group(1)), "height": float(page.group(2)), "words": words,
                      "text": " ".join(w[4] for w in words).replace("&amp;", "&").replace("&#39;", "'")})
    return pages


def test_report_is_a_radiology_report_that_flows_onto_a_second_page(qtbot, make_window, long_card_bundle,
                                                                   study_dicom, tmp_path):
    window = make_window(long_card_bundle)
    window.set_heatmap_visible(True)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.open_path(str(study_dicom))
    pdf = window.export_pdf(tmp_path / "report.pdf")
    pages = _pages(pdf)
    assert len(pages) >= 2
    for page in pages:  # nothing drawn past a page's edge
        for x0, y0, x1, y1, word in page["words"]:
            assert 0 <= x0 and x1 <= page["width"] and 0 <= y0 and y1 <= page["height"], word
    first, text = pages[0]["text"], " ".join(p["text"] for p in pages)
    for value in ("DOE JANE", "PID-42", "1980-01-01", "46 years", "female", "2026-03-15", "ACC-7781",
                  "St Example Hospital", "SMITH ANNA"):
        assert value in first, value  # the patient and study block is on the first page
    assert first.index("DOE JANE") < first.index("AI result") < first.index("Model")
    for value in ("Reviewed by:", "Date:", "Signature:", "Device: cpu", "Limitations", "SHA-256",
                  "Page 2", "External validation on external set external-a, n=312",
                  "sensitivity 0.995 (95% CI 0.972-0.999) at 0.500", "Internal test",
                  "auc 0.997 (95% CI 0.992-0.999)", "specificity 0.978, measured on test"):
        assert value in text, value
    assert LAST_LIMITATION in " ".join(p["text"] for p in pages[1:])  # it flowed on instead of being cut
    assert text.index(LAST_LIMITATION) < text.index("Reviewed by:")
    assert "model attention (jet)" in text  # the overlay's colour bar
    from inference.bundle import load_bundle

    bundle = load_bundle(long_card_bundle)  # the report names the bundle by weights and by manifest (card too)
    assert f"Weights SHA-256: {bundle.sha256}" in text
    assert f"Bundle manifest SHA-256 (card + weights + guard): {bundle.manifest_sha256}" in text

    listing = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    sizes = [tuple(int(v) for v in line.split()[3:5]) for line in listing.splitlines()[2:]]
    assert sizes and all(width == 256 for width, _ in sizes), sizes  # cropped: no 40-px black margins
    assert len(sizes) >= 2  # the image and the overlay

    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    rendered = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("L"))
    assert (rendered < 10).mean() < 0.2  # no black boxes around the images


def test_png_report_says_it_has_no_patient_data(qtbot, make_window, tiny_bundle, chest_png, tmp_path):
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.open_path(str(chest_png))
    pages = _pages(window.export_pdf(tmp_path / "report.pdf"))
    text = " ".join(p["text"] for p in pages)
    assert "not a DICOM file: no patient/study data" in text and "Reviewed by:" in text


def test_content_box_crops_black_margins_only():
    from desktop.report_builder import content_box

    image = np.zeros((50, 80), dtype=np.float32)
    image[5:45, 10:70] = np.linspace(0.1, 1.0, 60, dtype=np.float32)[None, :]
    rows, columns = content_box(image)
    assert (rows.start, rows.stop, columns.start, columns.stop) == (5, 45, 10, 70)
    assert content_box(np.zeros((4, 4), dtype=np.float32)) == (slice(None), slice(None))


def _words_in(page: dict, box: tuple[float, float, float, float]) -> list[str]:
    x0, y0, x1, y1 = box
    return [w for a, b, c, d, w in page["words"] if a >= x0 and c <= x1 and b >= y0 and d <= y1]


def _yellow_fraction(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return float(((r > 200) & (g > 160) & (b < 140)).mean())


def test_report_shows_the_annotations_as_drawn_and_lists_each_measurement(qtbot, make_window, tiny_bundle,
                                                                          chest_dicom, tmp_path):
    """Issue 25.3: with a distance, an ellipse ROI, a CTR, an arrow and a text on the film, the PDF's "Image (as
    displayed)" panel had none of them and no measured value anywhere. Now the panel carries the shapes and their
    labels (read back by position with pdftotext -bbox, and as the annotation colour in the pdftoppm raster) and a
    list gives each measurement with the value and unit the viewer shows."""
    from tests.desktop.viewer_helpers import drag, open_and_wait

    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        open_and_wait(qtbot, window, chest_dicom)
    window.set_heatmap_visible(False)
    plain = _pages(window.export_pdf(tmp_path / "plain.pdf"))
    assert "Measurements and annotations" not in plain[0]["text"]
    view = window.view
    view.text_prompt = lambda title, text="": "consolidation?"
    for tool, strokes in (("distance", [((40, 30), (120, 30))]), ("ellipse", [((60, 70), (120, 120))]),
                          ("ctr", [((30, 140), (220, 140)), ((80, 160), (160, 160))]),
                          ("arrow", [((200, 40), (150, 90))]), ("text", [((170, 180), (170, 180))])):
        window.choose_tool(tool)
        for start, end in strokes:
            drag(view, start, end)
    kinds = [a.kind for a in view.annotations.items()]
    assert kinds == ["distance", "ellipse", "ctr", "arrow", "text"]
    pdf = window.export_pdf(tmp_path / "annotated.pdf")
    pages = _pages(pdf)
    text = " ".join(page["text"] for page in pages)
    shown = {a.kind: view.measurement(a).lines for a in view.annotations.items()}
    assert shown["distance"] == ("40.0 mm",)  # 80 px at 0.5 mm: the viewer's value and unit
    assert shown["ctr"][0] == "CTR 0.42"
    expected = {"distance": "Distance: 40.0 mm", "ctr": "Cardiothoracic Ratio: " + "; ".join(shown["ctr"]),
                "ellipse": "Ellipse ROI: " + "; ".join(shown["ellipse"]), "arrow": "Arrow: (no text)",
                "text": "Text: consolidation?"}
    listed = text[text.index("Measurements and annotations"):text.index("AI result")]
    for kind, line in expected.items():
        assert " ".join(line.split()) in listed, kind
    assert "mm at 0.5 x 0.5 mm/pixel (ImagerPixelSpacing, calibrated at detector)" in listed
    assert "mm²" in shown["ellipse"][-1] and " ".join(shown["ellipse"][-1].split()) in listed

    first = pages[0]
    caption = next((a, b) for a, b, c, d, w in first["words"] if w == "Image")
    image_box = (0, 0, first["width"] / 2, caption[1])  # the left picture, above its caption
    on_picture = _words_in(first, image_box)
    for word in ("40.0", "CTR", "0.42", "consolidation?", "mean", "area"):
        assert word in on_picture, (word, on_picture)  # the labels drawn on the image, as on screen
    assert on_picture.count("CTR") == 1  # written once (the outline is a path): copied text reads as written

    for name, source in (("plain", tmp_path / "plain.pdf"), ("annotated", pdf)):
        subprocess.run(["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-png", str(source), str(tmp_path / name)],
                       check=True)
    rasters = {name: np.asarray(Image.open(next(tmp_path.glob(f"{name}*.png"))).convert("RGB"))
               for name in ("plain", "annotated")}
    scale = rasters["annotated"].shape[1] / first["width"]
    x1, y1 = int(image_box[2] * scale), int(image_box[3] * scale)
    assert _yellow_fraction(rasters["plain"][:y1, :x1]) == 0.0
    assert _yellow_fraction(rasters["annotated"][:y1, :x1]) > 0.001  # the yellow measurement shapes

    view.text_prompt = lambda title, text="": "ask Jane Doe"  # what the reader typed may name the patient
    window.choose_tool("text")
    drag(view, (40, 60), (40, 60))
    window.settings.deidentify_exports = True
    scrubbed = " ".join(p["text"] for p in _pages(window.export_pdf(tmp_path / "deidentified.pdf")))
    assert "Text: ask [removed] [removed]" in scrubbed and "Doe" not in scrubbed and "Jane" not in scrubbed

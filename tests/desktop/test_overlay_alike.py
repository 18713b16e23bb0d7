"""Issue 14.6: one overlay function (inference.overlay.blend, colormap + opacity) for the screen, the PDF report
and the DICOM Secondary Capture: what is saved looks like what was seen. A real film and a tiny real model."""
from __future__ import annotations

import numpy as np
import pydicom
from PySide6.QtCore import QPointF

from desktop.qimage_convert import qimage_to_rgb_array
from inference.overlay import blend
from tests.desktop.viewer_helpers import view_pixels


def _predict(qtbot, window, path):
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as blocker:
        window.open_path(str(path))
    return blocker.args[0]


def test_screen_pdf_and_secondary_capture_show_the_same_overlay(qtbot, make_window, tiny_bundle, chest_png,
                                                                tmp_path, monkeypatch):
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    window = make_window(tiny_bundle)
    window.ai_panel.colormap_combo.setCurrentText("inferno")
    window.ai_panel.opacity_slider.setValue(70)
    window.set_heatmap_visible(True)
    prediction = _predict(qtbot, window, chest_png)
    assert prediction.heatmap is not None and prediction.heatmap.max() > 0.5
    expected = blend(window.image.render(), prediction.heatmap, "inferno", 0.7).astype(int)

    view = window.view
    view.set_corner_text_visible(False)
    view.actual_size()
    qtbot.wait(50)
    screen = view_pixels(window)
    top_left = view.mapFromScene(view.image_item().mapToScene(QPointF(0, 0)))
    rows, columns = expected.shape[:2]
    shown = screen[top_left.y():top_left.y() + rows, top_left.x():top_left.x() + columns].astype(int)
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).mean() < 2.0 and np.abs(shown - expected).max() <= 6  # Qt's own compositing

    from desktop.report_builder import build_report_content

    content = build_report_content(window.image, view, prediction, None, window.ai_panel.threshold,
                                   window.ai_session.state(window.active_viewport).call, "inferno", 0.7)
    from desktop.report_builder import content_box

    rows_kept, columns_kept = content_box(window.image.render())  # the PDF crops black margins off
    assert np.array_equal(qimage_to_rgb_array(content.overlay).astype(int), expected[rows_kept, columns_kept])

    sc_path = next(p for p in window.save_ai_dicom(tmp_path / "dicom") if p.name.startswith("SC_"))
    sc = pydicom.dcmread(sc_path).pixel_array.astype(int)
    # the SC enlarges a small source to 512 px wide: compare with the shared blend enlarged the same way
    from PIL import Image

    enlarged = np.asarray(Image.fromarray(expected.astype(np.uint8)).resize(
        (512, round(rows * 512 / columns)), Image.Resampling.BILINEAR)).astype(int)
    picture = sc[-enlarged.shape[0]:]
    assert np.abs(picture - enlarged).max() == 0
    jet = blend(window.image.render(), prediction.heatmap, "jet", 0.4).astype(int)
    assert np.abs(jet - expected).mean() > 3  # the old fixed jet/0.4 overlay would not pass the checks above

"""The AI side of the window with real (tiny) model bundles: model loading, results, threshold, heatmap overlay,
stale results when switching images, and the no-model start."""
from __future__ import annotations

import numpy as np
import pytest

from tests.desktop.viewer_helpers import open_and_wait, view_pixels


def test_starts_without_a_model_and_says_so(make_window, qtbot, chest_png):
    window = make_window()
    assert window.model_state == "none"
    assert "No AI model" in window.ai_panel.model_label.text()
    assert window.model_status_label.text() == "No AI model installed"
    open_and_wait(qtbot, window, chest_png)
    window.run_prediction()
    assert "No AI model" in window.ai_panel.status_label.text()


def test_model_loads_after_show_and_auto_runs(make_window, qtbot, tiny_bundle, chest_png):
    window = make_window(tiny_bundle)
    assert window.model_state == "ready"
    assert "tiny-test-model 0.0.1-test" in window.model_status_label.text()
    assert "cpu" in window.model_status_label.text()
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000) as blocker:
        open_and_wait(qtbot, window, chest_png)
    prediction = blocker.args[0]
    probs = prediction.probabilities
    assert set(probs) == {"NORMAL", "PNEUMONIA"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    bars = window.ai_panel._bars
    assert bars["PNEUMONIA"].value() == round(probs["PNEUMONIA"] * 1000)
    assert window.ai_panel.call_label.text() == prediction.label
    assert "ms on cpu" in window.ai_panel.time_label.text()
    assert prediction.heatmap.shape == window.image.modality.shape


def test_threshold_slider_changes_the_call_and_shows_card_rows(make_window, qtbot, tiny_bundle, chest_png):
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000) as blocker:
        open_and_wait(qtbot, window, chest_png)
    p_pos = blocker.args[0].probabilities["PNEUMONIA"]
    panel = window.ai_panel
    panel.set_threshold(max(0.0, p_pos - 0.01))
    assert panel.call_label.text() == "PNEUMONIA"
    panel.set_threshold(min(1.0, p_pos + 0.01))
    assert panel.call_label.text() == "NORMAL"
    panel.set_threshold(0.32)
    shown = [panel.threshold_table.item(r, 0).text() for r in range(panel.threshold_table.rowCount())]
    assert shown == ["0.100", "0.300", "0.500"]  # the card rows nearest 0.32
    assert panel.threshold_table.item(1, 1).text() == "0.760"  # sensitivity at 0.3 in the fixture card


def test_heatmap_overlay_toggle_and_opacity_change_the_drawing(make_window, qtbot, tiny_bundle, chest_png):
    window = make_window(tiny_bundle)
    window.set_heatmap_visible(True)
    window.ai_panel.opacity_slider.setValue(80)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        open_and_wait(qtbot, window, chest_png)
    view = window.view
    view.set_corner_text_visible(False)
    item = view.heatmap_item()
    assert item is not None and item.parentItem() is view.image_item()  # moves with the image
    with_heatmap = view_pixels(window)
    window.set_heatmap_visible(False)
    assert not item.isVisible()
    without = view_pixels(window)
    coloured = np.abs(with_heatmap - without).sum(axis=2) > 30
    assert coloured.mean() > 0.05  # the overlay visibly tints part of the image
    without_gray_spread = np.abs(without[..., 0] - without[..., 2]).max()
    assert without_gray_spread == 0  # the radiograph alone is gray
    window.set_heatmap_visible(True)
    window.ai_panel.opacity_slider.setValue(20)
    assert item.opacity() == pytest.approx(0.2)
    faint = view_pixels(window)
    assert np.abs(faint - without).sum() < np.abs(with_heatmap - without).sum() * 0.5
    assert window.settings.overlay_opacity == pytest.approx(0.2)
    # aligned under rotation: heatmap stays a child, so the overlay rotates with the image
    view.rotate_by(90)
    assert item.sceneBoundingRect() == view.image_item().sceneBoundingRect()


def test_switching_images_mid_prediction_never_shows_the_stale_result(make_window, qtbot, slow_bundle,
                                                                      chest_png, chest_dicom):
    window = make_window(slow_bundle)
    shown = []
    window.prediction_shown.connect(lambda p: shown.append((window.image.path, p)))
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_path(str(chest_png))
    qtbot.waitUntil(lambda: window.ai_panel.status_label.text() == "Analyzing…", timeout=5000)
    # the PNG's prediction is running (400 ms forward); open the DICOM now
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        open_and_wait(qtbot, window, chest_dicom)
    qtbot.wait(1200)  # long enough for the PNG's stale result to have arrived, had it not been discarded
    assert len(shown) == 1
    path, prediction = shown[0]
    assert path.name == "chest.dcm"
    assert window.prediction is prediction
    assert prediction.heatmap.shape == window.image.modality.shape


def test_cam_method_change_reruns_with_that_method(make_window, qtbot, tiny_bundle, chest_png):
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        open_and_wait(qtbot, window, chest_png)
    combo = window.ai_panel.cam_combo
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000) as blocker:
        combo.setCurrentIndex(combo.findData("eigencam"))
    assert blocker.args[0].cam_method == "eigencam"
    assert window.settings.cam_method == "eigencam"


def test_switching_model_reruns_the_image_on_the_new_model(make_window, qtbot, tiny_bundle, slow_bundle, chest_png):
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        open_and_wait(qtbot, window, chest_png)
    shown = []
    window.prediction_shown.connect(shown.append)
    window.settings.model_path = str(slow_bundle)
    window.settings.user_models_dir = str(slow_bundle.parent)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000) as blocker:
        window.apply_settings(model_changed=True)
    assert blocker.args[0].model["name"] == "slow-test-model"
    assert "slow-test-model" in window.model_status_label.text()
    qtbot.wait(300)
    assert [p.model["name"] for p in shown] == ["slow-test-model"]


def test_threshold_table_shows_every_column_and_row_at_the_default_dock_width(make_window, qtbot, tmp_path):
    """Issue 25.10: at the default dock width the table's "Measured on" column lay outside its view (a horizontal
    scroll bar, the names cut to "in" and "Ke"). Geometry: every column lies inside the table's viewport, each
    cell's text fits its cell (wrapped), and every row is visible."""
    from PySide6.QtCore import QRect, Qt

    from tests.helpers.tiny_models import make_tiny_bundle

    external = [{"dataset": "Kermany test half A", "set_sha256": "ab" * 32, "n": 312,
                 "counts": {"NORMAL": 117, "PNEUMONIA": 195}, "threshold": 0.333333, "temperature": 1.36,
                 "measured_utc": "2026-12-01T21:33:18Z", "metrics": [
                     {"name": name, "value": value, "dataset": "Kermany test half A", "split": "external",
                      "threshold": 0.333333, "n": 312, "ci95": [value - 0.04, value + 0.03]}
                     for name, value in (("sensitivity", 0.959), ("specificity", 0.915))]}]
    bundle = make_tiny_bundle(tmp_path / "card-with-external", card_overrides={
        "external_validation": external, "threshold": 0.333333,
        "threshold_table": [{"threshold": t, "sensitivity": 0.9, "specificity": 0.95} for t in (0.3, 0.333333, 0.4)]})
    window = make_window(bundle)
    window.resize(1400, 900)  # the window's own default size
    qtbot.wait(50)
    table = window.ai_panel.threshold_table
    assert table.rowCount() == 4
    header, viewport = table.horizontalHeader(), table.viewport()
    assert not table.horizontalScrollBar().isVisible()
    metrics = table.fontMetrics()
    for column in range(table.columnCount()):
        left, width = header.sectionViewportPosition(column), header.sectionSize(column)
        assert left >= 0 and left + width <= viewport.width(), column  # inside the view, nothing to scroll to
        title = table.horizontalHeaderItem(column).text()
        assert header.fontMetrics().horizontalAdvance(title) <= width, title
        for row in range(table.rowCount()):
            text = table.item(row, column).text()
            longest_word = max(metrics.horizontalAdvance(word) for word in text.split())
            assert longest_word <= width - 4, text  # no word cut at the side
            needed = metrics.boundingRect(QRect(0, 0, width - 8, 10_000), int(Qt.TextFlag.TextWordWrap), text)
            assert needed.height() <= table.rowHeight(row), text  # no line cut at the bottom
    assert table.item(3, 3).text() == "external: Kermany test half A"
    rows_height = sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert viewport.height() >= rows_height  # every row in view


@pytest.fixture(scope="module")
def margin_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle with a call margin in its card: 0.4 log-odds at twice its temperature."""
    import json

    from inference.bundle import load_bundle, rewrite_bundle

    bundle = load_bundle(tiny_bundle)
    card = json.loads(json.dumps(bundle.card))
    card["call_margin"] = {"half_width_log_odds": 0.4, "temperature": 2 * bundle.temperature, "quantile": 0.99,
                           "measured_on": "the 'val' split of the bundle's data manifest", "n": 522,
                           "changes": ["noise_1", "jpeg_75_model"], "measured_utc": "2026-12-06T02:00:00Z"}
    bundle_copy = tmp_path_factory.mktemp("margin") / "tiny-margin"
    rewrite_bundle(bundle, card, out_dir=bundle_copy)
    return bundle_copy


def test_a_call_near_the_threshold_is_marked_on_the_panel_and_in_the_report(make_window, qtbot, margin_bundle,
                                                                            chest_png):
    import math

    from desktop.model_card_dialog import card_html
    from desktop.report_builder import build_report_content
    from inference.model_card import read_card

    card = read_card(margin_bundle)

    window = make_window(margin_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000) as blocker:
        open_and_wait(qtbot, window, chest_png)
    prediction = blocker.args[0]
    assert prediction.call_margin == pytest.approx(0.8)  # measured at twice the bundle's temperature
    p = prediction.probabilities["PNEUMONIA"]
    panel = window.ai_panel

    def at_log_odds_distance(distance: float) -> float:  # the threshold `distance` log-odds below p
        z = math.log(p) - math.log1p(-p) - distance
        return 1.0 / (1.0 + math.exp(-z))

    panel.set_threshold(at_log_odds_distance(0.3))
    assert panel.call_label.text() == "PNEUMONIA (near the threshold)" and panel.call_label.property("near")
    assert not panel.near_label.isHidden() and "Read it as undecided" in panel.near_label.text()
    assert "Read it as undecided" in panel.call_label.toolTip()
    state = window.ai_session.state(window.active_viewport)
    content = build_report_content(window.image, window.view, prediction, card,
                                   panel.threshold, state.call, "jet", 0.5)
    assert content.call == "PNEUMONIA (near the threshold)"
    assert any("Near the threshold" in notice for notice in content.notices)

    panel.set_threshold(at_log_odds_distance(1.5))
    assert panel.call_label.text() == "PNEUMONIA" and panel.near_label.isHidden()
    assert not panel.call_label.property("near")
    state = window.ai_session.state(window.active_viewport)
    content = build_report_content(window.image, window.view, prediction, card,
                                   panel.threshold, state.call, "jet", 0.5)
    assert not any("Near the threshold" in notice for notice in content.notices)
    assert "Calls near the threshold" in card_html(card)

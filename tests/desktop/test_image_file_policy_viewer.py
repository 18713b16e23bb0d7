"""The viewer follows the one image-file policy (inference.image_files): its folder panel and Analyze Folder list
the same files as xrayview-predict and the training datasets (tests/test_image_file_policy.py)."""
from __future__ import annotations

from tests.test_image_file_policy import EXPECTED, bounded, make_mixed_folder, names


def test_folder_panel_lists_the_policys_images(qtbot, tmp_path):
    from desktop.folder_panel import FolderPanel

    folder = make_mixed_folder(tmp_path)
    panel = FolderPanel()
    qtbot.addWidget(panel)
    assert names(bounded(panel.set_folder, folder), folder) == EXPECTED
    panel.cancel()
    one_file = FolderPanel()  # a single file opened: its folder's images (not recursive) for PgDown/PgUp
    qtbot.addWidget(one_file)
    assert names(one_file.set_siblings(folder / "scan.ima"), folder) == [n for n in EXPECTED if "/" not in n]
    one_file.cancel()


def test_analyze_folder_runs_on_the_policys_images(make_window, qtbot, tiny_bundle, tmp_path):
    folder = make_mixed_folder(tmp_path)
    window = make_window(tiny_bundle, auto_run=False)
    dialog = window.analyze_folder(folder)
    with qtbot.waitSignal(dialog.analysis_finished, timeout=120_000) as blocker:
        pass
    assert blocker.args == ["finished"]
    shown = [dialog.model.item(r, 0).text() for r in range(dialog.model.rowCount())]
    assert sorted(shown) == EXPECTED
    assert all(dialog.model.item(r, dialog.model.columnCount() - 1).text() == "ok"
               for r in range(dialog.model.rowCount()))

"""The study browser: a folder, a DICOMDIR (written by pydicom's FileSet) or a PACS retrieve lists patient ->
study (date, description, accession) -> series -> images with thumbnails; plain PNG folders stay a list;
double-click opens; the image on screen is highlighted, and nothing stays highlighted after opening a file from
elsewhere; one opened file lists its folder, so PgDown steps through it."""
from __future__ import annotations

import shutil

import pydicom
import pytest
from PySide6.QtCore import Qt

from tests.desktop.test_layouts import patient_folder  # noqa: F401 - the fixture
from tests.desktop.viewer_helpers import open_and_wait


def _tree_texts(tree) -> list[tuple[int, str]]:
    rows = []

    def walk(item, depth):
        for i in range(item.childCount()):
            child = item.child(i)
            rows.append((depth, child.text(0)))
            walk(child, depth + 1)

    walk(tree.invisibleRootItem(), 0)
    return rows


def test_a_dicom_folder_lists_patients_studies_series_and_images(make_window, qtbot, patient_folder):  # noqa: F811
    folder, made = patient_folder
    window = make_window()
    panel = window.folder_panel
    with qtbot.waitSignal(panel.thumbnails_done, timeout=30_000):
        with qtbot.waitSignal(panel.index_ready, timeout=30_000):
            window.open_folder(folder)
    qtbot.waitUntil(lambda: window.image is not None, timeout=30_000)
    assert panel.showing_studies and "2 patient(s), 4 stud(ies), 5 image(s)" in panel.title.text()
    rows = _tree_texts(panel.tree)
    patients = [text for depth, text in rows if depth == 0]
    assert patients == ["ROE ANNA (PID-7, O, 1980-01-01)", "DOE OTTO (PID-8, O, 1980-01-01)"]
    studies = [text for depth, text in rows if depth == 1]
    assert studies[:3] == ["2024-01-15  XR CHEST 2024  Acc. A-2024", "2023-03-10  XR CHEST 2023  Acc. A-2023",
                           "2022-01-01  XR CHEST 2022  Acc. A-2022"]  # newest first
    series = [text for depth, text in rows if depth == 2]
    assert series[:2] == ["#1  DX  PA view  (1 image)", "#2  DX  LL view  (1 image)"]
    images = [text for depth, text in rows if depth == 3]
    assert images[0] == "Image 1  current.dcm"
    item = panel._tree_items[str(made["prior"])]
    assert not item.icon(0).isNull()  # thumbnail
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        panel.tree.itemActivated.emit(item, 0)  # double-click
    assert blocker.args[0].path == made["prior"]
    assert panel.tree.currentItem() is item  # the image on screen is highlighted
    # stepping follows the tree: after the 2023 study comes the 2022 one
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.actions_by_name["next_image"].trigger()
    assert blocker.args[0].path == made["older"] and panel.tree.currentItem() is panel._tree_items[str(made["older"])]
    # a study item opens its first image, and drags all of its images
    study_item = panel.tree.topLevelItem(0).child(0)
    mime = panel.tree.mimeData([study_item])
    assert [url.toLocalFile() for url in mime.urls()] == [str(made["current"]), str(made["current-lat"])]


def test_a_png_folder_stays_a_flat_list_with_middle_elided_names(make_window, qtbot, chest_png, tmp_path):
    folder = tmp_path / "pngs"
    folder.mkdir()
    names = [f"patient-follow-up-series-chest-radiograph-{i}.png" for i in range(9)]
    for name in names:
        shutil.copy(chest_png, folder / name)
    window = make_window()
    panel = window.folder_panel
    with qtbot.waitSignal(panel.index_ready, timeout=30_000):
        window.open_folder(folder)
    assert not panel.showing_studies
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == names
    assert panel.list.textElideMode() == Qt.TextElideMode.ElideMiddle  # the distinct ends stay visible
    assert panel.list.item(3).toolTip() == str(folder / names[3])  # the full name


def test_opening_a_file_from_elsewhere_leaves_no_stale_highlight(make_window, qtbot, chest_png, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        for name in ("one.png", "two.png", "three.png"):
            shutil.copy(chest_png, folder / name)
    window = make_window()
    panel = window.folder_panel
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_folder(first)
    assert panel.list.currentItem().data(Qt.ItemDataRole.UserRole) == str(first / "one.png")
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_paths([second / "two.png"])  # e.g. File > Open or the command line
    assert panel.folder == second
    assert panel.list.currentItem().data(Qt.ItemDataRole.UserRole) == str(second / "two.png")
    assert all(str(first) not in str(path) for path in panel.paths())
    panel.select_path(tmp_path / "elsewhere.png")
    assert panel.list.currentItem() is None and not panel.list.selectedItems()


def test_one_opened_file_lists_its_folder_so_pgdown_steps(make_window, qtbot, chest_png, tmp_path):
    folder = tmp_path / "films"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(chest_png, folder / name)
    (folder / "notes.txt").write_text("not an image")
    window = make_window()
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_paths([folder / "b.png"])  # as Ctrl+O or `xrayview FILE` do
    assert window.folder_panel.paths() == [folder / "a.png", folder / "b.png", folder / "c.png"]
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.actions_by_name["next_image"].trigger()  # PgDown
    assert blocker.args[0].path == folder / "c.png"
    with qtbot.waitSignal(window.image_shown, timeout=30_000) as blocker:
        window.actions_by_name["previous_image"].trigger()
    assert blocker.args[0].path == folder / "b.png"


def test_a_dicomdir_opens_as_studies(make_window, qtbot, patient_folder, tmp_path):  # noqa: F811
    from pydicom.fileset import FileSet

    folder, made = patient_folder
    file_set = FileSet()
    for path in made.values():
        file_set.add(pydicom.dcmread(path))
    media = tmp_path / "cdrom"
    file_set.write(media)  # a real DICOMDIR and its files, as on a patient CD
    assert (media / "DICOMDIR").is_file()
    window = make_window()
    with qtbot.waitSignal(window.folder_panel.index_ready, timeout=30_000):
        window.open_paths([media / "DICOMDIR"])
    qtbot.waitUntil(lambda: window.image is not None, timeout=30_000)
    panel = window.folder_panel
    assert panel.showing_studies and "(DICOMDIR)" in panel.title.text()
    assert "5 image(s)" in panel.title.text()
    assert window.image.path.is_relative_to(media)


def test_what_pacs_retrieved_lists_as_studies(make_window, qtbot, patient_folder):  # noqa: F811
    folder, made = patient_folder
    window = make_window()
    next(a for a in window.tools_menu.actions() if a.objectName() == "pacs_query").trigger()
    with qtbot.waitSignal(window.folder_panel.index_ready, timeout=30_000):
        window.tool_dialog("pacs").filesRetrieved.emit([str(made["prior"]), str(made["older"])])  # a finished C-GET
    window.tool_dialog("pacs").close()
    rows = _tree_texts(window.folder_panel.tree)
    assert [text for depth, text in rows if depth == 1] == ["2023-03-10  XR CHEST 2023  Acc. A-2023",
                                                            "2022-01-01  XR CHEST 2022  Acc. A-2022"]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_file_in_a_study_folder_does_not_stop_the_index(make_window, qtbot, patient_folder, damage):  # noqa: F811
    folder, made = patient_folder
    bad = folder / "PID-7" / "broken.dcm"
    data = made["prior"].read_bytes()
    bad.write_bytes(data[:400] if damage == "truncated" else b"DICM" + b"\xff" * 300)
    window = make_window()
    with qtbot.waitSignal(window.folder_panel.index_ready, timeout=30_000) as blocker:
        window.open_folder(folder)
    index = blocker.args[0]
    assert len(index.studies()) == 4  # every good study is still there
    assert bad in index.other_images or bad in index.unreadable

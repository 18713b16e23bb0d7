"""View > Overlay Planes draws the DICOM overlay plane (60xx) of pydicom's test files over the picture, where
the plane says, and the toggle hides it."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from desktop.overlay_layer import COLOUR, overlay_item
from inference.overlay_planes import overlay_planes
from tests.desktop.viewer_helpers import open_and_wait


def _file(name: str):
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name}: pydicom's test corpus is missing (pip install pydicom-data, a dev dependency)"
    return path


@pytest.mark.parametrize("name", ["examples_overlay.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm"])
def test_planes_are_placed_where_the_file_says(name):
    full = pydicom.dcmread(_file(name))
    expected = full.overlay_array(0x6000).astype(bool)  # pydicom's own decoding of the plane (origin 1\1)
    header = pydicom.dcmread(_file(name), stop_before_pixels=True)
    (plane,), problems = overlay_planes(header, (full.Rows, full.Columns))
    assert problems == [] and plane.kind == "G"
    np.testing.assert_array_equal(plane.mask, expected)
    assert plane.mask.sum() == {"examples_overlay.dcm": 222, "MR-SIEMENS-DICOM-WithOverlays.dcm": 323}[name]
    header[0x60000050].value = [11, 21]  # moved 10 rows down, 20 columns right: shifted, cut at the edge
    (moved,), _ = overlay_planes(header, (full.Rows, full.Columns))
    np.testing.assert_array_equal(moved.mask[10:, 20:], expected[:-10, :-20])


def test_view_menu_toggle_draws_and_hides_the_plane(qtbot, make_window):
    window = make_window()
    action = window.actions_by_name["overlay_planes"]
    names = [a.objectName() for a in window.menus["view"].actions()]
    assert names[names.index("corner_text") + 1] == "overlay_planes" and action.isChecked()
    open_and_wait(qtbot, window, _file("examples_overlay.dcm"))
    item = overlay_item(window.view)
    assert item is not None and item.isVisible()
    drawn = item.pixmap().toImage()
    pixels = np.array([[drawn.pixelColor(x, y).alpha() for x in range(drawn.width())]
                       for y in range(drawn.height())])
    expected = pydicom.dcmread(_file("examples_overlay.dcm")).overlay_array(0x6000).astype(bool)
    np.testing.assert_array_equal(pixels == 255, expected)
    assert drawn.pixelColor(*np.argwhere(expected)[0][::-1]).getRgb() == COLOUR
    action.trigger()
    assert not action.isChecked() and not overlay_item(window.view).isVisible()
    assert window.settings.overlay_planes_visible is False  # kept for the next start
    open_and_wait(qtbot, window, _file("MR_small.dcm"))  # no overlay: nothing drawn
    assert overlay_item(window.view) is None

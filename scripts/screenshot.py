"""Starts the viewer (real window, X11 via Xvfb: see scripts/screenshot.sh) on the bundled sample image, waits
for the AI result (or, with no model installed, for the image), and saves a screenshot of the main window.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot.py [--model DIR] [--out PNG]

With --compare PRIOR_IMAGE it shows the "Compare with prior" layout instead: the bundled sample DICOM as today's
study and PRIOR_IMAGE (another real film, given the sample's demo patient and an earlier date, so the two are a
demonstration pair, not one child's films) opened beside it by Layout > Compare with Prior, with
synchronised window/level and a cardiothoracic ratio, a distance, a region and an arrow drawn by the tools.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="model bundle folder (default: the shipped default model, if any)")
    parser.add_argument("--image", default=str(ROOT / "resources/samples/chest-pa-sample.dcm"),
                        help="default: the bundled sample as DICOM (same pixels as the PNG, with metadata)")
    parser.add_argument("--no-measure", action="store_true", help="do not draw the demonstration measurement")
    parser.add_argument("--out", default=str(ROOT / "docs/screenshot.png"))
    parser.add_argument("--size", default="1500x920")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--compare", metavar="PRIOR_IMAGE", help="a second film, shown as the prior study")
    args = parser.parse_args()
    if args.compare:
        return compare_screenshot(args)

    tmp = Path(tempfile.mkdtemp(prefix="xrayview-shot-"))
    os.environ["XRAYVIEW_DATA_DIR"] = str(tmp / "data")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from desktop.theme import apply_theme

    app = QApplication([sys.argv[0]])
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))  # never the user's
    settings.theme = "dark"
    settings.device = "cpu"
    settings.overlay_opacity = 0.4
    if args.model:
        settings.model_path = str(Path(args.model).resolve())
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    outcome = {"code": 1}

    def shoot() -> None:
        pixmap = window.grab()
        if pixmap.save(args.out, "PNG"):
            print(f"saved {args.out} ({pixmap.width()}x{pixmap.height()}); model state: {window.model_state}")
            outcome["code"] = 0
        app.quit()

    def after_result(_=None) -> None:
        if not args.no_measure and window.image is not None and not window.view.measurement_labels():
            from PySide6.QtCore import QPointF

            height, width = window.image.modality.shape
            # a horizontal line across the thorax at mid-height, to show the distance tool
            window.view.add_measurement(QPointF(width * 0.17, height * 0.62), QPointF(width * 0.84, height * 0.62))
        QTimer.singleShot(800, shoot)  # let the heatmap and panels paint

    window.prediction_shown.connect(after_result)
    window.image_shown.connect(lambda _: window.model_state in ("none", "failed") and after_result())
    window.model_state_changed.connect(lambda state: state in ("none", "failed") and window.image is not None
                                       and after_result())
    QTimer.singleShot(0, lambda: window.open_path(args.image))
    QTimer.singleShot(int(args.timeout * 1000), lambda: (print("timed out waiting for the result"), app.quit()))
    app.exec()
    return outcome["code"]


def _demo_study(prior_image: Path, folder: Path) -> tuple[Path, Path]:
    """Today's study (the bundled sample) and a prior made from `prior_image` for the same demo patient."""
    import shutil

    from tests.helpers.dicom_factory import load_gray_image, make_dicom_from_array

    current = Path(shutil.copy(ROOT / "resources/samples/chest-pa-sample.dcm", folder / "current.dcm"))
    prior = make_dicom_from_array(
        load_gray_image(prior_image, size=1024), folder / "prior.dcm", bits_stored=8, modality="DX",
        window=[(128, 256, "FULL RANGE")], spacing=(0.28, 0.28), spacing_tag="ImagerPixelSpacing",
        patient=("ANONYMOUS^SAMPLE", "SAMPLE0001"), body_part="CHEST", view_position="PA",
        extra={"StudyDate": "20230310", "SeriesDate": "20230310", "StudyDescription": "XR CHEST PA (demo prior)",
               "AccessionNumber": "ACC0000", "ImageComments": "Kermany et al. 2018, CC BY 4.0; modified. A different "
                                                              "child's film, paired with the sample for a demo."})
    return current, prior


def compare_screenshot(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="xrayview-shot-"))
    os.environ["XRAYVIEW_DATA_DIR"] = str(tmp / "data")
    (tmp / "study").mkdir()
    current, prior = _demo_study(Path(args.compare), tmp / "study")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from desktop.theme import apply_theme
    from tests.desktop.viewer_helpers import click, drag

    app = QApplication([sys.argv[0]])
    settings = AppSettings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    settings.theme, settings.device, settings.overlay_visible = "dark", "cpu", False
    if args.model:
        settings.model_path = str(Path(args.model).resolve())
    apply_theme(app, settings.theme)
    window = MainWindow(settings)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    outcome = {"code": 1, "results": 0}

    def shoot() -> None:
        pixmap = window.grab()
        if pixmap.save(args.out, "PNG"):
            print(f"saved {args.out} ({pixmap.width()}x{pixmap.height()}); model state: {window.model_state}")
            outcome["code"] = 0
        app.quit()

    def measure() -> None:
        left, right = window.grid.viewports()
        window.actions_by_name["sync_window"].trigger()
        for viewport, heart in ((left, (330, 700)), (right, (360, 680))):
            window.grid.set_active(viewport)
            view = viewport.view
            window.choose_tool("ctr")
            drag(view, (130, 610), (895, 610))
            drag(view, (heart[0], 640), (heart[1], 640))
        window.grid.set_active(left)
        view = left.view
        window.choose_tool("ellipse")
        drag(view, (250, 330), (400, 470))
        window.choose_tool("arrow")
        drag(view, (520, 250), (390, 380))
        window.choose_tool("distance")
        drag(view, (700, 180), (700, 330))
        window.choose_tool("select")
        wait_for_results()

    def wait_for_results() -> None:
        viewports = window.grid.viewports()
        if window.model_state in ("none", "failed") or \
                all(window.ai_session.state(v).prediction is not None for v in viewports):
            QTimer.singleShot(1000, shoot)  # let the panels and the lens-free view paint
        else:
            QTimer.singleShot(500, wait_for_results)

    state = {"compared": False}

    def on_image(image) -> None:
        if Path(image.path) == prior:
            QTimer.singleShot(500, measure)

    def on_index(_index) -> None:
        window.open_path(str(current))
        window.image_shown.connect(compare_once)

    def compare_once(image) -> None:
        if Path(image.path) == current and not state["compared"]:
            state["compared"] = True
            window.opener.compare_with_prior()

    window.image_shown.connect(on_image)
    window.folder_panel.index_ready.connect(on_index)
    QTimer.singleShot(0, lambda: window.open_folder(tmp / "study"))
    QTimer.singleShot(int(args.timeout * 1000), lambda: (print("timed out"), app.quit()))
    app.exec()
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())

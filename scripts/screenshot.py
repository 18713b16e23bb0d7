"""Starts the viewer (real window, X11 via Xvfb: see scripts/screenshot.sh) on the bundled sample image, waits
for the AI result (or, with no model installed, for the image), and saves a screenshot of the main window.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot.py [--model DIR] [--out PNG]
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    sys.exit(main())

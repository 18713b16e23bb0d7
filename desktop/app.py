"""`xrayview [PATH...]`: starts the viewer. The window is shown before anything heavy happens; torch and the
model load on a worker thread afterwards (see MainWindow.start_model_loading)."""
from __future__ import annotations

import argparse
import os
import sys
import time

PROCESS_START = time.perf_counter()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xrayview", description="Offline radiograph viewer with on-device AI "
                                                                   "(not for diagnostic use).")
    parser.add_argument("paths", nargs="*", help="image files or folders to open")
    parser.add_argument("--no-model", action="store_true", help="start without loading an AI model")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("QT_ENABLE_HIGHDPI_SCALING", "1")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop import error_reporting
    from desktop.settings import APPLICATION, ORGANIZATION, AppSettings
    from desktop.theme import apply_theme

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("XRayView")
    error_reporting.install_excepthook()
    settings = AppSettings()
    apply_theme(app, settings.theme)

    from desktop.main_window import MainWindow

    window = MainWindow(settings, load_model=not args.no_model)
    window.show()
    if args.paths:
        QTimer.singleShot(0, lambda: window.open_paths(args.paths))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

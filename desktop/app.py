"""`xrayview [PATH...]`: starts the viewer. The window is shown before anything heavy happens; torch and the
model load on a worker thread afterwards (see MainWindow.start_model_loading). The one module besides the window
itself that imports desktop.main_window (an import-linter contract says so)."""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xrayview", description="Offline radiograph viewer with on-device AI "
                                                                   "(not for diagnostic use).")
    parser.add_argument("paths", nargs="*", help="image files or folders to open")
    parser.add_argument("--no-model", action="store_true", help="start without loading an AI model")
    parser.add_argument("--model", metavar="DIR", help="model bundle folder to use (saved as the chosen model)")
    from inference.vocabulary import DEVICE_CHOICES

    parser.add_argument("--device", choices=DEVICE_CHOICES,
                        help="compute device (saved in the settings)")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation headless (decoders, bundled models, PDF report) and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:  # before any window exists: the self-test is headless
        from desktop.self_test import main as self_test_main

        return self_test_main()
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
    if args.model:
        settings.model_path = str(os.path.abspath(args.model))
    if args.device:
        settings.device = args.device
    apply_theme(app, settings.theme)

    from desktop.main_window import MainWindow

    window = MainWindow(settings, load_model=not args.no_model)
    window.show()
    from inference import decoder_sandbox

    # the image decoder process starts now (fork/exec only, ~ms), so the first image opened does not wait for it
    QTimer.singleShot(0, decoder_sandbox.prestart)
    from desktop.bench_probe import attach_if_requested

    probe = attach_if_requested(window, window.ai_session, window.image_shown, window.run_prediction,  # noqa: F841
                                lambda: window.image is not None)  # kept alive with the window; only under bench_gui.py
    if args.paths:
        QTimer.singleShot(0, lambda: window.open_paths(args.paths))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""Frozen-app entry point for `xrayview-predict` (same as the console script in pyproject.toml)."""
import sys

from inference.decode_worker import run_if_requested

if __name__ == "__main__":
    run_if_requested()  # `<exe> --xrayview-decode-worker` is an image decoder process (inference.decoder_sandbox)
    import multiprocessing

    from desktop.cli_predict import main  # inference.cli_predict with the PDF renderer for --report

    multiprocessing.freeze_support()  # data-loader workers re-enter the frozen exe (Windows/macOS spawn)
    sys.exit(main())

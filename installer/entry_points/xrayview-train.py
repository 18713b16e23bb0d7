"""Frozen-app entry point for `xrayview-train` (same as the console script in pyproject.toml)."""
import multiprocessing
import sys

from training.cli_train import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # data-loader workers re-enter the frozen exe (Windows/macOS spawn)
    sys.exit(main())

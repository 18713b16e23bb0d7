"""Unexpected exceptions: written to a log file in the user's data folder and shown once, briefly, in the UI.

Expected failures (the inference.errors family) never come here; the widgets show their message directly.
"""
from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from typing import Callable

from desktop.paths import log_file_path

LOGGER_NAME = "xrayview"

_notifier: Callable[[str], None] | None = None
_already_shown: set[str] = set()


def configure_logging() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    target = str(log_file_path())
    for handler in list(logger.handlers):
        if getattr(handler, "_xrayview_file", False) and handler.baseFilename != target:  # data folder moved
            logger.removeHandler(handler)
            handler.close()
    if not any(getattr(h, "_xrayview_file", False) for h in logger.handlers):
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._xrayview_file = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def set_notifier(notify: Callable[[str], None] | None) -> None:
    """`notify(message)` shows a short message in the UI (the main window's status bar)."""
    global _notifier
    _notifier = notify


def report_unexpected(error: BaseException, context: str = "") -> None:
    """Logs the full traceback; tells the user once per distinct error kind where the details are."""
    logger = configure_logging()
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    logger.error("unexpected error%s:\n%s", f" ({context})" if context else "", details)
    key = f"{type(error).__name__}:{context}"
    if _notifier is not None and key not in _already_shown:
        _already_shown.add(key)
        _notifier(f"Unexpected error: {type(error).__name__}: {error} — details in {log_file_path()}")


def install_excepthook() -> None:
    """Routes exceptions escaping Qt slots to the log instead of printing (or aborting) silently."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        error.__traceback__ = tb
        report_unexpected(error, "uncaught")

    sys.excepthook = hook

"""The status bar as the window's parts use it (opening, exports, menus, the AI): errors stay long enough to
read, and nothing here is ever a modal box."""
from __future__ import annotations

ERROR_MS = 15_000
INFO_MS = 8_000


class StatusMessages:
    def __init__(self, status_bar):
        self._bar = status_bar

    def error(self, message: str) -> None:
        self._bar.showMessage(message, ERROR_MS)

    def info(self, message: str, ms: int = INFO_MS) -> None:
        """`ms` 0: until the next message."""
        self._bar.showMessage(message, ms)

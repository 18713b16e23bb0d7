"""The first import of the image stack (pydicom, the decoders, highdicom) happens under one lock.

Several workers start at once (libraries, the image given on the command line, the study index, thumbnails) and
each may be the first to import pydicom. pydicom's package initialisation imports its own submodules in a cycle;
two threads doing it at the same time can make importlib break the cycle with a half-initialised module
("cannot import name 'Dataset' from partially initialized module"). One lock makes the first import single.
No Qt here."""
from __future__ import annotations

import threading

_LOCK = threading.Lock()


def image_stack() -> None:
    """pydicom, Pillow and the DICOM decoders (inference.image_io), imported once, by one thread at a time."""
    with _LOCK:
        import inference.image_io  # noqa: F401


def presentation_states() -> None:
    """The image stack plus highdicom (annotations.gsps)."""
    with _LOCK:
        import inference.image_io  # noqa: F401
        import annotations.gsps  # noqa: F401

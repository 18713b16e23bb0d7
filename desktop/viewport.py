"""One viewport: an ImageView with what belongs to the image in it — the image, its annotations (one
AnnotationStore per image this viewport showed this session, so stepping back brings them back), and the file it
was asked to open. It loads on a worker thread; only the latest open it was asked for is shown. A file that cannot
be opened empties the viewport and says why in it, so no stale image stays on screen under the new file's name.
Its AI result is kept by the window's AI session (desktop.ai_session), keyed by the viewport."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout

from annotations.presentation import PresentationState, ViewState
from annotations.store import AnnotationStore
from desktop import error_reporting
from desktop.image_view import ImageView
from desktop.workers import Job
from dicom_common.dates import display_date

ACTIVE_BORDER = "#3d8fd6"
IDLE_BORDER = "#2a3036"


def load_image_job(path: str):
    """Worker thread: the image plus its display lookup table, so the GUI thread only shows it; for a
    presentation state file, the PresentationState (or why it cannot be read, a str) instead."""
    from desktop import libraries
    from desktop.studies import read_presentation_state_file

    libraries.image_stack()
    state = read_presentation_state_file(path)
    if state is not None:
        return state, None
    from desktop.display_renderer import DisplayRenderer
    from inference.image_io import load_image

    image = load_image(path)
    return image, DisplayRenderer(image)


def image_key(image) -> str:
    """What identifies an image across opens: its SOP Instance UID, else its path."""
    metadata = getattr(image, "metadata", None) or {}
    return str(metadata.get("SOPInstanceUID") or getattr(image, "path", "") or id(image))


class Viewport(QFrame):
    activated = Signal(object)  # this viewport
    image_shown = Signal(object, object)  # this viewport, the XRayImage
    image_failed = Signal(object, str)  # this viewport, the message
    presentation_state_opened = Signal(object, str, object)  # this viewport, the file, PresentationState or reason
    files_dropped = Signal(object, list)  # this viewport, local paths

    def __init__(self, index: int, parent=None):
        super().__init__(parent)
        self.index = index
        self.setObjectName(f"viewport{index}")
        self.setAccessibleName(f"Viewport {index + 1}")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.header = QLabel("")
        self.header.setAccessibleName(f"Viewport {index + 1} image")
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.header.setContentsMargins(6, 1, 6, 1)
        self.view = ImageView()
        self.view.setAccessibleName(f"Image view {index + 1}")
        self.view.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        self.image = None
        self.requested_path: str | None = None
        self._previous_path: str | None = None
        self._asked_path: str | None = None
        self.failure = ""
        self._stores: dict[str, AnnotationStore] = {}
        self._pending_state: PresentationState | None = None
        self._load_request = 0
        self._load_job: Job | None = None
        self.view.activated.connect(lambda: self.activated.emit(self))
        self.view.file_dropped.connect(lambda paths: self.files_dropped.emit(self, paths))
        self.set_active(False)
        self._update_header()

    # -- opening ----------------------------------------------------------------------------------------------
    def open(self, path: str | Path, presentation_state: PresentationState | None = None) -> None:
        """Loads `path` on a worker thread; `presentation_state` (a GSPS for it) is applied once it is shown."""
        self._load_request += 1
        request = self._load_request
        self._previous_path = self.requested_path
        self._asked_path = str(path)
        self.requested_path = str(path)
        self._pending_state = presentation_state
        if self._load_job is not None:
            self._load_job.cancel()
        job = Job(load_image_job, str(path), pass_progress=False, pass_cancel=False, name="load image")
        job.finished.connect(lambda loaded: self._on_loaded(request, *loaded))
        job.failed.connect(lambda error: self._on_failed(request, str(path), error))
        self._load_job = job
        self.header.setText(f"Opening {Path(path).name}…")
        job.start()

    def is_loading(self) -> bool:
        return self._load_job is not None

    def cancel(self) -> None:
        if self._load_job is not None:
            self._load_job.cancel()
            self._load_job = None

    def _on_loaded(self, request: int, image, renderer=None) -> None:
        if request != self._load_request:
            return
        self._load_job = None
        if not hasattr(image, "modality"):  # a presentation state: it goes onto the image it refers to
            self.requested_path = self._previous_path
            self._update_header()
            self.presentation_state_opened.emit(self, str(self._asked_path), image)
            return
        self.image, self.failure = image, ""
        self.view.set_image(image, renderer=renderer)
        self.view.set_annotation_store(self._stores.setdefault(image_key(image), AnnotationStore()))
        state, self._pending_state = self._pending_state, None
        if state is not None:
            self.apply_presentation_state(state)
        self._update_header()
        self.image_shown.emit(self, image)

    def _on_failed(self, request: int, path: str, error: BaseException) -> None:
        if request != self._load_request:
            return
        self._load_job = None
        from inference.errors import XRayViewError

        if isinstance(error, XRayViewError):
            message = str(error)
        else:
            error_reporting.report_unexpected(error, "opening an image")
            message = f"{path}: could not be opened ({type(error).__name__}: {error})"
        self.image, self.failure = None, message
        self.view.clear(message)
        self._update_header()
        self.image_failed.emit(self, message)

    # -- presentation state ---------------------------------------------------------------------------------
    def view_state(self) -> ViewState:
        """What a presentation state saves of this view: window, polarity on screen, rotation and flips."""
        view = self.view
        window = view.window
        flip_h, flip_v = view.flips
        inverted = bool(getattr(self.image, "inverted", False)) != view.inverted
        return ViewState(window_center=window.center, window_width=window.width, window_name=window.name,
                         window_function=window.function if not window.is_lut else "LINEAR",
                         display_inverted=inverted, rotation=view.rotation, flip_horizontal=flip_h,
                         flip_vertical=flip_v)

    def apply_presentation_state(self, state: PresentationState) -> None:
        """Shows a GSPS on the image here: its graphics (one undoable step) and its window/polarity/rotation."""
        view = self.view
        view.annotations.replace_all(state.annotations)
        settings = state.view
        if settings.window_center is not None and settings.window_width is not None:
            from inference.windowing import WindowPreset

            view.set_window_preset(WindowPreset(name=settings.window_name or "Presentation state",
                                                center=settings.window_center, width=settings.window_width,
                                                function=settings.window_function, source="user"))
        if settings.display_inverted is not None:
            view.set_inverted(settings.display_inverted != bool(getattr(self.image, "inverted", False)))
        view.set_orientation(settings.rotation, settings.flip_horizontal, settings.flip_vertical)

    # -- look -----------------------------------------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        self.active = active
        colour = ACTIVE_BORDER if active else IDLE_BORDER
        self.setStyleSheet(f"QFrame#{self.objectName()} {{ border: 2px solid {colour}; }}")
        self.header.setStyleSheet(f"color: {'#ffffff' if active else '#9aa4ad'};")

    def _update_header(self) -> None:
        if self.image is not None:
            from desktop.image_adapter import display_name

            metadata = self.image.metadata or {}
            date = display_date(metadata.get("StudyDate"))
            text = "  ·  ".join(part for part in (display_name(self.image), date) if part)
        elif self.failure:
            text = f"{Path(self.requested_path or '').name}: could not be opened"
        else:
            text = "Empty: drop an image or a study here"
        self.header.setText(text)
        self.header.setToolTip(str(self.requested_path or ""))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Viewport {self.index} {self.requested_path!r}>"


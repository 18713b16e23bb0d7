"""Opening things in the main window: files, folders, a DICOMDIR, what PACS retrieved, presentation states
(shown on the image they refer to), the next/previous image of the study browser, and the prior study beside
the current one. A single file opens with its own folder listed, so PgDown/PgUp step through it."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu

from desktop.paths import sample_image_path
from inference.image_files import expand_paths, file_dialog_filter


class Opener:
    def __init__(self, grid, session, folder_panel, show_folder_panel, settings, messages, dialog_parent):
        """`grid`: the viewports (files open in the active one unless told otherwise); `session`: the AI session
        (told when a viewport starts opening a file); `folder_panel` and `show_folder_panel()`: the study browser
        and what brings its dock up; `messages`: desktop.status_messages.StatusMessages; `dialog_parent`: the
        widget the file dialogs belong to."""
        self._grid, self._session, self._folders, self._show_folders = grid, session, folder_panel, show_folder_panel
        self._settings, self._messages, self._parent = settings, messages, dialog_parent
        self.recent_menu = QMenu("Open &Recent", dialog_parent)
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)

    def _status(self, text: str, ms: int = 8000) -> None:
        self._messages.info(text, ms)

    def _error(self, text: str) -> None:
        self._messages.error(text)

    # -- asking --------------------------------------------------------------------------------------------
    def ask_open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self._parent, "Open radiographs", self._settings.last_directory,
                                                file_dialog_filter())
        if paths:
            self.open_paths(paths)

    def ask_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Open folder", self._settings.last_directory)
        if folder:
            self.open_folder(folder)

    def ask_open_dicomdir(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Open DICOMDIR", self._settings.last_directory,
                                              "DICOMDIR (DICOMDIR dicomdir);;All files (*)")
        if path:
            self.open_dicomdir(path)

    def open_sample(self) -> None:
        self.open_path(str(sample_image_path()))

    # -- opening -------------------------------------------------------------------------------------------
    def open_paths(self, paths, viewport=None) -> None:
        """Command line, drag and drop, PACS retrieve: a folder opens in the study browser; several files are
        listed there; one file opens with its own folder listed."""
        paths = [Path(p) for p in paths]
        folders = [p for p in paths if p.is_dir()]
        if folders:
            self.open_folder(folders[0])
            return
        dicomdirs = [p for p in paths if p.name.upper() == "DICOMDIR"]
        if dicomdirs:
            self.open_dicomdir(dicomdirs[0])
            return
        files = expand_paths(paths)
        if len(files) > 1:
            self._show_folders()
            self._folders.set_files(files)
        elif files and files[0].parent.is_dir():
            self._show_folders()
            self._folders.set_siblings(files[0])
        if files:
            self.open_path(str(files[0]), viewport)

    def open_folder(self, folder) -> None:
        self._settings.last_directory = str(folder)
        self._show_folders()
        found = self._folders.set_folder(folder)
        if found:
            self.open_path(str(self._folders.first_image() or found[0]))
        else:
            self._error(f"{folder}: no images found in this folder")

    def open_dicomdir(self, path) -> None:
        from desktop.studies import dicomdir_files

        try:
            files = dicomdir_files(path)
        except (OSError, ValueError) as error:
            self._error(f"{path}: not a readable DICOMDIR ({error})")
            return
        if not files:
            self._error(f"{path}: the DICOMDIR lists no images")
            return
        self._settings.last_directory = str(Path(path).parent)
        self._show_folders()
        self._folders.set_files(files, title=f"{Path(path).parent.name or path} (DICOMDIR)")
        self.open_path(str(files[0]))

    def open_path(self, path, viewport=None, presentation_state=None) -> None:
        """Loads `path` into `viewport` (the active one by default) on a worker thread; a presentation state
        file goes onto the image it refers to (Viewport.presentation_state_opened)."""
        viewport = viewport or self._grid.active
        self._status(f"Opening {Path(path).name}…", 0)
        self._session.image_opening(viewport)  # whatever runs now belongs to the previous image
        viewport.open(path, presentation_state)

    def on_presentation_state(self, viewport, path: str, state) -> None:
        self._session.resume(viewport)  # opening the file set the viewport's AI request aside
        self.open_presentation_state(path, state)

    def open_presentation_state(self, path, state) -> None:
        """A GSPS goes onto the viewport showing its image, else its image (found in the study browser or
        beside the file) is opened with it."""
        from desktop.studies import find_instance_file

        if isinstance(state, str):  # the reason it could not be read
            self._error(state)
            return
        for viewport in self._grid.viewports():
            image = viewport.image
            uid = str((getattr(image, "metadata", None) or {}).get("SOPInstanceUID") or "")
            if uid and state.applies_to(uid):
                viewport.apply_presentation_state(state)
                self._grid.set_active(viewport)
                self._status(f"Presentation state {Path(path).name}: {len(state.annotations)} annotation(s) on "
                             f"{Path(image.path).name}")
                return
        target = find_instance_file(state.referenced_sop_instance_uids, self._folders.index_paths(),
                                    Path(path).parent)
        if target is None:
            self._error(f"{Path(path).name}: the image it refers to is not open and not in its folder")
            return
        self.open_path(str(target), presentation_state=state)

    # -- moving on -----------------------------------------------------------------------------------------
    def step(self, step: int) -> None:
        current = self._grid.active.requested_path
        if current is None:
            return
        target = self._folders.neighbour(current, step)  # from the last file asked for, even if unreadable
        if target:
            self.open_path(target)

    def compare_with_prior(self) -> None:
        """The same patient's most recent earlier study (from the study browser) beside the current image."""
        image = self._grid.active.image
        if image is None:
            self._error("Open an image first.")
            return
        prior = self._folders.prior_image_for(image)
        if prior is None:
            self._error(self._folders.no_prior_reason(image))
            return
        target = self._grid.other_viewport(self._grid.active)
        self.open_path(str(prior), target)
        self._status(f"Prior study: {Path(prior).name}")

    def fill_recent_menu(self) -> None:
        """File > Open Recent, filled as it opens."""
        menu = self.recent_menu
        menu.clear()
        recent = self._settings.recent_files
        for path in recent:
            menu.addAction(path, lambda p=path: self.open_paths([p]))
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list", self._settings.clear_recent_files)

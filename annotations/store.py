"""The annotations of one image, in drawing order, with undo/redo.

History keeps whole snapshots (tuples of immutable records): an image rarely has more than a few dozen
annotations, and a snapshot can never get out of step with the operations that made it. A drag that moves a
handle many times is one step: `begin_change()`, any number of `update(..., record=False)`, `end_change()`.
Listeners are called after every change (the view redraws from `items()`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from annotations.model import Annotation

MAX_HISTORY = 200


class AnnotationStore:
    def __init__(self, items: Iterable[Annotation] = ()):
        self._items: tuple[Annotation, ...] = tuple(items)
        self._undo: list[tuple[Annotation, ...]] = []
        self._redo: list[tuple[Annotation, ...]] = []
        self._pending: tuple[Annotation, ...] | None = None
        self._listeners: list[Callable[[], None]] = []

    # -- reading -----------------------------------------------------------------------------------------------
    def items(self) -> tuple[Annotation, ...]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, uid: str) -> Annotation | None:
        return next((item for item in self._items if item.uid == uid), None)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- changing ----------------------------------------------------------------------------------------------
    def add(self, annotation: Annotation) -> Annotation:
        self._set(self._items + (annotation,))
        return annotation

    def update(self, annotation: Annotation, record: bool = True) -> None:
        """Replaces the annotation with the same uid."""
        if self.get(annotation.uid) is None:
            raise KeyError(f"no annotation {annotation.uid}")
        items = tuple(annotation if item.uid == annotation.uid else item for item in self._items)
        self._set(items, record=record)

    def remove(self, uid: str) -> bool:
        if self.get(uid) is None:
            return False
        self._set(tuple(item for item in self._items if item.uid != uid))
        return True

    def clear(self) -> None:
        if self._items:
            self._set(())

    def replace_all(self, items: Iterable[Annotation]) -> None:
        """E.g. a presentation state was opened: one undoable step."""
        self._set(tuple(items))

    def reset(self, items: Iterable[Annotation] = ()) -> None:
        """A new image: new items and no history."""
        self._items = tuple(items)
        self._undo.clear()
        self._redo.clear()
        self._pending = None
        self._notify()

    def begin_change(self) -> None:
        self._pending = self._items

    def end_change(self) -> None:
        before, self._pending = self._pending, None
        if before is not None and before != self._items:
            self._push_undo(before)
            self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._items)
        self._items = self._undo.pop()
        self._notify()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._push_undo(self._items)
        self._items = self._redo.pop()
        self._notify()
        return True

    # -- internals ---------------------------------------------------------------------------------------------
    def _set(self, items: tuple[Annotation, ...], record: bool = True) -> None:
        if record and self._pending is None:
            self._push_undo(self._items)
            self._redo.clear()
        self._items = items
        self._notify()

    def _push_undo(self, snapshot: tuple[Annotation, ...]) -> None:
        self._undo.append(snapshot)
        del self._undo[:-MAX_HISTORY]

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

"""Undo/redo of the annotation list: every change is one step, a drag is one step, a new image forgets."""
from __future__ import annotations

from annotations import AnnotationStore, new_annotation


def test_undo_redo_add_move_remove():
    store = AnnotationStore()
    changes = []
    store.add_listener(lambda: changes.append(len(store)))
    line = store.add(new_annotation("distance", [(0, 0), (10, 0)]))
    arrow = store.add(new_annotation("arrow", [(5, 5), (20, 20)]))
    store.begin_change()  # a drag: many updates, one undo step
    for step in range(1, 6):
        store.update(line.moved(step, 0), record=False)
    store.end_change()
    assert store.get(line.uid).points == ((5, 0), (15, 0))
    store.remove(arrow.uid)
    assert [a.kind for a in store.items()] == ["distance"]
    assert store.undo() and [a.kind for a in store.items()] == ["distance", "arrow"]
    assert store.undo() and store.get(line.uid).points == ((0, 0), (10, 0))
    assert store.redo() and store.get(line.uid).points == ((5, 0), (15, 0))
    assert store.undo() and store.undo() and store.undo() and len(store) == 0
    assert not store.undo() and store.can_redo
    store.add(new_annotation("text", [(1, 1)], text="x"))  # a new change drops what could be redone
    assert not store.can_redo
    assert changes  # listeners heard every change


def test_reset_for_a_new_image_forgets_the_history():
    store = AnnotationStore()
    store.add(new_annotation("distance", [(0, 0), (10, 0)]))
    store.reset()
    assert len(store) == 0 and not store.can_undo and not store.can_redo
    store.clear()
    assert not store.can_undo  # clearing nothing is no step

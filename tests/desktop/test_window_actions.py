"""Menu and toolbar actions are bound to the callables the window gives (no slot names looked up when clicked):
every action needs one, a checkable one gets its new state, the view actions act on the active viewport's view."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QWidget

from desktop import window_actions
from desktop.tools import TOOLS
from desktop.window_actions import ACTIONS, VIEW_ACTIONS


def test_the_table_names_no_slots_only_text_icon_and_checkable():
    for name, entry in ACTIONS.items():
        text, icon_name, checkable = entry
        assert isinstance(text, str) and isinstance(icon_name, str) and isinstance(checkable, bool), name
    assert all(callable(method) for method in VIEW_ACTIONS.values())


def test_every_action_needs_a_handler_and_calls_it(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    calls = []
    handlers = {name: (lambda *args, name=name: calls.append((name, args))) for name in ACTIONS}
    with pytest.raises(KeyError, match="no handler for the actions open"):
        window_actions.build_actions(owner, {k: v for k, v in handlers.items() if k != "open"}, lambda tool: None)
    tools = []
    actions = window_actions.build_actions(owner, handlers, tools.append)
    actions["open"].trigger()
    actions["heatmap"].trigger()  # checkable: the handler gets the new state
    actions["layout_2x2"].trigger()
    actions[TOOLS[1].action_name].trigger()
    assert calls == [("open", ()), ("heatmap", (True,)), ("layout_2x2", (True,))]
    assert tools == [TOOLS[1].id]


def test_view_actions_act_on_the_view_active_when_triggered(monkeypatch):
    class View:
        def __init__(self):
            self.fitted = 0

    monkeypatch.setitem(VIEW_ACTIONS, "fit", lambda view: setattr(view, "fitted", view.fitted + 1))
    first, second = View(), View()
    active = [first]
    handlers = window_actions.view_handlers(lambda: active[0])
    handlers["fit"]()
    active[0] = second
    handlers["fit"]()
    assert (first.fitted, second.fitted) == (1, 1)

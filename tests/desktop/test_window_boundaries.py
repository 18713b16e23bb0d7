"""No module of desktop/ but main_window.py and app.py uses the window beyond what it is given for:
- the optional tools (desktop.tool_host.OPTIONAL_TOOL_MODULES) are installed and driven (each action, each dialog's
  requests back to the viewer) against a host that has the ToolHost protocol's members and nothing else but
  QWidget's, so reaching for e.g. `menus`, `actions_by_name`, `grid`, `statusBar()` or `analysis` fails here;
- the window's parts get the window only as `dialog_parent`, the widget their dialogs belong to: they pass it on
  and never read an attribute of it (read from their source)."""
from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from desktop import error_reporting
from desktop.main_window import MainWindow
from desktop.tool_host import OPTIONAL_TOOL_MODULES, ToolHost, install_optional_tools

PROTOCOL_METHODS = {name for name, value in vars(ToolHost).items() if callable(value) and not name.startswith("_")}
PROTOCOL_MEMBERS = PROTOCOL_METHODS | set(ToolHost.__annotations__)
DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


class StrictHost(QWidget):
    """A ToolHost and no more (what it is asked is kept in `_asked`, which no tool would know to read)."""

    def __init__(self, settings, model_path: Path | None = None):
        super().__init__()
        self.settings = settings
        self._asked: dict[str, list] = {"apply_settings": [], "open_paths": []}
        self._actions: list = []
        self._dialogs: dict = {}
        self._model_path = model_path

    def add_tool_actions(self, *actions) -> None:
        for action in actions:
            action.setParent(self)
        self._actions.extend(actions)

    def apply_settings(self, model_changed: bool = False) -> None:
        self._asked["apply_settings"].append(model_changed)

    def open_paths(self, paths, viewport=None) -> None:
        self._asked["open_paths"].append(list(paths))

    def active_model_path(self) -> Path | None:
        return self._model_path

    def keep_tool_dialog(self, name: str, dialog) -> None:
        self._dialogs[name] = dialog

    def tool_dialog(self, name: str):
        return self._dialogs.get(name)


def test_the_strict_host_and_the_window_have_exactly_the_protocol():
    public = {name for name in dir(StrictHost) if not name.startswith("_")} - set(dir(QWidget))
    assert public == PROTOCOL_METHODS == {"add_tool_actions", "apply_settings", "open_paths", "active_model_path",
                                          "keep_tool_dialog", "tool_dialog"}
    assert PROTOCOL_MEMBERS == PROTOCOL_METHODS | {"settings"}
    assert all(callable(getattr(MainWindow, name, None)) for name in PROTOCOL_METHODS)


def test_optional_tools_use_only_the_tool_host(qtbot, settings, tiny_bundle, no_shipped_models, tmp_path,
                                                monkeypatch):
    assert OPTIONAL_TOOL_MODULES == ("desktop.pacs_dialog", "desktop.audit_log_dialog", "desktop.wizard",
                                     "desktop.calibration_dialog")
    failures = []
    monkeypatch.setattr(error_reporting, "report_unexpected", lambda error, context="": failures.append(
        f"{context}: {type(error).__name__}: {error}"))
    settings.user_models_dir = str(tiny_bundle.parent)
    host = StrictHost(settings, model_path=tiny_bundle)
    qtbot.addWidget(host)
    install_optional_tools(host)
    assert failures == []
    actions = {action.objectName(): action for action in host._actions}
    assert set(actions) == {"pacs_query", "audit_log", "train_model", "calibrate_model"}

    actions["pacs_query"].trigger()
    pacs = host.tool_dialog("pacs")
    assert pacs is not None and pacs.isVisible() and pacs.parent() is host
    retrieved = [str(tmp_path / "retrieved.dcm")]
    pacs.filesRetrieved.emit(retrieved)
    assert host._asked["open_paths"] == [retrieved]

    actions["audit_log"].trigger()
    assert host.tool_dialog("audit_log").isVisible()

    actions["calibrate_model"].trigger()
    calibration = host.tool_dialog("calibration")
    assert calibration.isVisible() and calibration.model_combo.currentData() == str(tiny_bundle)
    calibration.activate_requested.emit(str(tmp_path / "site-version"))
    assert settings.model_path == str(tmp_path / "site-version") and host._asked["apply_settings"] == [True]
    calibration.close()

    from desktop.wizard.wizard import TrainingWizard

    actions["train_model"].trigger()
    (wizard,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, TrainingWizard) and w.isVisible()]
    assert wizard.parent() is host
    wizard.model_saved.emit(str(tiny_bundle), True)
    assert settings.model_path == str(tiny_bundle) and host._asked["apply_settings"] == [True, True]
    # the save page's "Calibrate it to this site…" opens the viewer's calibration tool on the saved model
    wizard.context.saved_path = tiny_bundle
    wizard.save_page.calibrate_button.setEnabled(True)
    wizard.save_page.calibrate_button.click()
    from_wizard = host.tool_dialog("calibration")
    assert from_wizard is not calibration and from_wizard.isVisible()
    assert from_wizard.model_combo.currentData() == str(tiny_bundle)
    assert failures == []
    for dialog in (pacs, host.tool_dialog("audit_log"), from_wizard, wizard):
        dialog.close()


def _attributes_read_of_dialog_parent(cls: ast.ClassDef) -> tuple[bool, list[str]]:
    """Whether `cls.__init__` takes `dialog_parent`, and each `X.attr` read where X is that parameter or the
    `self.<field>` it is kept in."""
    init = next((node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == "__init__"), None)
    if init is None or "dialog_parent" not in [arg.arg for arg in init.args.args]:
        return False, []
    fields = set()
    for node in ast.walk(init):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple)
                         and isinstance(node.value, ast.Tuple) else [(target, node.value)])
                for name, value in pairs:
                    if (isinstance(value, ast.Name) and value.id == "dialog_parent"
                            and isinstance(name, ast.Attribute)):
                        fields.add(name.attr)
    assert fields, f"{cls.name} takes dialog_parent but keeps it nowhere this check can see"

    def is_parent(node) -> bool:
        return ((isinstance(node, ast.Name) and node.id == "dialog_parent")
                or (isinstance(node, ast.Attribute) and node.attr in fields
                    and isinstance(node.value, ast.Name) and node.value.id == "self"))

    return True, [f"{cls.name}: .{node.attr} (line {node.lineno})" for node in ast.walk(cls)
                  if isinstance(node, ast.Attribute) and is_parent(node.value)]


def test_the_window_parts_only_pass_the_window_on_as_a_parent():
    parts, reads = set(), []
    for path in sorted(DESKTOP.rglob("*.py")):
        if path.relative_to(DESKTOP).as_posix() in ("main_window.py", "app.py"):
            continue
        for cls in (node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)):
            takes_it, found = _attributes_read_of_dialog_parent(cls)
            if takes_it:
                parts.add(cls.name)
                reads += found
    assert parts == {"Opener", "Exports", "ViewMenus", "FolderAnalysis", "WindowDialogs"}
    assert reads == []

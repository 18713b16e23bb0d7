"""Nothing XRayView loads may run code (issue 17 item 3): every `torch.load` passes `weights_only=True`, and no
module calls pickle/marshal/shelve loaders or `np.load(allow_pickle=True)`. Checked on the syntax tree of every
Python file of the product (desktop/, inference/, training/, bench/, scripts/, installer/) and of the tests."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("desktop", "inference", "training", "bench", "scripts", "installer/entry_points", "installer/hooks",
           "tests")
UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("marshal", "load"),
              ("marshal", "loads"), ("shelve", "open"), ("dill", "load"), ("dill", "loads"), ("joblib", "load"),
              ("cloudpickle", "load"), ("cloudpickle", "loads"), ("pd", "read_pickle"), ("pandas", "read_pickle")}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            yield node, node.func.value.id, node.func.attr


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_nothing_is_unpickled():
    problems = []
    files = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 100
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for call, owner, attr in _calls(tree):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if owner == "torch" and attr == "load" and not _is_true(_keyword(call, "weights_only")):
                problems.append(f"{where}: torch.load without weights_only=True")
            if owner in ("np", "numpy") and attr == "load" and not (
                    _keyword(call, "allow_pickle") is not None and not _is_true(_keyword(call, "allow_pickle"))):
                problems.append(f"{where}: np.load must pass allow_pickle=False")
            if (owner, attr) in UNPICKLERS:
                problems.append(f"{where}: {owner}.{attr} can run code from the file")
    assert not problems, "\n".join(problems)

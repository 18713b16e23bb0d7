"""The torch-free tier of inference/ (results, vocabularies, model card, bundle catalog, image-file policy): it
imports without torch or numpy, and desktop/ uses it instead of keeping copies of its names or values."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

TORCH_FREE_MODULES = ("inference.results", "inference.vocabulary", "inference.model_card", "inference.bundle_catalog",
                      "inference.image_files", "inference.file_hash", "inference.population")
HEAVY = ("torch", "torchvision", "numpy", "pytorch_grad_cam", "PySide6")


def _public_names(module_name: str) -> dict[str, object]:
    """Names the module itself declares at top level (not the ones it imports), with their values."""
    module = importlib.import_module(module_name)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        for name in targets:
            if not name.startswith("_"):
                names[name] = getattr(module, name)
    return names


def _tier_names() -> dict[str, tuple[str, object]]:
    found: dict[str, tuple[str, object]] = {}
    for module_name in TORCH_FREE_MODULES:
        for name, value in _public_names(module_name).items():
            found[name] = (module_name, value)
    return found


def _vocabulary_values() -> dict[object, str]:
    """Every tuple/dict/frozenset vocabulary the tier declares, normalised, mapped to its qualified name."""
    values: dict[object, str] = {}
    for name, (module_name, value) in _tier_names().items():
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            values[frozenset(value)] = f"{module_name}.{name} (keys)"
            if all(isinstance(v, str) for v in value.values()):
                values[frozenset(value.values())] = f"{module_name}.{name} (values)"
        elif isinstance(value, (tuple, list, frozenset, set)) and len(value) > 1 \
                and all(isinstance(v, str) for v in value):
            values[frozenset(value)] = f"{module_name}.{name}"
    return values


def _literal(node: ast.AST):
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, (tuple, list, set, frozenset)):
        # (key, title) pairs count by their keys: that was how desktop kept its own CAM method list
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return frozenset(k for k, _ in value)
        return frozenset(value) if all(isinstance(v, (str, int, float)) for v in value) else None
    return None


def _desktop_declarations():
    """(path, line, top-level name or None, a collection literal or None) for every desktop module."""
    for path in sorted((PROJECT_ROOT / "desktop").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield path, node.lineno, node.name, None
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        yield path, node.lineno, target.id, None
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                yield path, node.lineno, node.target.id, None
        for node in ast.walk(tree):  # any collection literal, wherever it stands (a loop, a call, an attribute)
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                yield path, node.lineno, None, node


def test_tier_modules_import_without_torch_numpy_or_qt():
    code = ("import sys\n"
            f"for name in {TORCH_FREE_MODULES!r}:\n"
            "    __import__(name)\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the torch-free tier imported {result.stdout.strip()}"


def test_desktop_does_not_redeclare_what_the_torch_free_tier_exports():
    tier = _tier_names()
    values = _vocabulary_values()
    problems = []
    for path, line, name, value in _desktop_declarations():
        where = f"{path.relative_to(PROJECT_ROOT)}:{line}"
        if name is not None and name in tier:
            problems.append(f"{where}: declares {name}, which {tier[name][0]} exports")
        literal = _literal(value) if value is not None else None
        if isinstance(literal, dict) and literal and all(isinstance(k, str) for k in literal):
            literal = frozenset(literal)
        if isinstance(literal, frozenset) and len(literal) > 1 and literal in values:
            problems.append(f"{where}: a copy of {values[literal]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("copy", [
    "CAM_METHODS = (('gradcam', 'Grad-CAM'), ('gradcam++', 'Grad-CAM++'), ('eigencam', 'Eigen-CAM'), "
    "('xgradcam', 'XGrad-CAM'), ('layercam', 'Layer-CAM'))",
    "DEVICES = ('auto', 'cpu', 'cuda', 'mps')",
    "def decide_call(probabilities):\n    return max(probabilities)",
    "class Widget:\n    def combo(self):\n        for device in ('auto', 'cpu', 'cuda', 'mps'):\n            pass\n        "
    "self.names = {'auto': 'A', 'cpu': 'C', 'cuda': 'G', 'mps': 'M'}",
])
def test_the_redeclaration_check_catches_copies(tmp_path, monkeypatch, copy):
    """The walk above must be able to fail: each of these old desktop copies is reported."""
    import tests.test_torch_free_tier as this

    fake_root = tmp_path / "root"
    (fake_root / "desktop").mkdir(parents=True)
    (fake_root / "desktop" / "copy.py").write_text(copy + "\n", encoding="utf-8")
    monkeypatch.setattr(this, "PROJECT_ROOT", fake_root)
    with pytest.raises(AssertionError, match="copy.py"):
        test_desktop_does_not_redeclare_what_the_torch_free_tier_exports()

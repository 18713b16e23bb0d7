"""One home per format: a single file-hash function (inference.file_hash.sha256_file) and a single reader of the
training data manifest (training.data_manifest), found by walking the source, so a new copy fails here."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("annotations", "bench", "desktop", "inference", "scripts", "training")


def _sources(root: Path):
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _reads_in_chunks_into_a_digest(function: ast.AST) -> bool:
    """A loop that reads a file piece by piece and feeds each piece to `.update(...)`: a file hash."""
    for loop in ast.walk(function):
        if not isinstance(loop, (ast.While, ast.For)):
            continue
        header = loop.test if isinstance(loop, ast.While) else loop.iter
        reads = any(isinstance(n, ast.Attribute) and n.attr == "read" for n in ast.walk(header))
        updates = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "update"
                      for statement in loop.body for n in ast.walk(statement))
        if reads and updates:
            return True
    return False


def file_hash_functions(root: Path) -> list[tuple[str, str]]:
    found = []
    for path, tree in _sources(root):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _reads_in_chunks_into_a_digest(node):
                found.append((path.relative_to(root).as_posix(), node.name))
    return found


def test_there_is_one_file_hash_function():
    assert file_hash_functions(PROJECT_ROOT) == [("inference/file_hash.py", "sha256_file")]


@pytest.mark.parametrize("copy", [
    # the copies this replaced (desktop/report_export.py, training/datasets.py, inference/audit.py)
    "import hashlib\ndef file_sha256(path):\n    digest = hashlib.sha256()\n    with open(path, 'rb') as handle:\n"
    "        for chunk in iter(lambda: handle.read(1 << 20), b''):\n            digest.update(chunk)\n"
    "    return digest.hexdigest()\n",
    "import hashlib\ndef sha256_file(path):\n    digest = hashlib.sha256()\n    with open(path, 'rb') as fh:\n"
    "        while chunk := fh.read(65536):\n            digest.update(chunk)\n    return digest.hexdigest()\n",
])
def test_the_walk_finds_a_second_file_hash(tmp_path, copy):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "desktop" / "copy.py").write_text(copy, encoding="utf-8")
    assert [name for _, name in file_hash_functions(tmp_path)] in (["file_sha256"], ["sha256_file"])


def manifest_file_mentions(root: Path) -> list[str]:
    """Modules that name the manifest file in code (docstrings aside): each would be reading or writing it."""
    found = []
    for path, tree in _sources(root):
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        if any(isinstance(n, ast.Constant) and n.value == "data_manifest.csv" and id(n) not in docstrings
               for n in ast.walk(tree)):
            found.append(path.relative_to(root).as_posix())
    return found


def test_only_the_manifest_module_opens_the_data_manifest():
    assert manifest_file_mentions(PROJECT_ROOT) == ["training/data_manifest.py"]


def test_the_walk_finds_a_second_manifest_reader(tmp_path):
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "desktop" / "reader.py").write_text(
        '"""Reads data_manifest.csv."""\ndef rows(folder):\n    return (folder / "data_manifest.csv").read_text()\n')
    assert manifest_file_mentions(tmp_path) == ["desktop/reader.py"]

"""inference/, training/ and annotations/ must stay Qt-free (importing every module leaves PySide6 out of
sys.modules); annotations/ is torch-free too."""
import pkgutil
from pathlib import Path
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


def _module_names(package: str) -> list[str]:
    pkg_dir = PROJECT_ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(pkg_dir)], prefix=f"{package}."):
        names.append(info.name)
    return names


@pytest.mark.parametrize("package", ["inference", "training", "annotations", "dicom_common"])
def test_package_never_imports_qt(package):
    modules = _module_names(package)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'desktop'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} pulled in Qt/desktop modules: {result.stdout.strip()}"


def test_annotations_never_import_torch():
    modules = _module_names("annotations")
    code = (f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_import_linter_contracts_hold():
    candidates = [PROJECT_ROOT / ".venv" / "bin" / "lint-imports", Path(sys.executable).parent / "lint-imports"]
    exe = next((str(path) for path in candidates if path.exists()), "lint-imports")
    result = subprocess.run([exe], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_reads_model_cards_through_the_typed_view():
    """desktop/ reads cards through inference.model_card.ModelCard, never as raw dicts; the training wizard
    (desktop/wizard/) included, which changes a card through ModelCard.changed."""
    import re

    raw = re.compile(r"\bcard(?:\.data)?(?:\.get\(|\[)")
    found = [f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
             for path in sorted((PROJECT_ROOT / "desktop").rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if raw.search(line)]
    assert found == [], "\n".join(found)


def test_one_function_gives_the_positive_probabilities_of_logits():
    """training.evaluate.positive_probs is the one softmax-at-a-temperature for P(positive); the trainer's
    validation uses it too."""
    import re

    definitions = [str(path.relative_to(PROJECT_ROOT)) for package in ("inference", "training", "desktop")
                   for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
                   if re.search(r"^def positive_prob", path.read_text(encoding="utf-8"), re.MULTILINE)]
    assert definitions == ["training/evaluate.py"]

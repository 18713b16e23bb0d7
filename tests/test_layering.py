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

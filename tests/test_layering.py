"""inference/ and training/ must stay Qt-free: importing every module leaves PySide6 out of sys.modules."""
import pkgutil
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


@pytest.mark.parametrize("package", ["inference", "training"])
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


def test_import_linter_contracts_hold():
    lint = PROJECT_ROOT / ".venv" / "bin" / "lint-imports"
    exe = str(lint) if lint.exists() else "lint-imports"
    result = subprocess.run([exe], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

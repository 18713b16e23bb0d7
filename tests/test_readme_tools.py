"""The README's "Command-line tools" section lists every console script and every `python -m` module tool, and
says how to train on several processes with torchrun and what of that was tested."""
from __future__ import annotations

import importlib
import re
import tomllib

from tests.conftest import PROJECT_ROOT


def _tools_section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Command-line tools")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end != -1 else None]


def _console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["project"]["scripts"]


def test_every_console_script_is_listed():
    section = _tools_section()
    missing = [name for name in _console_scripts() if not re.search(rf"`{re.escape(name)}[ `]", section)]
    assert missing == [], f"console scripts missing from the README's Command-line tools: {missing}"


def test_every_module_tool_is_listed():
    behind_scripts = {target.split(":")[0] for target in _console_scripts().values()}
    # a console script's module may only wrap the tool (xrayview-predict: desktop.cli_predict adds the Qt PDF
    # renderer to inference.cli_predict); the wrapped module is documented under the script's name
    behind_scripts |= {getattr(importlib.import_module(module), "WRAPPED_TOOL", module) for module in behind_scripts}
    modules = [f"{path.parent.name}.{path.stem}" for package in ("inference", "training")
               for path in sorted((PROJECT_ROOT / package).glob("cli_*.py"))]
    modules += [f"tests.{path.parent.name}" for path in sorted((PROJECT_ROOT / "tests").glob("*/__main__.py"))]
    assert "training.cli_ood_fit" in modules  # the glob found the tools
    section = _tools_section()
    missing = [module for module in modules
               if module not in behind_scripts and f"python -m {module} " not in section]
    assert missing == [], f"python -m tools missing from the README's Command-line tools: {missing}"


def test_torchrun_is_documented_with_what_was_tested():
    section = _tools_section()
    assert re.search(r"`torchrun [^`]*-m training\.cli_train", section)
    tested = section[section.index("What was tested with torchrun"):]
    for fact in ("2 processes", "gloo", "1 node"):
        assert fact in tested, fact

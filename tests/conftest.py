"""Session-wide test setup. Qt must be told to render offscreen before anything imports it."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XRAYVIEW_DISABLE_NETWORK_CHECKS", "1")
# AI results predicted during tests go to a throw-away audit log, never the user's real one
os.environ.setdefault("XRAYVIEW_AUDIT_LOG",
                      os.path.join(tempfile.mkdtemp(prefix="xrayview-audit-"), "ai-results.jsonl"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("XRAYVIEW_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout (read-only). Tests fail loudly if it is missing."""
    assert SHARED_DATA.is_dir(), f"real test data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT

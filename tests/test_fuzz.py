"""The seeded fuzz run that `make test` includes (issue 17): 300 mutated DICOMs through the loader in worker
processes; any untyped exception, bad rendering, hang or crash fails. The long run is documented in docs/architecture.md."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_seeded_fuzz_run_is_clean(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tests.fuzz", "--count", "300", "--seed", "17", "--keep",
                           str(tmp_path / "failures")], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=900)
    report = json.loads(done.stdout)
    assert report["files"] == 300
    failures = json.dumps(report["failures"], indent=1)[:4000]
    assert report["outcomes"]["untyped"] == 0 and report["outcomes"]["bad_output"] == 0, failures
    assert report["outcomes"]["hang"] == 0 and report["outcomes"]["crash"] == 0, failures
    # every typed error says what is wrong in the file in words, not a library's exception text
    assert report["raw_exception_text"] == [], json.dumps(report["raw_exception_text"], indent=1)[:4000]
    assert done.returncode == 0
    # the mutations reach both outcomes: files that still load and files refused with a typed error
    assert report["outcomes"]["ok"] > 30 and report["outcomes"]["typed"] > 100
    assert set(report["by_mutation"]) == {"byte_flips", "truncation", "padding", "element_edit", "codestream_edit"}

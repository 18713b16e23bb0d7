"""`make bench` runs bench/run_all.py: the file exists, lists the benchmarks quickly, and collects each one's JSON
into one document, reporting a failing benchmark without stopping (checked on two small scripts)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_make_bench_target_exists_and_lists_every_benchmark():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (target,) = re.findall(r"^bench:.*\n\t\$\(VENV\)/bin/python (\S+)", makefile, flags=re.MULTILINE)
    assert (PROJECT_ROOT / target).is_file(), target
    done = subprocess.run([sys.executable, target, "--list"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split()
    assert listed == sorted(p.stem for p in (PROJECT_ROOT / "bench").glob("bench_*.py"))  # all need no argument
    helped = subprocess.run([sys.executable, target, "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert helped.returncode == 0 and "--only" in helped.stdout


def test_collects_json_and_reports_a_failing_benchmark(tmp_path):
    (tmp_path / "bench_fast.py").write_text('import json\nprint("warming up")\nprint(json.dumps({"ms": 1.5}))\n')
    (tmp_path / "bench_indented.py").write_text('import json\nprint(json.dumps({"a": [1, 2]}, indent=2))\n')
    (tmp_path / "bench_broken.py").write_text('import sys\nprint("no model here", file=sys.stderr)\nsys.exit(3)\n')
    (tmp_path / "bench_needs_input.py").write_text(
        'import argparse\np = argparse.ArgumentParser()\np.add_argument("image")\np.parse_args()\n')
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench/run_all.py"), "--bench-dir", str(tmp_path),
                           "--out", str(out)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # a failing benchmark is reported, not fatal
    report = json.loads(done.stdout)
    assert json.loads(out.read_text()) == report
    runs = report["benchmarks"]
    assert runs["bench_fast"]["ok"] and runs["bench_fast"]["result"] == {"ms": 1.5}
    assert runs["bench_indented"]["result"] == {"a": [1, 2]}
    assert runs["bench_broken"] == {**runs["bench_broken"], "ok": False, "exit_status": 3,
                                    "stderr_tail": ["no model here"]}
    assert report["failed"] == ["bench_broken"] and report["skipped_need_arguments"] == ["bench_needs_input"]

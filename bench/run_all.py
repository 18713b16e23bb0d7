"""`make bench`: runs every benchmark script in bench/ that needs no arguments, each in its own interpreter, and
prints one JSON document with what each printed (its JSON), how long it took, and, for one that failed, its exit
status and the end of its error output. A failing benchmark is reported, not fatal: the others still run and the
exit status is 0. Scripts with a required argument (a positional one or `required=True`) are listed as skipped.

    .venv/bin/python bench/run_all.py [--list] [--only NAME ...] [--timeout S] [--out FILE]
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench/run_all.py", description="Run the XRayView benchmarks.")
    parser.add_argument("--list", action="store_true", help="list the benchmarks that would run, then stop")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (e.g. bench_decode)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark (default 3600)")
    parser.add_argument("--out", type=Path, help="also write the JSON document to this file")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help=argparse.SUPPRESS)  # for the tests
    return parser


def needs_arguments(script: Path) -> bool:
    """True when the script's argparse has a positional or a required option (read from its source, not run)."""
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("-"):
                nargs = next((k.value for k in node.keywords if k.arg == "nargs"), None)
                if not (isinstance(nargs, ast.Constant) and nargs.value in ("?", "*")):
                    return True
            if any(k.arg == "required" and isinstance(k.value, ast.Constant) and k.value.value is True
                   for k in node.keywords):
                return True
    return False


def benchmarks(folder: Path) -> list[Path]:
    return sorted(folder.glob("bench_*.py"))


def last_json(text: str):
    """The last JSON value the script printed (one line, or an indented document at the end)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    start = text.rfind("\n{")
    return json.loads(text[start + 1:]) if start >= 0 else None


def run_one(script: Path, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "seconds": round(time.monotonic() - started, 1),
                "error": f"did not finish within {timeout:g} s"}
    seconds = round(time.monotonic() - started, 1)
    tail = done.stderr.strip().splitlines()[-15:]
    if done.returncode != 0:
        return {"ok": False, "seconds": seconds, "exit_status": done.returncode, "stderr_tail": tail}
    try:
        result = last_json(done.stdout)
    except json.JSONDecodeError:
        result = None
    if result is None:
        return {"ok": False, "seconds": seconds, "exit_status": 0, "error": "printed no JSON",
                "stdout_tail": done.stdout.strip().splitlines()[-5:]}
    return {"ok": True, "seconds": seconds, "result": result}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    scripts = benchmarks(args.bench_dir)
    if args.only:
        unknown = set(args.only) - {s.stem for s in scripts}
        if unknown:
            print(f"bench/run_all.py: no such benchmark: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.stem in args.only]
    runnable = [s for s in scripts if not needs_arguments(s)]
    skipped = sorted(s.stem for s in scripts if s not in runnable)
    if args.list:
        for script in runnable:
            print(script.stem)
        for name in skipped:
            print(f"{name} (skipped: needs arguments)")
        return 0
    report: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "python": sys.version.split()[0], "benchmarks": {}, "skipped_need_arguments": skipped}
    for script in runnable:
        print(f"bench/run_all.py: {script.stem} ...", file=sys.stderr, flush=True)
        report["benchmarks"][script.stem] = entry = run_one(script, args.timeout)
        print(f"bench/run_all.py: {script.stem} {'ok' if entry['ok'] else 'FAILED'} in {entry['seconds']} s",
              file=sys.stderr, flush=True)
    report["failed"] = sorted(name for name, entry in report["benchmarks"].items() if not entry["ok"])
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

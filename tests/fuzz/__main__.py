"""`python -m tests.fuzz`: see tests/fuzz/__init__.py."""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAILING_OUTCOMES = ("untyped", "bad_output", "hang", "crash")
# a typed error must say what is wrong in the file in words, not carry a library's exception text (issue 25)
RAW_EXCEPTION_TEXT = re.compile(r"\b\w+(Error|Exception)\b:|invalid literal|could not convert|has no attribute|"
                                r"NoneType|Traceback|decoder said|available plugins|\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\) '")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description="Seeded fuzzing of the DICOM loader.")
    parser.add_argument("--count", type=int, default=300, help="mutated files to run (default 300)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--jobs", type=int, default=2, help="loader processes run in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per file before it counts as a hang")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space cap of each loader process")
    parser.add_argument("--decode-timeout", type=float, default=10.0,
                        help="the loader's own per-file decode limit (XRAYVIEW_DECODE_TIMEOUT_S)")
    parser.add_argument("--keep", type=Path, help="folder for the files that failed (default: a temp folder)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser


# --- the loading process ----------------------------------------------------------------------------------------

def worker_main() -> None:
    """Reads one file name per line on stdin, answers one JSON line per file on stdout."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    import warnings

    warnings.simplefilter("ignore")
    import numpy as np

    from inference.errors import DecodeTimeoutError, DecoderCrashedError, ImageLoadError
    from inference.image_io import load_image

    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        try:
            image = load_image(path)
            rendered = image.render()
            if rendered.shape != image.shape or not np.isfinite(rendered).all() or rendered.min() < 0 or \
                    rendered.max() > 1:
                reply = {"outcome": "bad_output", "detail": f"render {rendered.shape} finite="
                                                            f"{bool(np.isfinite(rendered).all())}"}
            else:
                reply = {"outcome": "ok"}
        except (KeyboardInterrupt, SystemExit):
            raise
        except ImageLoadError as exc:
            reply = {"outcome": "typed", "type": type(exc).__name__,
                     "contained": "crash" if isinstance(exc, DecoderCrashedError) else
                     "timeout" if isinstance(exc, DecodeTimeoutError) else None,
                     "detail": " ".join(str(exc).split())[:800]}
        except BaseException as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
            reply = {"outcome": "untyped", "type": type(exc).__name__, "detail": " ".join(str(exc).split())[:300]}
        replies.write(json.dumps(reply) + "\n")


# --- the orchestrator -------------------------------------------------------------------------------------------

class _Loader:
    """One loading process, restarted after a hang or a crash."""

    def __init__(self, args):
        self.args = args
        self.process = None
        self.lines: queue.Queue = queue.Queue()
        self.start()

    def start(self) -> None:
        env = dict(os.environ, XRAYVIEW_DECODE_TIMEOUT_S=str(self.args.decode_timeout),
                   XRAYVIEW_DECODER_MEMORY_MB=str(min(self.args.memory_mb, 2048)), XRAYVIEW_DECODER_WORKERS="1",
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
        memory = self.args.memory_mb << 20

        def limit():  # runs in the child before exec (POSIX)
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        self.process = subprocess.Popen([sys.executable, "-m", "tests.fuzz", "--worker"], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, preexec_fn=limit if os.name == "posix" else None)
        self.lines = queue.Queue()
        process, lines = self.process, self.lines

        def pump():
            for line in process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def run(self, path: Path) -> dict:
        try:
            self.process.stdin.write(str(path) + "\n")
            self.process.stdin.flush()
            line = self.lines.get(timeout=self.args.timeout)
        except queue.Empty:
            self.process.kill()
            self.process.wait()
            self.start()
            return {"outcome": "hang", "detail": f"no answer within {self.args.timeout:g} s"}
        except (BrokenPipeError, OSError):
            line = None
        if line is None:
            code = self.process.wait()
            self.start()
            return {"outcome": "crash", "detail": f"the loading process died (exit status {code})"}
        return json.loads(line)

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def run(args) -> dict:
    from tests.fuzz.mutate import mutate, seed_files

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="xrayview-fuzz-"))
    keep = args.keep or Path(tempfile.gettempdir()) / f"xrayview-fuzz-failures-seed{args.seed}"
    seeds = seed_files(work / "seeds")
    seed_bytes = [(path.name, path.read_bytes()) for path in seeds]
    jobs: queue.Queue = queue.Queue()
    for index in range(args.count):
        jobs.put(index)
    results: list[dict] = []
    lock = threading.Lock()

    def make(index: int) -> tuple[Path, dict]:
        rng = random.Random(f"{args.seed}:{index}")
        name, data = rng.choice(seed_bytes)
        mutated, family, what = mutate(rng, data)
        path = work / f"{index:06d}-{Path(name).stem}.dcm"
        path.write_bytes(mutated)
        return path, {"index": index, "seed_file": name, "mutation": family, "what": what}

    def drive():
        loader = _Loader(args)
        try:
            while True:
                try:
                    index = jobs.get_nowait()
                except queue.Empty:
                    return
                path, record = make(index)
                record.update(loader.run(path))
                if record["outcome"] in FAILING_OUTCOMES:
                    keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, keep / path.name)
                    record["kept"] = str(keep / path.name)
                path.unlink(missing_ok=True)
                with lock:
                    results.append(record)
        finally:
            loader.close()

    threads = [threading.Thread(target=drive) for _ in range(max(1, args.jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shutil.rmtree(work, ignore_errors=True)
    outcomes = Counter(r["outcome"] for r in results)
    typed = Counter(r["type"] for r in results if r["outcome"] == "typed")
    untyped = Counter(r["type"] for r in results if r["outcome"] == "untyped")
    by_mutation: dict[str, Counter] = {}
    for r in results:
        by_mutation.setdefault(r["mutation"], Counter())[r["outcome"]] += 1
    failures = sorted((r for r in results if r["outcome"] in FAILING_OUTCOMES), key=lambda r: r["index"])
    return {
        "fuzz": "dicom_loader", "seed": args.seed, "files": len(results), "jobs": args.jobs,
        "seconds": round(time.monotonic() - started, 1),
        "outcomes": {name: outcomes.get(name, 0) for name in ("ok", "typed", *FAILING_OUTCOMES)},
        "typed_errors": dict(sorted(typed.items())),
        "untyped_exceptions": dict(sorted(untyped.items())),
        # typed errors whose decoder panicked (pyo3 PanicException, a BaseException) inside the decoder worker
        "decoder_panics_contained": sum(1 for r in results if r["outcome"] == "typed"
                                        and "internal panic" in r.get("detail", "")),
        # typed errors whose message carries raw exception text instead of words
        "raw_exception_text": [{k: r[k] for k in ("index", "seed_file", "what", "type", "detail")}
                               for r in results if r["outcome"] == "typed"
                               and RAW_EXCEPTION_TEXT.search(r.get("detail", ""))],
        # decoder worker deaths (abort, segfault, memory cap) and time-outs the files' typed errors report
        "decoder_crashes_contained": sum(1 for r in results if r.get("contained") == "crash"
                                         or "decoder crashed" in r.get("detail", "")),
        "decoder_timeouts_contained": sum(1 for r in results if r.get("contained") == "timeout"
                                          or "limit per file" in r.get("detail", "")),
        "contained_examples": [{k: r[k] for k in ("index", "seed_file", "what", "type", "detail")}
                               for r in results if r["outcome"] == "typed" and (
                                   r.get("contained") or "internal panic" in r.get("detail", "")
                                   or "decoder crashed" in r.get("detail", ""))][:12],
        "by_mutation": {name: dict(sorted(counts.items())) for name, counts in sorted(by_mutation.items())},
        "seeds": sorted(name for name, _ in seed_bytes),
        "limits": {"per_file_timeout_s": args.timeout, "loader_memory_mb": args.memory_mb,
                   "decode_timeout_s": args.decode_timeout},
        "failures": failures[:50],
        "failures_kept_in": str(keep) if failures else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    report = run(args)
    print(json.dumps(report, indent=2))
    return 1 if any(report["outcomes"][name] for name in FAILING_OUTCOMES) else 0


if __name__ == "__main__":
    sys.exit(main())

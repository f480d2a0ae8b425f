"""Run every benchmark and write BENCHMARKS.md: a section per feature and one for the stack.

    .venv/bin/python bench/run_all.py                 # the full runs (about 30 minutes)
    .venv/bin/python bench/run_all.py --quick         # shorter runs (about 8 minutes)
    .venv/bin/python bench/run_all.py --only cors,stack --output /tmp/b.md

Each benchmark script runs in its own process, one after another (they would disturb each
other's timings otherwise), and its Markdown output goes under its heading as it printed it.
The file starts with the machine (CPUs, CPU model, Python), the date, the commit and the
commands that reproduce every section, and says how to read the budgets: a ratio printed with
``(budget <= 0.3x) ok`` is within its budget, ``OVER BUDGET`` is a regression to look at
(budgets are limits with headroom over the measured value, not goals; docs/benchmarks.md lists
them). A script that fails is reported with its exit code and the end of its error output; the
others still run. ``bench/fuzz.py`` is a fuzzer, not a benchmark, and is not run here.

The stack section runs its servers only where ``wrk`` is installed (``apt-get install wrk``);
``--server-path DIR`` is passed on to it (a directory holding httptools and uvloop, for
uvicorn; see ``bench/stack.py``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ".venv/bin/python"


@dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    timeout: int  # seconds, for the full run


BENCHMARKS = (
    Benchmark("timing", "Server-Timing", "bench/timing.py", (), ("--quick",), 900),
    Benchmark("compression", "Compression", "bench/compression.py", (), ("--quick",), 1800),
    Benchmark(
        "memory",
        "Compression: memory of one long stream",
        "bench/memory_stream.py",
        ("--coding", "all"),
        ("--coding", "all", "--mib", "32"),
        1800,
    ),
    Benchmark(
        "bombs",
        "Compression: request decoding bombs",
        "bench/decoding_bombs.py",
        (),
        ("--quick",),
        900,
    ),
    Benchmark("cors", "CORS", "bench/cors.py", (), ("--quick",), 900),
    Benchmark("sessions", "Sessions", "bench/sessions.py", (), ("--quick",), 1800),
    Benchmark("logging", "Request logging", "bench/logging_overhead.py", (), ("--quick",), 900),
    Benchmark(
        "websocket",
        "WebSocket: per message and per handshake",
        "bench/websocket.py",
        (),
        ("--quick",),
        600,
    ),
    Benchmark(
        "soak",
        "Soak: memory over many requests through the five-layer stack",
        "bench/soak.py",
        (),
        ("--requests", "20000"),
        1800,
    ),
    Benchmark("stack", "Full stack", "bench/stack.py", (), ("--quick",), 3600),
)


def machine() -> list[str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return [
        f"- Machine: {os.cpu_count()} CPUs (`nproc`), {model}, {platform.system()} "
        f"{platform.release()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: {commit or 'unknown'}{' (with uncommitted changes)' if dirty else ''}",
    ]


def command(benchmark: Benchmark, quick: bool, extra: tuple[str, ...]) -> list[str]:
    return [PYTHON, benchmark.script, *(benchmark.quick if quick else benchmark.full), *extra]


def run(benchmark: Benchmark, quick: bool, extra: tuple[str, ...]) -> tuple[list[str], float]:
    """The section's lines (the script's own output) and how long it took."""
    started = time.monotonic()
    argv = command(benchmark, quick, extra)
    limit = benchmark.timeout // (3 if quick else 1)
    try:
        result = subprocess.run(
            [sys.executable, *argv[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return [f"**Timed out** after {limit} s."], time.monotonic() - started
    spent = time.monotonic() - started
    lines = result.stdout.rstrip().splitlines()
    if result.returncode != 0:
        tail = result.stderr.rstrip().splitlines()[-15:]
        lines += ["", f"**Exited with code {result.returncode}.**", "", "```", *tail, "```"]
    return lines, spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs of every benchmark")
    parser.add_argument(
        "--only", help="comma-separated keys: " + ", ".join(b.key for b in BENCHMARKS)
    )
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--server-path", help="passed on to bench/stack.py")
    args = parser.parse_args(argv)
    chosen = BENCHMARKS
    if args.only:
        keys = set(args.only.split(","))
        unknown = keys - {b.key for b in BENCHMARKS}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = tuple(b for b in BENCHMARKS if b.key in keys)

    header = [
        "# Benchmarks",
        "",
        "Written by `bench/run_all.py`"
        + (" with `--quick` (shorter runs: expect more noise)" if args.quick else "")
        + ". Every table compares variants measured in the same run, interleaved, on a "
        "shared machine: read the ratios, not the absolute times, which drift with the "
        "machine's load.",
        "",
        "Budgets: a ratio marked `(budget <= 0.3x) ok` is within its budget; `OVER BUDGET` marks "
        "a regression to look at. A budget is a limit set with headroom over the measured value, "
        "not a goal; [docs/benchmarks.md](docs/benchmarks.md#budgets) lists every budget and the "
        "value it was set from.",
        "",
        *machine(),
        "",
        "Reproduce everything: `.venv/bin/python bench/run_all.py"
        + (" --quick" if args.quick else "")
        + (f" --server-path {args.server_path}" if args.server_path else "")
        + "`; each section below names its own command. The stack's server runs need `wrk` "
        "(`apt-get install wrk`); uvicorn uses httptools and uvloop when they are importable "
        "(`.venv/bin/pip install --target /tmp/uvicorn-standard httptools uvloop`, then "
        "`--server-path /tmp/uvicorn-standard`).",
        "",
    ]
    sections: list[str] = []
    for benchmark in chosen:
        extra: tuple[str, ...] = ()
        if benchmark.key == "stack" and args.server_path:
            extra = ("--server-path", args.server_path)
        print(f"running {benchmark.script} ...", file=sys.stderr, flush=True)
        lines, spent = run(benchmark, args.quick, extra)
        print(f"  done in {spent:.0f} s", file=sys.stderr, flush=True)
        sections += [
            f"## {benchmark.title}",
            "",
            f"`{shlex.join(command(benchmark, args.quick, extra))}` ({spent:.0f} s)",
            "",
            *lines,
            "",
        ]
    Path(args.output).write_text("\n".join(header + sections).rstrip() + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

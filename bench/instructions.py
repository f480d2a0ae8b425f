"""Instructions per request through the in-process stack, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py                        # this tree, asgi_quiet and wsgi_quiet, /json
    .venv/bin/python bench/instructions.py --tree /tmp/old --variant asgi_quiet --path /page
    .venv/bin/python bench/instructions.py --variant wsgi_raw+TimingMiddleware   # one layer alone

Wall-clock timings on a shared machine drift by more than the differences a refactoring makes;
an instruction count is the same from run to run for the same code and inputs (seen here within
about 1k instructions of 150k). Each count runs the stack of ``bench/_stack_apps.py`` (``build``)
in process, as ``bench/stack.py`` does, twice under callgrind, with ``small`` and ``large``
requests, and reports the difference divided by the difference in requests, so start-up and
imports cancel out. ``--tree`` names another checkout (a ``git worktree``) to compare against.
Needs ``valgrind`` (Debian's package). Also ``--leftovers``: the objects per request left to the
cycle collector (a reference cycle in a per-request object shows up there, and costs time).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import asyncio, gc, sys
tree, variant, path, n, leftovers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
sys.path.insert(0, tree)
from bench._stack_apps import build
from bench.stack import asgi_batch, wsgi_batch
variant, _, layer = variant.partition("+")
app = build(variant)
if layer:
    import importlib
    from bench._stack_apps import CORS_OPTIONS, SECRET
    protocol = "asgi" if variant.startswith(("asgi", "starlette")) else "wsgi"
    cls = getattr(importlib.import_module("middleware." + protocol), layer)
    options = {"CORSMiddleware": CORS_OPTIONS, "SessionMiddleware": {"secret_key": SECRET}}
    app = cls(app, **options.get(layer, {}))
if variant.startswith(("wsgi", "flask", "django")):
    batch = wsgi_batch(app, path)
    run = batch
else:
    loop = asyncio.new_event_loop()
    batch = asgi_batch(app, path)
    run = lambda count: loop.run_until_complete(batch(count))
run(50)
if leftovers:
    gc.collect(); gc.disable()
    run(n)
    print(gc.collect() / n)
else:
    run(n)
"""


def instructions(tree: str, variant: str, path: str, requests: int) -> int:
    """callgrind's total for ``requests`` requests (plus start-up)."""
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "run.py"
        script.write_text(RUN)
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(script),
                tree,
                variant,
                path,
                str(requests),
                "0",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(match[1])


def leftovers(tree: str, variant: str, path: str) -> float:
    """Objects per request that only the cycle collector frees."""
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "run.py"
        script.write_text(RUN)
        done = subprocess.run(
            [sys.executable, str(script), tree, variant, path, "200", "1"],
            capture_output=True,
            text=True,
            check=True,
        )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(ROOT))
    parser.add_argument("--variant", action="append", help="default: asgi_quiet and wsgi_quiet")
    parser.add_argument("--path", default="/json")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=3200)
    parser.add_argument("--leftovers", action="store_true")
    args = parser.parse_args()
    print("| tree | variant | path | instructions per request | left to the cycle collector |")
    print("|---|---|---|---:|---:|")
    for variant in args.variant or ["asgi_quiet", "wsgi_quiet"]:
        small = instructions(args.tree, variant, args.path, args.small)
        large = instructions(args.tree, variant, args.path, args.large)
        per = (large - small) // (args.large - args.small)
        left = f"{leftovers(args.tree, variant, args.path):.1f}" if args.leftovers else "-"
        print(f"| {args.tree} | {variant} | {args.path} | {per:,} | {left} |")


if __name__ == "__main__":
    main()

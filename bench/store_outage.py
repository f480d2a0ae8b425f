"""Log volume of a session-store outage: lines and bytes logged per failed request.

    .venv/bin/python bench/store_outage.py                      # this checkout
    .venv/bin/python bench/store_outage.py --root /tmp/old      # another checkout's middleware
    .venv/bin/python bench/store_outage.py --requests 200 --servers uvicorn

Each server (gunicorn sync, uvicorn, hypercorn; one worker) serves the README's stack
(``bench/_outage_app.py``, which is ``tests/integration/fault_apps.py``) with a ``RedisStore``
on a redis-server this script starts on a free 127.0.0.1 port. One request makes a session
while Redis is up; then Redis is stopped (by PID) and ``--requests`` requests touch the
session: half with the cookie (the record cannot be read: the app runs into the error), half
without (the new session cannot be written). Every one should get 503. The server's whole
output (stdout and stderr: our loggers at INFO as ``LOG <logger> <LEVEL> <message>``, the
server's own log) during the outage is divided by the number of requests. The access record
(one per request, wanted) is counted apart from the rest.

Issue 16: a failed request should cost one ERROR line naming the store and the error, plus its
access record: no traceback, nothing re-raised to the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.integration.redis_server import REDIS_SERVER, RedisServer  # noqa: E402
from tests.integration.servers import command, free_port  # noqa: E402

SERVERS = {
    "gunicorn-sync": "bench._outage_app:wsgi_app",
    "uvicorn": "bench._outage_app:asgi_app",
    "hypercorn": "bench._outage_app:asgi_app",
}
HEADERS = {"origin": "https://app.example", "accept-encoding": "gzip"}


@dataclass(frozen=True, kw_only=True)
class Outage:
    """What the server wrote while Redis was down, per failed request."""

    middleware: str  # the middleware package the server imported
    answers: Counter[object]  # status codes (or client errors) and how many
    seconds: float
    lines: float
    bytes: float
    access_lines: float
    other_lines: float
    other_bytes: float
    tracebacks: float

    def row(self, server: str) -> str:
        answers = ", ".join(f"{key}: {count}" for key, count in self.answers.items())
        return (
            f"| {server} | {answers} | {self.lines:.1f} | {self.bytes:.0f} | "
            f"{self.access_lines:.1f} | {self.other_lines:.1f} | {self.other_bytes:.0f} | "
            f"{self.tracebacks:.1f} |"
        )


def measure(server: str, middleware_root: Path, requests: int) -> Outage:
    """Serve the stack with ``server``, stop Redis, and count the output per failed request."""
    with RedisServer() as redis, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        log_path = Path(tmp) / "server.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BENCH_MIDDLEWARE_ROOT": str(middleware_root),
            "REDIS_URL": redis.url,
        }
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                command(server, SERVERS[server], port),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_until_up(url, process)
                return _outage(url, redis, log_path, requests)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with code {process.returncode}")
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within 20 s")


def _outage(url: str, redis: RedisServer, log_path: Path, requests: int) -> Outage:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as client:
        cookie = client.get("/session").headers["set-cookie"].split(";")[0]
    origin = _origin(log_path)
    redis.stop()
    mark = log_path.stat().st_size
    statuses: Counter[object] = Counter()
    started = time.monotonic()
    # A connection per request, so the count is the same whether or not the server keeps one
    # open; a client error is counted among the answers rather than stopping the run.
    for index in range(requests):
        with_cookie = index < requests // 2
        try:
            response = httpx.get(
                url + "/session",
                headers={**HEADERS, **({"cookie": cookie} if with_cookie else {})},
                timeout=10,
            )
            statuses[response.status_code] += 1
        except httpx.HTTPError as exc:
            statuses[type(exc).__name__] += 1
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # the last access records are written once each response ended
    output = log_path.read_bytes()[mark:]
    lines = output.decode(errors="replace").splitlines()
    access = [line for line in lines if line.startswith("LOG middleware.access ")]
    access_bytes = sum(len(line) + 1 for line in access)
    return Outage(
        middleware=origin,
        answers=statuses,
        seconds=elapsed,
        lines=len(lines) / requests,
        bytes=len(output) / requests,
        access_lines=len(access) / requests,
        other_lines=(len(lines) - len(access)) / requests,
        other_bytes=(len(output) - access_bytes) / requests,
        tracebacks=sum(line.startswith("Traceback") for line in lines) / requests,
    )


def _origin(log_path: Path) -> str:
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("LOG bench INFO middleware from "):
            return line.rsplit(" ", 1)[1]
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout whose middleware to serve"
    )
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args()
    if REDIS_SERVER is None:
        sys.exit("redis-server is not installed")
    print(
        f"#### Store outage: output per failed request (`{args.root}`, {args.requests} requests)\n"
    )
    print(
        "| server | answers | lines | bytes | access lines | other lines | other bytes | tracebacks |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for server in args.servers.split(","):
        outage = measure(server, args.root.resolve(), args.requests)
        print(outage.row(server), flush=True)
        print(f"  ({server}: {outage.middleware}, {outage.seconds:.1f} s)", file=sys.stderr)
    print()


if __name__ == "__main__":
    main()

"""Shared benchmark harness: per-request cost of an app, in process, as ratios in one run.

The machine is shared and has two cores, so absolute times drift; every table compares
variants measured in the same run, interleaved, taking the best of several rounds, timed in
this process's CPU time (``time.process_time``), which other processes' load does not inflate.

    from bench._harness import asgi_cost, wsgi_cost, table

    raw = asgi_cost(app)
    ours = asgi_cost(TimingMiddleware(app))
    print(table("ASGI", [("raw", raw), ("ours", ours)], baseline=raw))
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

ROUNDS = 7
clock = time.process_time


def make_scope(
    path: str = "/", headers: list[tuple[bytes, bytes]] | None = None, method: str = "GET"
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }


def asgi_cost(
    app: Callable[..., Any],
    *,
    scope: dict[str, Any] | None = None,
    body: bytes = b"",
    n: int = 20_000,
    rounds: int = ROUNDS,
) -> float:
    """Best-of-rounds microseconds per request for ``app``."""
    base = scope or make_scope()
    request = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        return None

    async def loop() -> float:
        best = float("inf")
        for _ in range(rounds):
            start = clock()
            for _ in range(n):
                await app(dict(base), receive, send)
            best = min(best, (clock() - start) / n * 1e6)
        return best

    return asyncio.run(loop())


def make_environ(path: str = "/", headers: dict[str, str] | None = None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(headers or {})
    return environ


def wsgi_cost(
    app: Callable[..., Iterable[bytes]],
    *,
    environ: dict[str, Any] | None = None,
    n: int = 20_000,
    rounds: int = ROUNDS,
) -> float:
    """Best-of-rounds microseconds per request, consuming and closing the body as a server does."""
    base = environ or make_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    best = float("inf")
    for _ in range(rounds):
        start = clock()
        for _ in range(n):
            body = app(dict(base), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        best = min(best, (clock() - start) / n * 1e6)
    return best


def table(title: str, rows: list[tuple[str, float]], *, baseline: float) -> str:
    """A Markdown table: µs/request, overhead over the baseline, and ratio to the first peer."""
    lines = [f"### {title}", "", "| variant | µs/request | overhead µs |", "|---|---:|---:|"]
    for name, cost in rows:
        lines.append(f"| {name} | {cost:.2f} | {cost - baseline:+.2f} |")
    return "\n".join(lines)


def ratio(ours: float, theirs: float, baseline: float) -> float:
    """Our overhead over the baseline divided by theirs (below 1 means we add less)."""
    return max(ours - baseline, 0.0) / max(theirs - baseline, 1e-9)


def verdict(value: float, budget: float, *, digits: int = 2) -> str:
    """``ok`` or ``OVER BUDGET``: ``value`` as printed (rounded to ``digits``) against its budget.

    A budget is a limit set with headroom over the last measured value, not a goal
    (docs/benchmarks.md#budgets): a row over budget is a regression to look at."""
    return "ok" if round(value, digits) <= budget else "OVER BUDGET"


def within(value: float, budget: float, *, unit: str = "x", digits: int = 2) -> str:
    """``(budget <= 0.3x) ok`` or ``(budget <= 0.3x) OVER BUDGET``, for a line or a cell."""
    return f"(budget <= {budget:g}{unit}) {verdict(value, budget, digits=digits)}"

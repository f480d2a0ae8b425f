"""Requests running at once never see each other's values, through the full stack.

1,000 concurrent ASGI requests on one event loop, and 32 WSGI threads sharing one stack, each
request with its own request ID, session cookie, Server-Timing metric and body. The apps yield
to the others between every step (an ``await asyncio.sleep(0)``, a thread switch), so the
requests interleave at every point where state could leak; then every response, every access
record and every ``on_complete`` call is checked against its own request only.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import middleware.asgi as masgi
import middleware.wsgi as mwsgi
from middleware import Middleware, request_id, timing
from middleware.core.session_codec import Decoded, SessionCodec
from tests.drivers import Result, acall, call_wsgi

SECRET = "s3cret-for-concurrency"
CODEC = SessionCodec(SECRET)
ORIGIN = "https://app.example"


class Completed:
    """on_complete's calls, with the request ID current when each ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, timings: Any) -> None:
        with self.lock:
            self.calls.append((request_id.get(), timings))


def stack(m: Any, app: Any, completed: Completed) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware, on_complete=completed),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key=SECRET),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def request_headers(n: int) -> list[tuple[str, str]]:
    cookie = CODEC.encode({"n": n}, now=int(time.time())).decode("ascii")
    return [
        ("x-request-id", f"req-{n}"),
        ("cookie", f"session={cookie}"),
        ("origin", ORIGIN),
        ("accept-encoding", "gzip"),
    ]


def body_for(n: int, rid: str | None, session_n: object) -> bytes:
    return f"{n}|{rid}|{session_n}|".encode() * 40


def check_response(n: int, result: Result) -> None:
    assert result.status == 200, (n, result.status)
    assert result.header("x-request-id") == f"req-{n}"
    body = gzip.decompress(result.body) if result.header("content-encoding") else result.body
    # The app saw this request's ID and session, before and during the body.
    assert body == body_for(n, f"req-{n}", n) * 2
    timing_value = result.header("server-timing") or ""
    assert re.findall(r'desc="([^"]*)"', timing_value) == [f"request {n}"]
    cookies = result.header_all("set-cookie")
    assert len(cookies) == 1
    token = cookies[0].split(";")[0].removeprefix("session=").encode()
    decoded = CODEC.decode(token, now=int(time.time()), max_age=60)
    assert isinstance(decoded, Decoded) and decoded.data == {"n": n, "seen": n}


def check_logs_and_timings(
    caplog: pytest.LogCaptureFixture, completed: Completed, count: int
) -> None:
    records = [r for r in caplog.records if r.name == "middleware.access"]
    assert len(records) == count
    for record in records:
        # The record of /item/7 carries req-7, and nothing else does.
        assert record.request_id == "req-" + record.path.rsplit("/", 1)[1]
        assert f'"request_id":"{record.request_id}"' in record.getMessage()
    assert sorted(r.request_id for r in records) == sorted(f"req-{n}" for n in range(count))
    assert len(completed.calls) == count
    for rid, timings in completed.calls:
        assert rid is not None
        assert [m[2] for m in timings.metrics] == [f"request {rid.removeprefix('req-')}"]


# --- ASGI -----------------------------------------------------------------------------------------

ASGI_REQUESTS = 1000


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    n = int(scope["path"].rsplit("/", 1)[1])
    await asyncio.sleep(0)
    session = scope["session"]
    assert session["n"] == n
    await asyncio.sleep(0)
    session["seen"] = n
    timing.record("work", 1.0, f"request {n}")
    await asyncio.sleep(0)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for more in (True, False):
        await asyncio.sleep(0)
        chunk = body_for(n, request_id.get(), session.get("n"))
        await send({"type": "http.response.body", "body": chunk, "more_body": more})


async def test_1000_concurrent_asgi_requests_keep_their_own_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="middleware.access")
    completed = Completed()
    app = stack(masgi, asgi_app, completed)
    results = await asyncio.gather(
        *(acall(app, "GET", f"/item/{n}", "", request_headers(n)) for n in range(ASGI_REQUESTS))
    )
    for n, result in enumerate(results):
        assert result.error is None
        check_response(n, result)
    check_logs_and_timings(caplog, completed, ASGI_REQUESTS)
    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert not left


# --- WSGI -----------------------------------------------------------------------------------------

THREADS = 32
PER_THREAD = 8


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    n = int(environ["PATH_INFO"].rsplit("/", 1)[1])
    time.sleep(0)
    session = environ["middleware.session"]
    assert session["n"] == n
    session["seen"] = n
    time.sleep(0)
    timing.record("work", 1.0, f"request {n}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _body(n, session)


def _body(n: int, session: Any) -> Iterator[bytes]:
    for _ in range(2):
        time.sleep(0)
        yield body_for(n, request_id.get(), session.get("n"))


def test_32_wsgi_threads_keep_their_own_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="middleware.access")
    completed = Completed()
    app = stack(mwsgi, wsgi_app, completed)
    results: dict[int, Result] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for k in range(PER_THREAD):
                n = index * PER_THREAD + k
                results[n] = call_wsgi(app, "GET", f"/item/{n}", "", request_headers(n))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads far more often than the default 5 ms
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[0]
    total = THREADS * PER_THREAD
    assert sorted(results) == list(range(total))
    for n, result in results.items():
        assert result.error is None
        check_response(n, result)
    check_logs_and_timings(caplog, completed, total)

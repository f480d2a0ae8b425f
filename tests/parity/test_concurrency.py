"""Requests running at once never see each other's values, through the full stack.

1,000 concurrent ASGI requests on one event loop, and 32 WSGI threads sharing one stack, each
request with its own request ID, session cookie, Server-Timing metric and body. The apps yield
to the others between every step (an ``await asyncio.sleep(0)``, a thread switch), so the
requests interleave at every point where state could leak; then every response, every access
record and every ``on_complete`` call is checked against its own request only.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from middleware import Middleware, request_id, timing
from middleware.core.session_codec import Decoded, SessionCodec
from tests.drivers import Result
from tests.parity.runner import run_together
from tests.parity.vectors import AppContext, Reply, Request, Vector

SECRET = "s3cret-for-concurrency"
CODEC = SessionCodec(SECRET)
ORIGIN = "https://app.example"
# Requests on one event loop (ASGI); WSGI: 32 threads, 8 requests each.
COUNT = {"asgi": 1000, "wsgi": 32 * 8}


class Completed:
    """on_complete's calls, with the request ID current when each ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, timings: Any) -> None:
        with self.lock:
            self.calls.append((request_id.get(), timings))


def stack(completed: Completed) -> Any:
    return lambda m, app: m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware, on_complete=completed),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key=SECRET),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def number(ctx: AppContext) -> int:
    return int(ctx.path.rsplit("/", 1)[1])


def read(ctx: AppContext) -> None:
    assert ctx.session["n"] == number(ctx)


def mark(ctx: AppContext) -> None:
    ctx.session["seen"] = number(ctx)


def record(ctx: AppContext) -> None:
    timing.record("work", 1.0, f"request {number(ctx)}")


def body_for(n: int, rid: str | None, session_n: object) -> bytes:
    return f"{n}|{rid}|{session_n}|".encode() * 40


def piece(ctx: AppContext) -> bytes:
    """What the app sees while it produces its body: the request ID and the session."""
    return body_for(number(ctx), request_id.get(), ctx.session.get("n"))


# The app reads this request's session, marks it seen and records a metric naming the request,
# yielding to the others between every step (an ``await asyncio.sleep(0)``, a thread switch),
# so the requests interleave at every point where state could leak.
REPLY = Reply(
    headers=(("content-type", "text/plain"),),
    before=(read, mark, record),
    chunks=(piece, piece),
    yields=True,
)


def vector(n: int) -> Vector:
    cookie = CODEC.encode({"n": n}, now=int(time.time())).decode("ascii")
    return Vector(
        id=f"request-{n}",
        request=Request(
            path=f"/item/{n}",
            headers=[
                ("x-request-id", f"req-{n}"),
                ("cookie", f"session={cookie}"),
                ("origin", ORIGIN),
                ("accept-encoding", "gzip"),
            ],
        ),
        reply=REPLY,
        headers={
            "x-request-id": f"req-{n}",
            "content-encoding": "gzip",
            "server-timing": re.compile(rf'app;dur=[0-9.]+, work;dur=1\.000;desc="request {n}"'),
            "set-cookie": re.compile(r"session=.*"),
        },
        # The app saw this request's ID and session, before and during the body.
        body=body_for(n, f"req-{n}", n) * 2,
    )


def check_cookie(n: int, result: Result) -> None:
    token = result.header_all("set-cookie")[0].split(";")[0].removeprefix("session=").encode()
    decoded = CODEC.decode(token, now=int(time.time()), max_age=60)
    assert isinstance(decoded, Decoded) and decoded.data == {"n": n, "seen": n}


def check_logs_and_timings(result_logs: list[Any], completed: Completed, count: int) -> None:
    records: list[Any] = [r for r in result_logs if r.name == "middleware.access"]
    assert len(records) == count
    for record in records:
        # The record of /item/7 carries req-7, and nothing else does.
        assert record.request_id == "req-" + record.path.rsplit("/", 1)[1]
        assert f'"request_id":"{record.request_id}"' in record.getMessage()
        assert (record.status, record.outcome) == (200, "completed")
    assert sorted(r.request_id for r in records) == sorted(f"req-{n}" for n in range(count))
    assert len(completed.calls) == count
    for rid, timings in completed.calls:
        assert rid is not None
        assert [m[2] for m in timings.metrics] == [f"request {rid.removeprefix('req-')}"]
    loud = [r for r in result_logs if r.levelno >= logging.WARNING or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]


def test_concurrent_requests_keep_their_own_values(serve: Any) -> None:
    count = COUNT[serve.protocol]
    completed = Completed()
    vectors = [vector(n) for n in range(count)]
    results = run_together(serve, stack(completed), REPLY, vectors, threads=32)
    for n, result in enumerate(results):
        check_cookie(n, result)
    check_logs_and_timings(results[0].logs, completed, count)

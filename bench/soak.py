"""Soak: 100,000 requests through the full five-layer stack on each protocol, memory traced.

    .venv/bin/python bench/soak.py                      # 100,000 requests per protocol
    .venv/bin/python bench/soak.py --requests 20000 --protocol asgi

The stack is RequestLogging (JSON lines, formatted and dropped) > Timing > CORS > Sessions >
Compression, the order of tests/parity/test_stack.py. Requests cycle through a mix that touches
every path that could hold on to memory: compressed streams in gzip, br and zstd, HEAD, session
reads, writes and tampered cookies, allowed and refused preflights, an app that raises before
its response and one that raises mid-body, a client that leaves mid-body, and values that are
new on every request (request IDs, paths, queries, Accept-Encoding values, cookies) so that no
per-value cache can grow without bound unnoticed.

Memory is measured with tracemalloc: after a warm-up (10% of the requests; caches fill, pools
settle), the traced size is sampled (after ``gc.collect()``) every 5% of the run. The script
prints the samples, the growth past the warm-up and the per-request slope, and fails when the
growth exceeds ``--bound`` bytes (default 256 KiB; a leak of 3 bytes per request breaks it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import logging
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import middleware.asgi as masgi  # noqa: E402
import middleware.wsgi as mwsgi  # noqa: E402
from middleware import Middleware, timing  # noqa: E402
from middleware.core.session_codec import SessionCodec  # noqa: E402

SECRET = "soak-secret"
ORIGIN = "https://app.example"
CODEC = SessionCodec(SECRET)
BODY = b"<li>" + b"soak " * 200 + b"</li>\n"


class Boom(Exception):
    """The app's own failure."""


class Sink(logging.Handler):
    """Formats every record, as a real handler would, and keeps nothing."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        record.getMessage()
        if record.exc_info:
            logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.count += 1


SINK = Sink()


def _setup_logging() -> None:
    for name in ("middleware.access", "middleware.errors", "middleware.sessions"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [SINK]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def build(m: Any, app: Any) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware, on_complete=lambda timings: None),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key=SECRET),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


@dataclass(frozen=True)
class Case:
    """One request of the mix."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    action: str  # none, read, write, raise-before, raise-mid
    leave_after: int | None  # the client leaves after this many body chunks


_VALID_COOKIE = CODEC.encode({"user": "ada"}, now=int(time.time())).decode("ascii")


def case(i: int) -> Case:
    """The i-th request of the mix (13 kinds, values new on every request where it matters)."""
    kind = i % 13
    headers = [("accept-encoding", ("gzip", "br", "zstd")[i % 3]), ("x-request-id", f"soak-{i}")]
    method, path, query, action, leave = "GET", "/", "", "none", None
    if kind == 1:
        headers += [("cookie", f"session={_VALID_COOKIE}"), ("origin", ORIGIN)]
        action = "read"
    elif kind == 2:
        method, action = "POST", "write"
    elif kind in (3, 4):
        method = "OPTIONS"
        origin = ORIGIN if kind == 3 else f"https://evil{i}.example"
        headers += [("origin", origin), ("access-control-request-method", "GET")]
    elif kind == 5:
        action = "raise-before"
    elif kind == 6:
        action = "raise-mid"
    elif kind == 7:
        headers.append(("cookie", f"session={_VALID_COOKIE[:-3]}{i % 1000:03d}"))
        action = "read"
    elif kind == 8:
        leave = 1
    elif kind == 9:
        path, query = f"/item/{i}", f"page={i}&q=%00{i}"
    elif kind == 10:
        headers = [("accept-encoding", f"gzip;q=0.{i % 1000:03d}, br;q=0.{(i * 7) % 1000:03d}")]
    elif kind == 11:
        method = "HEAD"
    elif kind == 12:
        headers += [("origin", f"https://client{i}.example"), ("user-agent", f"agent/{i}")]
    return Case(method, path, query, headers, action, leave)


def _app_work(session: Any, action: str, i: int) -> None:
    timing.record("work", 0.5, f"request {i % 7}")
    if action == "read":
        session.get("user")
    elif action == "write":
        session["user"] = f"user-{i}"
    elif action == "raise-before":
        raise Boom("before the response")


# --- WSGI -----------------------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
    i = environ["soak.index"]
    action = environ["soak.action"]
    _app_work(environ["middleware.session"], action, i)
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    if environ["REQUEST_METHOD"] == "HEAD":
        return []
    return _chunks(action)


def _chunks(action: str) -> Iterator[bytes]:
    for index in range(3):
        if action == "raise-mid" and index == 1:
            raise Boom("mid-body")
        yield BODY


def serve_wsgi(app: Callable[..., Any], i: int) -> None:
    request = case(i)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_NAME": "soak",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "soak.index": i,
        "soak.action": request.action,
    }
    for name, value in request.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return lambda data: None

    iterable = app(environ, start_response)
    try:
        for count, _chunk in enumerate(iterable, 1):
            if request.leave_after is not None and count >= request.leave_after:
                break
    except Boom:
        pass
    finally:
        iterable.close()


# --- ASGI -----------------------------------------------------------------------------------------


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    i = scope["state"]["index"]
    action = scope["state"]["action"]
    _app_work(scope["session"], action, i)
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    for index in range(3):
        if action == "raise-mid" and index == 1:
            raise Boom("mid-body")
        await send({"type": "http.response.body", "body": BODY, "more_body": index < 2})


class Gone(OSError):
    """The client left (what a server's send raises then)."""


async def serve_asgi(app: Callable[..., Any], i: int) -> None:
    request = case(i)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query.encode(),
        "root_path": "",
        "headers": [(n.encode(), v.encode()) for n, v in request.headers],
        "client": ("127.0.0.1", 50000),
        "server": ("soak", 80),
        "state": {"index": i, "action": request.action},
    }
    bodies = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal bodies
        if message["type"] == "http.response.body":
            if request.leave_after is not None and bodies >= request.leave_after:
                raise Gone("client disconnected")
            bodies += 1

    try:
        await app(scope, receive, send)
    except (Boom, Gone):
        pass


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    protocol: str
    requests: int
    seconds: float
    baseline: int
    samples: list[tuple[int, int]]  # (requests done, traced bytes)

    @property
    def growth(self) -> int:
        return self.samples[-1][1] - self.baseline

    @property
    def peak_growth(self) -> int:
        return max(size for _, size in self.samples) - self.baseline

    @property
    def slope(self) -> float:
        """Bytes per request, least-squares over the samples after the warm-up."""
        xs = [float(x) for x, _ in self.samples]
        ys = [float(y) for _, y in self.samples]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mean_x) ** 2 for x in xs)
        if not var:
            return 0.0
        return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def soak(protocol: str, requests: int, *, verbose: bool = False) -> Report:
    """Run ``requests`` requests through the stack, sampling traced memory after a warm-up."""
    _setup_logging()
    warmup = max(1, requests // 10)
    step = max(1, requests // 20)
    checkpoints = set(range(warmup + step, requests + 1, step)) | {requests}
    samples: list[tuple[int, int]] = []
    started = time.perf_counter()
    tracemalloc.start()
    try:
        if protocol == "wsgi":
            app = build(mwsgi, wsgi_app)
            for i in range(warmup):
                serve_wsgi(app, i)
            baseline = _traced()
            for i in range(warmup, requests):
                serve_wsgi(app, i)
                if i + 1 in checkpoints:
                    samples.append((i + 1, _traced()))
                    if verbose:
                        print(f"  {protocol} {i + 1:>7} requests: {samples[-1][1]:>10,} B")
        else:
            app = build(masgi, asgi_app)

            async def run() -> int:
                for i in range(warmup):
                    await serve_asgi(app, i)
                base = _traced()
                for i in range(warmup, requests):
                    await serve_asgi(app, i)
                    if i + 1 in checkpoints:
                        samples.append((i + 1, _traced()))
                        if verbose:
                            print(f"  {protocol} {i + 1:>7} requests: {samples[-1][1]:>10,} B")
                left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                assert not left, f"tasks left behind: {left!r}"
                return base

            baseline = asyncio.run(run())
    finally:
        tracemalloc.stop()
    return Report(protocol, requests, time.perf_counter() - started, baseline, samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--protocol", choices=("wsgi", "asgi", "both"), default="both")
    parser.add_argument("--bound", type=int, default=256 * 1024, help="allowed growth, bytes")
    args = parser.parse_args()
    protocols = ("wsgi", "asgi") if args.protocol == "both" else (args.protocol,)
    failed = False
    for protocol in protocols:
        report = soak(protocol, args.requests, verbose=True)
        ok = report.growth <= args.bound and report.peak_growth <= args.bound
        failed |= not ok
        print(
            f"{protocol}: {report.requests:,} requests in {report.seconds:.1f} s, "
            f"{SINK.count:,} log records so far; traced after warm-up {report.baseline:,} B, "
            f"growth at the end {report.growth:+,} B, largest {report.peak_growth:+,} B, "
            f"slope {report.slope:+.3f} B/request; bound {args.bound:,} B: "
            f"{'flat' if ok else 'GROWING'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

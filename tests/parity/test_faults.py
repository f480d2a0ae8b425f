"""Fault injection through the full five-layer stack, on both protocols.

Each fault is run through RequestLogging > Timing > CORS > Sessions > Compression, the order of
tests/parity/test_stack.py, and checked for: the documented status and headers, the app's
iterable closed exactly once (WSGI), every stream encoder finished or closed, no asyncio task
left behind (ASGI), exactly one access record with the right outcome, and ``on_complete``
called exactly once. A failing session store is run through the same stack with
``SessionMiddleware(store=...)``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import middleware.asgi as masgi
import middleware.wsgi as mwsgi
from middleware import Middleware
from middleware.core import codecs
from middleware.stores import MemoryStore
from tests.drivers import Result, acall, call_wsgi

ORIGIN = "https://app.example"
REQUEST = [("origin", ORIGIN), ("accept-encoding", "gzip")]
HTML = [("content-type", "text/html; charset=utf-8")]
PNG = [("content-type", "image/png")]
CHUNK = b"<p>" + b"x" * 600 + b"</p>"


class Boom(Exception):
    """The app's failure."""


class CloseFailed(Exception):
    """The app's iterable failing in close()."""


class Probe:
    def __init__(self) -> None:
        self.closed = 0
        self.completed: list[Any] = []


def stack(m: Any, app: Any, probe: Probe, store: Any = None) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware, on_complete=probe.completed.append),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-faults", store=store),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


# --- the apps: one behaviour, both protocols ------------------------------------------------


def wsgi_app(
    fail: str | None, headers: list[tuple[str, str]], probe: Probe, *, close_raises: bool = False
) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ["middleware.session"]["user"] = "ada"
        if fail == "before-start":
            raise Boom("before the response started")
        start_response("200 OK", list(headers))
        return _Body(fail, probe, close_raises)

    return app


class _Body:
    def __init__(self, fail: str | None, probe: Probe, close_raises: bool) -> None:
        self.fail, self.probe, self.close_raises = fail, probe, close_raises
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.fail == "after-start" or (self.fail == "mid-body" and self.sent == 1):
            raise Boom(f"after {self.sent} chunks")
        if self.sent == 3:
            raise StopIteration
        self.sent += 1
        return CHUNK

    def close(self) -> None:
        self.probe.closed += 1
        if self.close_raises:
            raise CloseFailed("close() failed")


def asgi_app(fail: str | None, headers: list[tuple[str, str]]) -> Callable[..., Any]:
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["session"]["user"] = "ada"
        if fail == "before-start":
            raise Boom("before the response started")
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        if fail == "after-start":
            raise Boom("after 0 chunks")
        for index in range(3):
            if fail == "mid-body" and index == 1:
                raise Boom("after 1 chunks")
            await send({"type": "http.response.body", "body": CHUNK, "more_body": index < 2})

    return app


# --- what is checked after every fault ---------------------------------------------------------


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every stream encoder the compression layer makes during the test."""
    made: list[Any] = []
    original = codecs.GzipCodec.encoder

    def tracked(self: Any, size_hint: int | None) -> Any:
        encoder = original(self, size_hint)
        made.append(encoder)
        return encoder

    monkeypatch.setattr(codecs.GzipCodec, "encoder", tracked)
    return made


def assert_released(encoders: list[Any]) -> None:
    # finish() and close() both drop the zlib stream; one still held is a leaked compressor.
    assert all(encoder._zlib is None for encoder in encoders), "an encoder was left open"


def access_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [record for record in caplog.records if record.name == "middleware.access"]


def assert_one_record(
    caplog: pytest.LogCaptureFixture, status: int, outcome: str, result: Result | None = None
) -> None:
    records = access_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].status == status and records[0].outcome == outcome
    if result is not None:
        assert records[0].request_id == result.header("x-request-id")


def assert_crash_answer(result: Result) -> None:
    """The plain 500 of "crashes keep their headers": every outer layer's headers are on it."""
    assert result.status == 500
    body = gzip.decompress(result.body) if result.header("content-encoding") else result.body
    assert body == b"Internal Server Error"
    assert result.header("access-control-allow-origin") == ORIGIN
    assert result.header("server-timing") is not None
    assert result.header("x-request-id") is not None
    assert result.header("set-cookie") is None  # a 5xx does not save the session


async def run_asgi(app: Any, **kwargs: Any) -> Result:
    result = await acall(app, "GET", "/", "", REQUEST, **kwargs)
    await asyncio.sleep(0)
    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert not left, f"tasks left behind: {left!r}"
    return result


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# --- the faults ----------------------------------------------------------------------------------


def test_wsgi_app_raises_before_the_response(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    result = call_wsgi(stack(mwsgi, wsgi_app("before-start", HTML, probe), probe), headers=REQUEST)
    assert_crash_answer(result)
    assert result.error is None  # answered, and logged once on middleware.errors
    errors = [r for r in caplog.records if r.name == "middleware.errors"]
    assert len(errors) == 1 and errors[0].exc_info[0] is Boom
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert_released(encoders)


async def test_asgi_app_raises_before_the_response(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app("before-start", HTML), probe))
    assert_crash_answer(result)
    assert isinstance(result.error, Boom)  # re-raised unchanged for the server to log
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert_released(encoders)


@pytest.mark.parametrize("headers", [HTML, PNG], ids=["held-start", "forwarded-start"])
def test_wsgi_app_raises_after_start_response(
    caplog: Any, encoders: list[Any], headers: list[tuple[str, str]]
) -> None:
    # PEP 3333: the headers leave with the first body byte, so nothing had left: a 500.
    probe = Probe()
    result = call_wsgi(
        stack(mwsgi, wsgi_app("after-start", headers, probe), probe), headers=REQUEST
    )
    assert_crash_answer(result)
    assert probe.closed == 1
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert_released(encoders)


async def test_asgi_app_raises_after_a_held_start(caplog: Any, encoders: list[Any]) -> None:
    # Compression held the start (the first body decides the encoding): nothing had left.
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app("after-start", HTML), probe))
    assert_crash_answer(result)
    assert isinstance(result.error, Boom)
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert_released(encoders)


async def test_asgi_app_raises_after_a_forwarded_start(caplog: Any, encoders: list[Any]) -> None:
    # An image is not compressed, so its start went straight out: the exception propagates
    # and the client sees a response that never ends.
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app("after-start", PNG), probe))
    assert result.status == 200 and isinstance(result.error, Boom)
    assert not any(m["type"] == "http.response.body" for m in result.messages)
    assert_one_record(caplog, 200, "error", result)
    assert len(probe.completed) == 1
    assert_released(encoders)


def test_wsgi_app_raises_mid_body(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    result = call_wsgi(stack(mwsgi, wsgi_app("mid-body", HTML, probe), probe), headers=REQUEST)
    assert result.status == 200 and isinstance(result.error, Boom)
    assert result.header("content-encoding") == "gzip"
    # What left is a valid prefix of the body: the first chunk, flushed.
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(result.body) == CHUNK
    assert probe.closed == 1
    assert_one_record(caplog, 200, "error", result)
    assert len(probe.completed) == 1
    assert len(encoders) == 1
    assert_released(encoders)


async def test_asgi_app_raises_mid_body(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app("mid-body", HTML), probe))
    assert result.status == 200 and isinstance(result.error, Boom)
    assert result.header("content-encoding") == "gzip"
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(result.body) == CHUNK
    assert_one_record(caplog, 200, "error", result)
    assert len(probe.completed) == 1
    assert len(encoders) == 1
    assert_released(encoders)


def test_wsgi_client_disconnects_mid_body(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    app = stack(mwsgi, wsgi_app(None, HTML, probe), probe)
    result = call_wsgi(app, headers=REQUEST, stop_after=1)
    assert result.status == 200 and result.error is None
    assert probe.closed == 1
    assert_one_record(caplog, 200, "disconnected", result)
    assert len(probe.completed) == 1
    assert len(encoders) == 1
    assert_released(encoders)


async def test_asgi_client_disconnects_mid_body(caplog: Any, encoders: list[Any]) -> None:
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app(None, HTML), probe), disconnect_after=1)
    assert result.status == 200
    assert isinstance(result.error, OSError)  # the server's send failed; it propagates
    assert_one_record(caplog, 200, "disconnected", result)
    assert len(probe.completed) == 1
    assert len(encoders) == 1
    assert_released(encoders)


class _FailingEncoder:
    """A stream encoder whose library fails on the first chunk."""

    def __init__(self, made: list[Any]) -> None:
        self._zlib: object = object()
        made.append(self)

    def compress(self, data: bytes) -> bytes:
        raise zlib.error("encoder failed")

    def finish(self) -> bytes:
        raise AssertionError("finish() after a failure")

    def close(self) -> None:
        self._zlib = None


@pytest.fixture
def failing_encoder(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    monkeypatch.setattr(codecs.GzipCodec, "encoder", lambda self, hint: _FailingEncoder(made))
    return made


def test_wsgi_compressor_fails(caplog: Any, failing_encoder: list[Any]) -> None:
    probe = Probe()
    result = call_wsgi(stack(mwsgi, wsgi_app(None, HTML, probe), probe), headers=REQUEST)
    # Nothing had left: the failure is answered like an app crash, with every header.
    assert_crash_answer(result)
    errors = [r for r in caplog.records if r.name == "middleware.errors"]
    assert len(errors) == 1 and errors[0].exc_info[0] is zlib.error
    assert probe.closed == 1
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert len(failing_encoder) == 1
    assert_released(failing_encoder)


async def test_asgi_compressor_fails(caplog: Any, failing_encoder: list[Any]) -> None:
    probe = Probe()
    result = await run_asgi(stack(masgi, asgi_app(None, HTML), probe))
    assert_crash_answer(result)
    assert isinstance(result.error, zlib.error)
    assert_one_record(caplog, 500, "error", result)
    assert len(probe.completed) == 1
    assert len(failing_encoder) == 1
    assert_released(failing_encoder)


@pytest.mark.parametrize("headers", [HTML, PNG], ids=["compressed", "identity"])
def test_wsgi_iterable_whose_close_raises(
    caplog: Any, encoders: list[Any], headers: list[tuple[str, str]]
) -> None:
    probe = Probe()
    app = stack(mwsgi, wsgi_app(None, headers, probe, close_raises=True), probe)
    state: dict[str, Any] = {}

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        state["status"] = status
        return lambda data: None

    environ = _environ()
    iterable = app(environ, start_response)
    body = b"".join(iterable)
    # The server hears of the failure from close(), after every layer has finished its work.
    with pytest.raises(CloseFailed):
        iterable.close()  # type: ignore[attr-defined]
    assert state["status"].startswith("200") and body
    assert probe.closed == 1
    records = access_records(caplog)
    assert len(records) == 1 and records[0].status == 200
    assert len(probe.completed) == 1
    assert_released(encoders)


def _environ() -> dict[str, Any]:
    import io
    import sys

    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ORIGIN": ORIGIN,
        "HTTP_ACCEPT_ENCODING": "gzip",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


class FlakyStore(MemoryStore):
    """A MemoryStore whose backend goes down when ``down`` is set."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("store unreachable")

    def get(self, key: str) -> bytes | None:
        self._check()
        return super().get(key)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        self._check()
        return super().add(key, value, ttl)

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        self._check()
        return super().replace(key, value, ttl)

    def touch(self, key: str, ttl: int) -> bool:
        self._check()
        return super().touch(key, ttl)

    def delete(self, key: str) -> None:
        self._check()
        super().delete(key)


def assert_unavailable(result: Result, caplog: pytest.LogCaptureFixture) -> None:
    """The documented answer to a failed store (SPEC "Store failures"): 503 with the outer
    layers' headers, handled rather than crashed: nothing re-raised to the server, and one
    ERROR line naming the store and the error, without a traceback, and nothing else above
    INFO (no crash 500 logged by a layer inside the session)."""
    assert result.status == 503
    assert result.error is None
    assert result.header("access-control-allow-origin") == ORIGIN
    assert result.header("server-timing") is not None
    assert result.header("x-request-id") is not None
    assert result.header("set-cookie") is None
    loud = [r for r in caplog.records if r.levelno > logging.INFO]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert loud[0].name == "middleware.sessions" and loud[0].levelno == logging.ERROR
    assert "FlakyStore" in loud[0].getMessage() and "store unreachable" in loud[0].getMessage()
    assert loud[0].exc_info is None


def _cookie(result: Result) -> list[tuple[str, str]]:
    value = result.header("set-cookie")
    assert value is not None
    return [*REQUEST, ("cookie", value.split(";")[0])]


@pytest.mark.parametrize("when", ["read", "write"])
def test_wsgi_session_store_fails(caplog: Any, encoders: list[Any], when: str) -> None:
    probe, store = Probe(), FlakyStore()
    app = stack(mwsgi, wsgi_app(None, HTML, probe), probe, store)
    first = call_wsgi(app, headers=REQUEST)  # the app writes: a record and its cookie
    assert first.status == 200
    headers = _cookie(first) if when == "read" else REQUEST
    store.down = True
    caplog.clear()
    result = call_wsgi(app, headers=headers)
    assert_unavailable(result, caplog)
    # Reading, the app's first touch raised StoreError (it returned no iterable); writing, the
    # store failed after the app returned, when the session was saved.
    assert probe.closed == (1 if when == "read" else 2)
    # The 503 is the middleware's documented answer, sent in full: a handled failure.
    assert_one_record(caplog, 503, "completed", result)
    assert len(probe.completed) == 2
    assert_released(encoders)


@pytest.mark.parametrize("when", ["read", "write"])
async def test_asgi_session_store_fails(caplog: Any, encoders: list[Any], when: str) -> None:
    probe, store = Probe(), FlakyStore()
    app = stack(masgi, asgi_app(None, HTML), probe, store)
    first = await run_asgi(app)
    assert first.status == 200
    headers = _cookie(first) if when == "read" else REQUEST
    store.down = True
    caplog.clear()
    result = await acall(app, "GET", "/", "", headers)
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert_unavailable(result, caplog)
    assert_one_record(caplog, 503, "completed", result)
    assert len(probe.completed) == 2
    assert_released(encoders)


def session_outside(m: Any, app: Any, probe: Probe, store: Any) -> Any:
    """The sessions layer outside timing and CORS: more layers inside it to pass the failure."""
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-faults", store=store),
        Middleware(m.TimingMiddleware, on_complete=probe.completed.append),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def lazy_wsgi_app(probe: Probe) -> Callable[..., Any]:
    """Touches the session inside its iterable, before the response starts (a generator)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        def body() -> Iterator[bytes]:
            try:
                environ["middleware.session"]["user"] = "ada"
                start_response("200 OK", list(HTML))
                yield CHUNK
            finally:
                probe.closed += 1

        return body()

    return app


def started_asgi_app() -> Callable[..., Any]:
    """Sends its start (held by compression), then touches the session."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = [(n.encode(), v.encode()) for n, v in HTML]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        scope["session"]["user"] = "ada"
        await send({"type": "http.response.body", "body": CHUNK})

    return app


@pytest.mark.parametrize("order", ["sessions-inside", "sessions-outside"])
@pytest.mark.parametrize("app_kind", ["eager", "lazy"])
def test_wsgi_store_failure_passes_every_inner_layer(
    caplog: Any, encoders: list[Any], order: str, app_kind: str
) -> None:
    probe, store = Probe(), FlakyStore()
    app = wsgi_app(None, HTML, probe) if app_kind == "eager" else lazy_wsgi_app(probe)
    build = stack if order == "sessions-inside" else session_outside
    served = build(mwsgi, app, probe, store)
    first = call_wsgi(served, headers=REQUEST)
    store.down = True
    caplog.clear()
    result = call_wsgi(served, headers=_cookie(first))
    assert result.status == 503 and result.error is None
    loud = [r for r in caplog.records if r.levelno > logging.INFO]
    assert [r.name for r in loud] == ["middleware.sessions"], [r.getMessage() for r in loud]
    assert_one_record(caplog, 503, "completed", result)
    assert len(probe.completed) == 2  # timing's on_complete ran for the failed request too
    # The eager app raised before returning its iterable; the lazy one's iterable is closed.
    assert probe.closed == (1 if app_kind == "eager" else 2)
    assert_released(encoders)


@pytest.mark.parametrize("order", ["sessions-inside", "sessions-outside"])
@pytest.mark.parametrize("app_kind", ["eager", "started"])
async def test_asgi_store_failure_passes_every_inner_layer(
    caplog: Any, encoders: list[Any], order: str, app_kind: str
) -> None:
    probe, store = Probe(), FlakyStore()
    app = asgi_app(None, HTML) if app_kind == "eager" else started_asgi_app()
    build = stack if order == "sessions-inside" else session_outside
    served = build(masgi, app, probe, store)
    first = await run_asgi(served)
    store.down = True
    caplog.clear()
    result = await acall(served, "GET", "/", "", _cookie(first))
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert result.status == 503 and result.error is None
    loud = [r for r in caplog.records if r.levelno > logging.INFO]
    assert [r.name for r in loud] == ["middleware.sessions"], [r.getMessage() for r in loud]
    assert_one_record(caplog, 503, "completed", result)
    assert len(probe.completed) == 2
    assert_released(encoders)

"""RequestLoggingMiddleware rules only ASGI has: tasks, threads, scopes, extensions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from middleware import request_id
from middleware.asgi import request_logging
from middleware.asgi.request_logging import RequestLoggingMiddleware
from tests.drivers import acall
from tests.parity.vectors import Boom

START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain")],
}


async def test_lifespan_passes_through(access: Any) -> None:
    # Websocket connections have their records: tests/asgi/test_websockets.py.
    logger, capture = access
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send, request_id.get()))

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        pass

    stack = RequestLoggingMiddleware(app, logger=logger)
    scope = {"type": "lifespan"}
    await stack(scope, receive, send)
    assert seen == [(scope, receive, send, None)]
    assert capture.records == []


async def test_request_id_in_thread_and_other_task(access: Any) -> None:
    logger, capture = access
    seen: dict[str, str | None] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["thread"] = await asyncio.to_thread(request_id.get)

        async def produce() -> None:
            seen["task"] = request_id.get()
            await send(START)
            await send({"type": "http.response.body", "body": b"from a task"})

        await asyncio.create_task(produce())

    result = await acall(
        RequestLoggingMiddleware(app, logger=logger), headers=[("X-Request-ID", "a-1")]
    )
    assert result.body == b"from a task"
    assert seen == {"thread": "a-1", "task": "a-1"}
    assert [(r.request_id, r.bytes) for r in capture.records] == [("a-1", 11)]
    assert request_id.get() is None


async def test_duration_ends_at_last_body_not_after_background_work(
    access: Any, monkeypatch: Any
) -> None:
    logger, capture = access
    now = [50.0]
    monkeypatch.setattr(request_logging, "perf_counter", lambda: now[0])
    during_background: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        now[0] += 1.0
        await send(START)
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        now[0] += 2.0
        await send({"type": "http.response.body", "body": b"b"})
        # A background task after the response: not in the duration. The record waits for
        # the app to return, so an exception raised now would still make it an error.
        during_background.append(len(capture.records))
        now[0] += 30.0

    await acall(RequestLoggingMiddleware(app, logger=logger))
    assert during_background == [0]
    assert [(r.duration_ms, r.bytes) for r in capture.records] == [(3000.0, 2)]


async def test_cancelled_request_logged_as_disconnected(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await RequestLoggingMiddleware(app, logger=logger)(_scope(), _receive, _sink([]))
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [(200, 4, "disconnected")]
    assert request_id.get() is None


async def test_failed_send_bytes_not_counted(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b"sent", "more_body": True})
        await send({"type": "http.response.body", "body": b"lost", "more_body": True})

    result = await acall(RequestLoggingMiddleware(app, logger=logger), disconnect_after=1)
    assert isinstance(result.error, OSError)
    assert [(r.bytes, r.outcome) for r in capture.records] == [(4, "disconnected")]


async def test_client_gone_before_the_headers_logged_as_disconnected(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b"never"})

    async def gone(message: Any) -> None:
        raise OSError("client went away")

    with pytest.raises(OSError):
        await RequestLoggingMiddleware(app, logger=logger)(_scope(), _receive, gone)
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [(200, 0, "disconnected")]


async def test_pathsend_counts_file_size(access: Any, tmp_path: Path) -> None:
    logger, capture = access
    file = tmp_path / "page.html"
    file.write_bytes(b"x" * 1234)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.pathsend", "path": str(file)})

    await acall(
        RequestLoggingMiddleware(app, logger=logger),
        scope={"extensions": {"http.response.pathsend": {}}},
    )
    assert [(r.bytes, r.outcome) for r in capture.records] == [(1234, "completed")]


@pytest.mark.parametrize(
    ("root_path", "path", "logged"),
    [
        pytest.param("", "/x", "/x", id="no-root"),
        pytest.param("/api", "/api/x", "/api/x", id="path-includes-root"),
        pytest.param("/api", "/x", "/api/x", id="path-without-root"),
    ],
)
async def test_root_path(access: Any, root_path: str, path: str, logged: str) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b""})

    await acall(
        RequestLoggingMiddleware(app, logger=logger),
        path=path,
        scope={"root_path": root_path},
    )
    assert [r.path for r in capture.records] == [logged]


async def test_repeated_incoming_id_replaced(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b""})

    result = await acall(
        RequestLoggingMiddleware(app, logger=logger),
        headers=[("X-Request-ID", "one"), ("X-Request-ID", "two")],
    )
    assert result.header("x-request-id") not in ("one", "two", "one, two")


async def test_http2_protocol_and_missing_client(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": b"h2"})

    await acall(
        RequestLoggingMiddleware(app, logger=logger),
        scope={"http_version": "2", "client": None},
    )
    [record] = capture.records
    assert (record.protocol, record.client) == ("HTTP/2", None)
    assert ' "GET / HTTP/2" 200 2 ' in record.getMessage()


async def test_app_header_not_lower_case_replaced(access: Any) -> None:
    logger, _ = access
    app_headers = [(b"content-type", b"text/plain"), (b"X-Request-ID", b"app")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": app_headers})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Any] = []
    await RequestLoggingMiddleware(app, logger=logger)(_scope(), _receive, _sink(sent))
    ids = [value for name, value in sent[0]["headers"] if name.lower() == b"x-request-id"]
    assert len(ids) == 1 and ids[0] != b"app"
    assert app_headers == [(b"content-type", b"text/plain"), (b"X-Request-ID", b"app")]


async def test_crash_reraised_and_context_reset(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Boom("before start")

    sent: list[Any] = []
    with pytest.raises(Boom):
        await RequestLoggingMiddleware(app, logger=logger)(_scope(), _receive, _sink(sent))
    assert sent[0]["status"] == 500
    assert [(r.status, r.outcome) for r in capture.records] == [(500, "error")]
    assert request_id.get() is None


async def test_crash_answer_to_a_gone_client_still_logged_once(access: Any) -> None:
    logger, capture = access

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Boom("before start")

    async def gone(message: Any) -> None:
        raise OSError("client went away")

    # The 500 that answers the crash cannot be sent: the server's error is raised (chained to
    # the app's), and the request is still recorded once, as the client's departure.
    with pytest.raises(OSError) as raised:
        await RequestLoggingMiddleware(app, logger=logger)(_scope(), _receive, gone)
    assert isinstance(raised.value.__context__, Boom)
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [(500, 0, "disconnected")]
    assert request_id.get() is None


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


async def _receive() -> Any:
    return {"type": "http.request", "body": b"", "more_body": False}


def _sink(sent: list[Any]) -> Any:
    async def send(message: Any) -> None:
        sent.append(message)

    return send


async def test_concurrent_requests_keep_their_own_ids(access: Any) -> None:
    logger, capture = access
    seen: list[tuple[str, str | None]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        mine = dict(scope["headers"])[b"x-request-id"].decode()
        for _ in range(3):
            await asyncio.sleep(0)  # let the other request run in between
            seen.append((mine, request_id.get()))
        await send(START)
        await send({"type": "http.response.body", "body": b""})

    stack = RequestLoggingMiddleware(app, logger=logger)
    await asyncio.gather(*(acall(stack, headers=[("X-Request-ID", f"req-{i}")]) for i in range(4)))
    assert len(seen) == 12 and all(mine == current for mine, current in seen)
    assert sorted(r.request_id for r in capture.records) == [f"req-{i}" for i in range(4)]

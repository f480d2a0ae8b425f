"""Websocket connections through the ASGI classes (SPEC, WebSocket), in process.

A fake server (``Side``) plays the server's half of one connection: it hands the app the
client's messages in order and records what the app sent, and can refuse a message the way a
real server does (raising into the app). Real servers and a real client are in
``tests/integration/test_websockets.py``.

- RequestLoggingMiddleware: one record per connection, written when the app returns, for
  every way a connection can go (accepted and closed by either side, refused over HTTP or by
  a close before the accept, the client gone before the accept or mid-connection, the app
  failing, messages after the close, bad close codes, a scope without headers); the request
  ID on ``websocket.accept`` and readable for the whole connection.
- TimingMiddleware: passes websockets through untouched (CompressionMiddleware's test is in
  ``tests/asgi/test_compression.py``).
- SessionMiddleware, and the five layers in the README's order: the session readable and
  read-only, and nothing but the request ID added to the handshake.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from middleware import Middleware, request_id, timing
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)
from middleware.asgi import request_logging as asgi_request_logging
from middleware.core.request_logging import FIELDS
from tests.cases.request_logging import NEW_ID
from tests.cases.sessions import SECRET, USER, cookie
from tests.drivers import Capture

Message = dict[str, Any]

CONNECT: Message = {"type": "websocket.connect"}
ACCEPT: Message = {"type": "websocket.accept"}
EXTENSION = {"websocket.http.response": {}}


def text(value: str) -> Message:
    return {"type": "websocket.receive", "text": value}


def gone(code: int | None = 1000) -> Message:
    """The client's close (or its connection lost), as the server reports it."""
    message: Message = {"type": "websocket.disconnect"}
    if code is not None:
        message["code"] = code
    return message


class Side:
    """A fake server's side of one websocket connection.

    ``incoming`` is what the client sends, in order; once it is used up, the connection is
    lost (1006). ``refuse(message)`` may return an exception to raise into the app instead of
    taking the message, as a real server refuses a message it cannot send.
    """

    def __init__(
        self,
        *incoming: Message,
        refuse: Callable[[Message], BaseException | None] | None = None,
    ) -> None:
        self.incoming = list(incoming)
        self.sent: list[Message] = []
        self.refuse = refuse

    async def receive(self) -> Message:
        return self.incoming.pop(0) if self.incoming else gone(1006)

    async def send(self, message: Message) -> None:
        error = self.refuse(message) if self.refuse is not None else None
        if error is not None:
            raise error
        self.sent.append(message)


def ws_scope(
    path: str = "/ws",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), (b"user-agent", b"ws-test")]
        if headers is None
        else headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "extensions": extensions or {},
    }


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Accepts, then sends every message back until the client leaves."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send(ACCEPT)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text"), "bytes": None})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The logging layer's monotonic clock, moved by hand."""
    now = [100.0]
    monkeypatch.setattr(asgi_request_logging, "perf_counter", lambda: now[0])
    return now


async def connect(
    app: Any, side: Side, access: tuple[logging.Logger, Capture], **options: Any
) -> dict[str, Any]:
    """``app`` behind RequestLoggingMiddleware, through one connection; the one record."""
    scope = options.pop("scope", None) or ws_scope()
    logger, capture = access
    await RequestLoggingMiddleware(app, logger=logger, **options)(scope, side.receive, side.send)
    return capture.one(FIELDS)


def accept_id(side: Side) -> list[bytes]:
    """The request-ID values on the handshake's answer the app sent."""
    head = next(
        m for m in side.sent if m["type"] in ("websocket.accept", "websocket.http.response.start")
    )
    return [value for name, value in head["headers"] if name == b"x-request-id"]


# --- RequestLoggingMiddleware: the record


async def test_accepted_connection_closed_by_the_client(access: Any, clock: list[float]) -> None:
    side = Side(CONNECT, text("hello"), text("héllo ✓"), gone(1001))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        clock[0] += 0.5
        await echo(scope, receive, send)
        clock[0] += 30.0  # after the close: not in the duration

    side_receive = side.receive

    async def timed_receive() -> Message:
        clock[0] += 1.0
        return await side_receive()

    side.receive = timed_receive  # type: ignore[method-assign]
    record = await connect(app, side, access, scope=ws_scope("/chat", query=b"room=1"))
    (rid,) = accept_id(side)
    assert record == {
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/chat",
        "query": "room=1",
        "protocol": "websocket",
        "status": 101,
        # Text counted as UTF-8: "hello" 5, "héllo ✓" 10.
        "bytes": 15,
        "duration_ms": 4500.0,
        "user_agent": "ws-test",
        "referer": None,
        "request_id": rid.decode(),
        "outcome": "disconnected",
        "close_code": 1001,
    }
    assert re.fullmatch(NEW_ID, rid.decode())
    assert [m["type"] for m in side.sent] == ["websocket.accept", *["websocket.send"] * 2]


async def test_binary_messages_counted_in_bytes(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "bytes": b"\x00" * 7})
        await send({"type": "websocket.send", "bytes": None, "text": ""})
        await send({"type": "websocket.close", "code": 1000})

    record = await connect(app, Side(CONNECT), access)
    assert (record["bytes"], record["close_code"], record["outcome"]) == (7, 1000, "completed")


async def test_closed_by_the_app_first_close_wins(access: Any) -> None:
    # uvicorn queues a disconnect carrying the app's own code after its close; a client's
    # later 1000 changes nothing either.
    side = Side(CONNECT, gone(4001), gone(1000))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "bye"})
        await send({"type": "websocket.close", "code": 4001, "reason": "done"})
        assert (await receive())["code"] == 4001
        assert (await receive())["code"] == 1000

    record = await connect(app, side, access)
    assert (record["status"], record["bytes"]) == (101, 3)
    assert (record["close_code"], record["outcome"]) == (4001, "completed")


async def test_close_without_a_code_is_asgis_1000(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close"})

    record = await connect(app, Side(CONNECT), access)
    assert (record["close_code"], record["outcome"]) == (1000, "completed")


async def test_disconnect_without_a_code_is_asgis_1005(access: Any) -> None:
    record = await connect(echo, Side(CONNECT, gone(None)), access)
    assert (record["close_code"], record["outcome"]) == (1005, "disconnected")


async def test_app_returning_after_the_accept_completes_without_a_code(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "one-shot"})

    record = await connect(app, Side(CONNECT), access)
    assert (record["status"], record["bytes"]) == (101, 8)
    assert (record["close_code"], record["outcome"]) == (None, "completed")


async def test_json_and_combined_lines(access: Any) -> None:
    logger, capture = access
    for format in ("json", "combined"):
        side = Side(CONNECT, text("hi"), gone(1000))
        scope = ws_scope("/chat", headers=[(b"x-request-id", b"line-1")])
        await RequestLoggingMiddleware(echo, logger=logger, format=format)(
            scope, side.receive, side.send
        )
    as_json, combined = (record.getMessage() for record in capture.records)
    assert json.loads(as_json) | {"duration_ms": 0} == {
        "client": "127.0.0.1", "method": "GET", "path": "/chat", "query": "",
        "protocol": "websocket", "status": 101, "bytes": 2, "duration_ms": 0,
        "user_agent": None, "referer": None, "request_id": "line-1",
        "outcome": "disconnected", "close_code": 1000,
    }  # fmt: skip
    assert combined.startswith("127.0.0.1 - - [")
    assert combined.endswith('] "GET /chat HTTP/1.1" 101 2 "-" "-"')


# --- RequestLoggingMiddleware: the request ID


async def test_request_id_kept_and_set_on_the_accept_replacing_the_apps(access: Any) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["app"] = request_id.get()
        await receive()
        seen["thread"] = await asyncio.to_thread(request_id.get)

        async def later() -> None:
            # A task started during the connection, still running after the handshake.
            await asyncio.sleep(0)
            seen["task"] = request_id.get()
            await send({"type": "websocket.send", "text": request_id.get()})

        task = asyncio.create_task(later())
        headers = [(b"X-Request-ID", b"the-apps"), (b"x-custom", b"1")]
        await send({"type": "websocket.accept", "subprotocol": "chat", "headers": headers})
        await task
        await send({"type": "websocket.close", "code": 1000})

    side = Side(CONNECT)
    scope = ws_scope(headers=[(b"x-request-id", b"client-7")])
    record = await connect(app, side, access, scope=scope)
    assert seen == {"app": "client-7", "thread": "client-7", "task": "client-7"}
    assert side.sent[0] == {
        "type": "websocket.accept",
        "subprotocol": "chat",
        "headers": [(b"x-custom", b"1"), (b"x-request-id", b"client-7")],
    }
    assert side.sent[1] == {"type": "websocket.send", "text": "client-7"}
    assert record["request_id"] == "client-7"
    assert request_id.get() is None


async def test_request_id_made_when_untrusted_and_the_apps_message_left_alone(
    access: Any,
) -> None:
    accept = {"type": "websocket.accept", "headers": [(b"x-request-id", b"the-apps")]}
    original = copy.deepcopy(accept)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(accept)

    side = Side(CONNECT)
    scope = ws_scope(headers=[(b"x-request-id", b"bad id")])
    record = await connect(app, side, access, scope=scope, trust_request_id=True)
    (rid,) = accept_id(side)
    assert rid.decode() == record["request_id"] != "bad id"
    assert re.fullmatch(NEW_ID, record["request_id"])
    assert accept == original  # a copy went to the server


async def test_scope_without_headers(access: Any) -> None:
    scope = ws_scope()
    del scope["headers"]
    side = Side(CONNECT, gone(1000))
    record = await connect(echo, side, access, scope=scope)
    assert re.fullmatch(NEW_ID, record["request_id"])
    assert (record["user_agent"], record["status"], record["close_code"]) == (None, 101, 1000)
    assert accept_id(side) == [record["request_id"].encode()]


async def test_nested_layers_share_one_id(access: Any) -> None:
    logger, capture = access
    side = Side(CONNECT, gone(1000))
    inner = RequestLoggingMiddleware(echo, logger=logger)
    await RequestLoggingMiddleware(inner, logger=logger)(ws_scope(), side.receive, side.send)
    assert len({record.request_id for record in capture.records}) == 1
    assert len(capture.records) == 2
    assert len(accept_id(side)) == 1


async def test_excluded_path_writes_nothing_but_keeps_the_id(access: Any) -> None:
    logger, capture = access
    side = Side(CONNECT, gone(1000))
    layer = RequestLoggingMiddleware(echo, logger=logger, exclude_paths=["/ws"])
    await layer(ws_scope(), side.receive, side.send)
    assert capture.records == []
    assert len(accept_id(side)) == 1


# --- RequestLoggingMiddleware: refusals and handshakes that never finish


async def test_refused_through_the_http_response_extension(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        start = {"status": 403, "headers": [(b"content-type", b"text/plain")]}
        await send({"type": "websocket.http.response.start", **start})
        await send({"type": "websocket.http.response.body", "body": b"No", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"pe"})

    side = Side(CONNECT)
    record = await connect(app, side, access, scope=ws_scope(extensions=EXTENSION))
    assert side.sent[0]["headers"] == [
        (b"content-type", b"text/plain"),
        (b"x-request-id", record["request_id"].encode()),
    ]
    assert (record["status"], record["bytes"]) == (403, 4)
    assert (record["close_code"], record["outcome"]) == (None, "completed")


@pytest.mark.parametrize(("code", "logged"), [(1008, 1008), (None, 1000)])
async def test_close_before_the_accept_is_a_403(access: Any, code: int | None, logged: int) -> None:
    # ASGI: the server answers a close before the accept with an HTTP 403. The code the app
    # gave is kept: it tells a CORS refusal (1008) from the app's own.
    close: Message = {"type": "websocket.close"}
    if code is not None:
        close["code"] = code

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(close)

    side = Side(CONNECT, gone(1006))
    record = await connect(app, side, access)
    assert side.sent == [close]
    assert (record["status"], record["bytes"]) == (403, 0)
    assert (record["close_code"], record["outcome"]) == (logged, "completed")


async def test_client_gone_before_the_accept(access: Any) -> None:
    # The client left while the app was still deciding: 499, as an HTTP request whose client
    # left before the response started; what the app sends after that counts for nothing.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.disconnect"
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "nobody hears this"})

    side = Side(gone(1006))
    record = await connect(app, side, access)
    assert (record["status"], record["bytes"]) == (499, 0)
    assert (record["close_code"], record["outcome"]) == (1006, "disconnected")
    assert side.sent[0] is ACCEPT  # passed on as it was, without an ID


async def test_app_returning_without_answering_the_handshake(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    record = await connect(app, Side(CONNECT), access)
    # Servers answer it with a 500.
    assert (record["status"], record["outcome"], record["close_code"]) == (500, "completed", None)


# --- RequestLoggingMiddleware: errors, lost clients, bad close codes


async def test_app_error_before_the_accept(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await connect(app, Side(CONNECT), access)
    _, capture = access
    record = capture.one(FIELDS)
    assert (record["status"], record["outcome"], record["close_code"]) == (500, "error", None)


async def test_app_error_after_the_accept_is_reraised(access: Any) -> None:
    side = Side(CONNECT, text("x"))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "ok"})
        await receive()
        raise ValueError("bad message")

    with pytest.raises(ValueError, match="bad message"):
        await connect(app, side, access)
    record = access[1].one(FIELDS)
    assert (record["status"], record["bytes"]) == (101, 2)
    assert (record["outcome"], record["close_code"]) == ("error", None)


async def test_error_after_the_client_left_stays_disconnected(access: Any) -> None:
    # Starlette raises WebSocketDisconnect out of an endpoint that does not catch it.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await receive()
        raise RuntimeError("WebSocketDisconnect")

    with pytest.raises(RuntimeError):
        await connect(app, Side(CONNECT, gone(1001)), access)
    record = access[1].one(FIELDS)
    assert (record["outcome"], record["close_code"]) == ("disconnected", 1001)


async def test_send_finding_the_client_gone(access: Any) -> None:
    # uvicorn raises ClientDisconnected (an OSError) from send once the client left.
    class ClientDisconnected(OSError):
        pass

    count = [0]

    def refuse(message: Message) -> BaseException | None:
        if message["type"] == "websocket.send":
            count[0] += 1
            if count[0] == 2:
                return ClientDisconnected()
        return None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "text": "tick"})
        await send({"type": "websocket.send", "text": "tock"})

    with pytest.raises(ClientDisconnected):
        await connect(app, Side(CONNECT, refuse=refuse), access)
    record = access[1].one(FIELDS)
    # The second message never went: only the first is counted.
    assert (record["status"], record["bytes"]) == (101, 4)
    assert (record["outcome"], record["close_code"]) == ("disconnected", None)


async def test_accept_finding_the_client_gone_is_no_101(access: Any) -> None:
    def refuse(message: Message) -> BaseException | None:
        return ConnectionResetError() if message["type"] == "websocket.accept" else None

    with pytest.raises(ConnectionResetError):
        await connect(echo, Side(CONNECT, refuse=refuse), access)
    record = access[1].one(FIELDS)
    assert (record["status"], record["outcome"]) == (499, "disconnected")


async def test_cancelled_connection_is_disconnected(access: Any) -> None:
    started = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        started.set()
        await asyncio.sleep(3600)

    logger, capture = access
    side = Side(CONNECT)
    layer = RequestLoggingMiddleware(app, logger=logger)
    task = asyncio.create_task(layer(ws_scope(), side.receive, side.send))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = capture.one(FIELDS)
    assert (record["status"], record["outcome"], record["close_code"]) == (
        101,
        "disconnected",
        None,
    )


async def test_app_sending_after_its_close(access: Any) -> None:
    # What the app sends after its close goes to the server as it is (uvicorn, hypercorn and
    # Daphne refuse it by raising) and is never counted; the record keeps the close.
    def refuse(message: Message) -> BaseException | None:
        closed = any(m["type"] == "websocket.close" for m in side.sent)
        if closed and message["type"] == "websocket.send":
            return RuntimeError("Unexpected ASGI message 'websocket.send', after 'websocket.close'")
        return None

    late = {"type": "websocket.send", "text": "too late"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": 1000})
        await send(late)

    side = Side(CONNECT, refuse=refuse)
    with pytest.raises(RuntimeError, match="after 'websocket.close'"):
        await connect(app, side, access)
    record = access[1].one(FIELDS)
    assert (record["status"], record["bytes"], record["close_code"]) == (101, 0, 1000)
    # The app raised: an error, as an HTTP app that raises after its response.
    assert record["outcome"] == "error"


async def test_app_sending_after_its_close_to_a_server_that_drops_it(access: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": 1001})
        await send({"type": "websocket.send", "text": "dropped"})
        await send({"type": "websocket.close", "code": 4000})

    side = Side(CONNECT)
    record = await connect(app, side, access)
    assert (record["bytes"], record["close_code"], record["outcome"]) == (0, 1001, "completed")
    assert len(side.sent) == 4


@pytest.mark.parametrize(
    ("code", "logged"),
    [
        pytest.param(3000, 3000, id="registered"),
        pytest.param(4999, 4999, id="private-use"),
        pytest.param(5000, 5000, id="above-range-as-given"),
        pytest.param(999, 999, id="below-range-as-given"),
        pytest.param("1000", None, id="not-an-int"),
    ],
)
async def test_close_code_outside_the_range_taken_by_the_server(
    access: Any, code: object, logged: int | None
) -> None:
    # The middleware checks no range: a code the server sent (hypercorn sends 5000) is
    # recorded as given; one that is no integer is no code.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": code})

    record = await connect(app, Side(CONNECT), access)
    assert (record["close_code"], record["outcome"]) == (logged, "completed")


async def test_close_code_refused_by_the_server_is_not_recorded(access: Any) -> None:
    # uvicorn (websockets) and Daphne (autobahn) raise on 5000: no close happened.
    def refuse(message: Message) -> BaseException | None:
        if message["type"] == "websocket.close" and not 1000 <= message["code"] < 5000:
            return ValueError(f"invalid close code {message['code']}")
        return None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.close", "code": 5000})

    with pytest.raises(ValueError, match="invalid close code"):
        await connect(app, Side(CONNECT, refuse=refuse), access)
    record = access[1].one(FIELDS)
    assert (record["status"], record["close_code"], record["outcome"]) == (101, None, "error")


async def test_client_close_code_outside_the_range_as_reported(access: Any) -> None:
    record = await connect(echo, Side(CONNECT, gone(65535)), access)
    assert (record["close_code"], record["outcome"]) == (65535, "disconnected")


async def test_logger_disabled_builds_nothing_but_keeps_the_id(access: Any) -> None:
    logger, capture = access
    logger.setLevel(logging.WARNING)
    side = Side(CONNECT, gone(1000))
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(request_id.get())
        await echo(scope, receive, send)

    await RequestLoggingMiddleware(app, logger=logger)(ws_scope(), side.receive, side.send)
    assert capture.records == []
    (rid,) = seen
    assert rid is not None and accept_id(side) == [rid.encode()]


# --- TimingMiddleware: passes websockets through


@pytest.mark.parametrize("on_complete", [None, "callback"])
async def test_timing_passes_websockets_through_untouched(on_complete: str | None) -> None:
    completed: list[Any] = []
    scope = ws_scope(extensions=EXTENSION)
    before = copy.deepcopy(scope)
    incoming = [CONNECT, text("hi"), gone(1000)]
    outgoing = [
        {"type": "websocket.accept", "headers": [(b"x-app", b"1")]},
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.close", "code": 1000},
    ]
    expected = copy.deepcopy((incoming, outgoing))
    side = Side(*incoming)
    seen: dict[str, Any] = {}

    async def app(app_scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope=app_scope, receive=receive, send=send)
        # Outside an HTTP request, recording does nothing (and does not raise).
        timing.record("db", 1.0)
        with timing.measure("render"):
            pass
        seen["received"] = [await receive() for _ in incoming]
        for message in outgoing:
            await send(message)

    layer = TimingMiddleware(
        app,
        timing_allow_origin="*",
        on_complete=None if on_complete is None else completed.append,
    )
    await layer(scope, side.receive, side.send)
    assert seen["scope"] is scope and scope == before
    assert seen["receive"] == side.receive and seen["send"] == side.send
    assert [a is b for a, b in zip(seen["received"], incoming, strict=True)] == [True] * 3
    assert [a is b for a, b in zip(side.sent, outgoing, strict=True)] == [True] * 3
    assert (incoming, outgoing) == expected
    assert completed == []


# --- SessionMiddleware and the whole stack, in the README's order

ORIGIN = "https://app.example"


def full_stack(app: Any, logger: logging.Logger) -> Any:
    return compose(
        Middleware(RequestLoggingMiddleware, logger=logger),
        Middleware(TimingMiddleware, timing_allow_origin="*"),
        Middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(SessionMiddleware, secret_key=SECRET),
        CompressionMiddleware,
    )(app)


def signed_in(origin: str | None = ORIGIN) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"host", b"testserver"),
        (b"cookie", cookie(USER)(int(time.time())).encode()),
        (b"accept-encoding", b"gzip, br"),
    ]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


async def session_app(scope: Any, receive: Any, send: Any) -> None:
    """Greets the session's user with the connection's request ID, then tries to write."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept", "headers": [(b"x-app", b"1")]})
    greeting = {"user": scope["session"].get("user"), "request_id": request_id.get()}
    await send({"type": "websocket.send", "text": json.dumps(greeting)})
    scope["session"]["seen"] = True  # cannot be saved: logged as lost
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def test_full_stack_session_read_only_and_one_record(
    access: Any, caplog: pytest.LogCaptureFixture
) -> None:
    logger, _ = access
    side = Side(CONNECT, text("x"), gone(1000))
    scope = ws_scope(headers=signed_in(), extensions=EXTENSION)
    with caplog.at_level(logging.WARNING, logger="middleware.sessions"):
        await full_stack(session_app, logger)(scope, side.receive, side.send)
    record = access[1].one(FIELDS)
    accept, greeting = side.sent
    # Only the request ID is added to the handshake: no Set-Cookie, Vary, Server-Timing or
    # CORS field, and nothing on the messages.
    assert accept == {
        "type": "websocket.accept",
        "headers": [(b"x-app", b"1"), (b"x-request-id", record["request_id"].encode())],
    }
    assert json.loads(greeting["text"]) == {"user": "alice", "request_id": record["request_id"]}
    assert (record["protocol"], record["status"], record["bytes"]) == (
        "websocket",
        101,
        len(greeting["text"]),
    )
    assert (record["close_code"], record["outcome"]) == (1000, "disconnected")
    lost = [r for r in caplog.records if r.name == "middleware.sessions"]
    assert [r.levelno for r in lost] == [logging.WARNING]
    assert "cannot set cookies (a websocket)" in lost[0].getMessage()


@pytest.mark.parametrize(
    ("extensions", "status", "close_code", "size"),
    [
        pytest.param(EXTENSION, 403, None, len(b"Disallowed CORS origin"), id="http-response"),
        pytest.param({}, 403, 1008, 0, id="close-before-accept"),
    ],
)
async def test_full_stack_cors_refusal_is_one_record(
    access: Any, extensions: Any, status: int, close_code: int | None, size: int
) -> None:
    logger, _ = access
    side = Side(CONNECT)
    scope = ws_scope(headers=signed_in("https://evil.example"), extensions=extensions)
    await full_stack(session_app, logger)(scope, side.receive, side.send)
    record = access[1].one(FIELDS)
    assert (record["status"], record["close_code"], record["bytes"]) == (status, close_code, size)
    assert record["outcome"] == "completed"
    if extensions:
        assert accept_id(side) == [record["request_id"].encode()]


async def test_full_stack_client_gone_before_the_accept(access: Any) -> None:
    logger, _ = access
    side = Side(gone(1006))
    scope = ws_scope(headers=signed_in(), extensions=EXTENSION)
    await full_stack(session_app, logger)(scope, side.receive, side.send)
    record = access[1].one(FIELDS)
    assert (record["status"], record["outcome"], record["close_code"]) == (
        499,
        "disconnected",
        1006,
    )
    assert side.sent == []


async def test_a_websocket_scope_without_headers_gets_an_empty_read_only_session() -> None:
    from middleware.asgi import SessionMiddleware

    seen: list[object] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(dict(scope["session"]))  # type: ignore[call-overload]

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: object) -> None:
        return None

    await SessionMiddleware(app, secret_key="k" * 32)(
        {"type": "websocket", "path": "/"}, receive, send
    )
    assert seen == [{}]

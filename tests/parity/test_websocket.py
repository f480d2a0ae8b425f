"""WebSocket rows of the parity suite: ASGI only, by name.

SPEC's Parity section names the one difference between the protocols it allows: websockets
exist only in ASGI. PEP 3333 has no way to hand a connection over to another protocol, so a
WSGI app never sees a websocket and the WSGI classes have nothing to do for one (the README's
feature table says so). Every behaviour of SPEC's WebSocket section is still a row here, run
through the ASGI class alone, and each test's name ends in ``_asgi_only`` so a parity run shows
which rows have no WSGI twin on purpose; each row also checks that the WSGI twin has no
websocket entry point, so a row can never be half a pair by accident. The rules in depth are in
``tests/asgi/test_websockets.py`` (and the CORS guard's in ``tests/asgi/test_cors.py``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import middleware.asgi
import middleware.wsgi
from middleware import Middleware, request_id
from tests.cases.sessions import SECRET, USER, cookie

ORIGIN = "https://app.example"
CONNECT = {"type": "websocket.connect"}
BYE = {"type": "websocket.disconnect", "code": 1000}


def scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "subprotocols": [],
        "extensions": {},
    }


async def connect(app: Any, websocket: dict[str, Any], *incoming: Any) -> list[dict[str, Any]]:
    """One connection through ``app``; what the app sent the server."""
    pending, sent = list(incoming), []

    async def receive() -> Any:
        return pending.pop(0) if pending else {"type": "websocket.disconnect", "code": 1006}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(websocket, receive, send)
    return sent


async def greeter(websocket: dict[str, Any], receive: Any, send: Any) -> None:
    """Accepts, sends what it can see of the connection, waits for the client to leave."""
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    session = websocket.get("session")
    seen = {
        "request_id": request_id.get(),
        "user": None if session is None else session.get("user"),
    }
    await send({"type": "websocket.send", "text": json.dumps(seen)})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def wsgi_has_no_websocket(name: str) -> None:
    """The WSGI twin exists, with nothing for websockets (PEP 3333 has none)."""
    assert not hasattr(getattr(middleware.wsgi, name), "websocket")
    assert hasattr(getattr(middleware.asgi, name), "websocket")


@pytest.fixture
def access() -> Iterator[tuple[logging.Logger, list[logging.LogRecord]]]:
    logger = logging.getLogger(f"tests.access.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    yield logger, records
    logger.removeHandler(handler)


async def test_request_logging_one_record_per_connection_asgi_only(access: Any) -> None:
    wsgi_has_no_websocket("RequestLoggingMiddleware")
    logger, records = access
    layer = middleware.asgi.RequestLoggingMiddleware(greeter, logger=logger, format="json")
    sent = await connect(layer, scope((b"x-request-id", b"ws-1")), CONNECT, BYE)
    assert sent[0] == {"type": "websocket.accept", "headers": [(b"x-request-id", b"ws-1")]}
    assert json.loads(sent[1]["text"])["request_id"] == "ws-1"
    (record,) = records
    line = json.loads(record.getMessage())
    assert (line["protocol"], line["status"], line["bytes"]) == (
        "websocket",
        101,
        len(sent[1]["text"]),
    )
    assert (line["close_code"], line["outcome"], line["request_id"]) == (
        1000,
        "disconnected",
        "ws-1",
    )


async def test_sessions_read_only_on_websockets_asgi_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wsgi_has_no_websocket("SessionMiddleware")

    async def writer(websocket: dict[str, Any], receive: Any, send: Any) -> None:
        await greeter(websocket, receive, send)
        websocket["session"]["later"] = True

    layer = middleware.asgi.SessionMiddleware(writer, secret_key=SECRET)
    signed = (b"cookie", cookie(USER)(int(time.time())).encode())
    with caplog.at_level(logging.WARNING, logger="middleware.sessions"):
        sent = await connect(layer, scope(signed), CONNECT, BYE)
    assert sent[0] == {"type": "websocket.accept"}  # no Set-Cookie: no response can carry one
    assert json.loads(sent[1]["text"])["user"] == "alice"
    assert [r.levelno for r in caplog.records if r.name == "middleware.sessions"] == [
        logging.WARNING
    ]


@pytest.mark.parametrize("name", ["TimingMiddleware", "CompressionMiddleware", "GZipMiddleware"])
async def test_passes_websockets_through_asgi_only(name: str) -> None:
    wsgi_has_no_websocket(name)
    layer = getattr(middleware.asgi, name)(greeter)
    sent = await connect(layer, scope((b"accept-encoding", b"gzip")), CONNECT, BYE)
    assert sent[0] == {"type": "websocket.accept"}
    assert json.loads(sent[1]["text"]) == {"request_id": None, "user": None}


async def test_cors_guards_websocket_handshakes_asgi_only() -> None:
    # WSGI's CORSMiddleware accepts websocket_origins for the same signature, and it has no
    # effect there.
    wsgi_has_no_websocket("CORSMiddleware")
    layer = middleware.asgi.CORSMiddleware(greeter, allow_origins=[ORIGIN])
    allowed = await connect(layer, scope((b"origin", ORIGIN.encode())), CONNECT, BYE)
    assert allowed[0] == {"type": "websocket.accept"}
    refused = await connect(layer, scope((b"origin", b"https://evil.example")), CONNECT, BYE)
    assert [message["type"] for message in refused] == ["websocket.close"]


async def test_whole_stack_adds_only_the_request_id_asgi_only(access: Any) -> None:
    logger, records = access
    m = middleware.asgi
    stack = m.compose(
        Middleware(m.RequestLoggingMiddleware, logger=logger),
        m.TimingMiddleware,
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key=SECRET),
        m.CompressionMiddleware,
    )(greeter)
    signed = (b"cookie", cookie(USER)(int(time.time())).encode())
    sent = await connect(stack, scope((b"origin", ORIGIN.encode()), signed), CONNECT, BYE)
    (record,) = records
    assert sent[0] == {
        "type": "websocket.accept",
        "headers": [(b"x-request-id", record.request_id.encode())],  # type: ignore[attr-defined]
    }
    assert json.loads(sent[1]["text"]) == {"request_id": record.request_id, "user": "alice"}  # type: ignore[attr-defined]


def test_every_row_here_is_named_so_asgi_only() -> None:
    rows = [name for name in vars(sys.modules[__name__]) if name.startswith("test_")]
    assert rows and all(name.endswith("_asgi_only") for name in rows)

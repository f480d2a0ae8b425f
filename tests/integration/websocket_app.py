"""A small ASGI site with websockets behind the whole stack, served by real servers.

``tests/integration/test_websockets.py`` serves ``app`` under uvicorn, hypercorn and Daphne: the
five middleware in the README's order (the stack of ``examples/asgi_app.py``), with the access
log written as JSON lines to the file named by ``ACCESS_LOG``. Routes:

- ``GET /login`` (HTTP): ``session["user"] = "alice"``, so the client gets a session cookie;
- websocket ``/ws``: accepted; the first message is a JSON object with the session's user and
  the request ID read in the app and in a task the connection started; then every text
  message comes back as it was sent, except ``close <code>``, which makes the app close the
  connection with that code, and ``close-then-send``, which closes with 4001 and then sends
  (the server refuses that message by raising; the app carries on);
- websocket ``/slow``: waits up to two seconds before accepting, returning at once when the
  client leaves first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from middleware import Middleware, request_id
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)

ORIGIN = "https://app.example"
SECRET = "websocket-stack-secret-0123456789abcdef"

stack = compose(
    Middleware(RequestLoggingMiddleware, format="json"),
    Middleware(TimingMiddleware, timing_allow_origin="*"),
    Middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
    Middleware(SessionMiddleware, secret_key=SECRET),
    CompressionMiddleware,
)

if os.environ.get("ACCESS_LOG"):
    _handler = logging.FileHandler(os.environ["ACCESS_LOG"])
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("middleware.access").addHandler(_handler)
    logging.getLogger("middleware.access").setLevel(logging.INFO)


async def _greet(scope: dict[str, Any], send: Any) -> None:
    async def in_a_task() -> str | None:
        return request_id.get()

    greeting = {
        "user": scope["session"].get("user"),
        "request_id": request_id.get(),
        "task_request_id": await asyncio.create_task(in_a_task()),
    }
    await send({"type": "websocket.send", "text": json.dumps(greeting)})


async def _close_then_send(send: Any) -> None:
    await send({"type": "websocket.close", "code": 4001})
    try:
        await send({"type": "websocket.send", "text": "after the close"})
    except Exception:
        pass  # uvicorn, hypercorn and Daphne refuse it by raising


async def _chat(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "websocket.accept"})
    await _greet(scope, send)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text == "close-then-send":
            await _close_then_send(send)
        elif text is not None and text.startswith("close "):
            await send({"type": "websocket.close", "code": int(text.split()[1])})
        elif text is not None:
            await send({"type": "websocket.send", "text": text})


async def _slow(receive: Any, send: Any) -> None:
    try:
        message = await asyncio.wait_for(receive(), 2.0)
    except TimeoutError:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    assert message["type"] == "websocket.disconnect", message


async def _site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        if (await receive())["type"] != "websocket.connect":
            return
        if scope["path"] == "/slow":
            await _slow(receive, send)
        else:
            await _chat(scope, receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/login":
        scope["session"]["user"] = "alice"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


app = stack(_site)

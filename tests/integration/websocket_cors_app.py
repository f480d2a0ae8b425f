"""A tiny ASGI site for the websocket origin guard, served by real servers.

``tests/integration/test_websocket_cors.py`` (the ``websockets`` client) and the browser test
(``tests/integration/test_cors_browser.py``) serve ``app``: an echo websocket behind
``CORSMiddleware`` (the allowed origin comes from ``WS_CORS_ORIGIN``) and
``SessionMiddleware``. Routes:

- ``GET /login`` (HTTP): ``session["user"] = "alice"``, so the client gets a session cookie;
- any websocket path: accepted; the first message is ``hello <user>`` (the session's user,
  ``None`` without one), then every text message comes back as it was sent.

Every call that reaches the app appends one JSON line (type, path, origin, whether a Cookie
came along, the session's user) to the file
named by ``WS_CORS_RECORD``: a handshake the middleware refuses must never show up there.
"""

from __future__ import annotations

import json
import os
from typing import Any

from middleware.asgi import CORSMiddleware, SessionMiddleware

ALLOWED = os.environ.get("WS_CORS_ORIGIN", "https://allowed.example")
SECRET = "websocket-cors-secret-0123456789abcdef"


def _record(scope: dict[str, Any]) -> None:
    where = os.environ.get("WS_CORS_RECORD")
    if not where:
        return
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    line = {
        "type": scope["type"],
        "path": scope["path"],
        "origin": None if origin is None else origin.decode("latin-1"),
        "cookie": b"cookie" in headers,
        "user": scope["session"].get("user"),
    }
    with open(where, "a", encoding="utf-8") as record:
        record.write(json.dumps(line) + "\n")


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": f"hello {scope['session'].get('user')}"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})


async def _site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] not in ("http", "websocket"):
        return
    _record(scope)
    if scope["type"] == "websocket":
        await _echo(scope, receive, send)
        return
    if scope["path"] == "/login":
        scope["session"]["user"] = "alice"
    body = b"ok"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = CORSMiddleware(
    SessionMiddleware(_site, secret_key=SECRET),
    allow_origins=[ALLOWED],
    allow_credentials=True,
)

"""An ASGI app with all five middleware, for the HTTP/2 tests (``test_http2.py``).

The server target: ``tests.integration.h2_app:application``. Routes:

- ``/``: an HTML page with a ``render`` metric;
- ``/stream``: NDJSON, one line every 100 ms;
- ``/session``: a visit counter in the signed session cookie;
- ``/trailers``: a body followed by ``http.response.trailers`` (when the server offers them);
- ``/slow``: answers after 400 ms with the client's port, so a test can tell which requests
  shared one connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from middleware import Middleware, timing
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
    get_session,
)

ORIGIN = "https://app.example"
STREAM_GAP_SECONDS = 0.1
SLOW_SECONDS = 0.4
PAGE = b"<!doctype html><title>h2</title>" + b"<p>hello over HTTP/2</p>\n" * 200

stack = compose(
    RequestLoggingMiddleware,
    Middleware(TimingMiddleware, timing_allow_origin="*"),
    Middleware(
        CORSMiddleware,
        allow_origins=[ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["X-Demo"],
        allow_credentials=True,
        expose_headers=["X-Request-ID", "Server-Timing"],
    ),
    Middleware(SessionMiddleware, secret_key="h2-test-key-not-a-secret"),
    CompressionMiddleware,
)


async def _respond(send: Any, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@stack
async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        headers = [(b"content-type", b"application/x-ndjson")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n in range(5):
            await asyncio.sleep(STREAM_GAP_SECONDS)
            line = json.dumps({"n": n}).encode() + b"\n"
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/session":
        session = get_session(scope)
        session["visits"] = session.get("visits", 0) + 1
        body = json.dumps({"visits": session["visits"]}).encode()
        await _respond(send, b"application/json", body)
        return
    if path == "/trailers":
        trailers = "http.response.trailers" in scope.get("extensions", {})
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send(
            {"type": "http.response.start", "status": 200, "headers": headers, "trailers": trailers}
        )
        await send({"type": "http.response.body", "body": PAGE})
        if trailers:
            await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"page-ok")]})
        return
    if path == "/slow":
        await asyncio.sleep(SLOW_SECONDS)
        client = scope.get("client") or ("", 0)
        await _respond(send, b"application/json", json.dumps({"port": client[1]}).encode())
        return
    with timing.measure("render"):
        body = PAGE
    await _respond(send, b"text/html; charset=utf-8", body)

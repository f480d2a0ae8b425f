"""A plain ASGI app with the middleware stack applied through ``compose``.

    .venv/bin/uvicorn examples.asgi_app:application
    .venv/bin/hypercorn examples.asgi_app:application

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line at a time), ``/crash`` (raises).
The WSGI twin is ``examples/wsgi_app.py``: the same stack with one import changed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from middleware import Middleware, timing
from middleware.asgi import (
    CompressionMiddleware,
    RequestLoggingMiddleware,
    TimingMiddleware,
    compose,
)

PAGE = (
    "<!doctype html><title>asgi</title>" + "<p>hello from a plain ASGI app</p>\n" * 200
).encode()

stack = compose(
    RequestLoggingMiddleware,
    Middleware(TimingMiddleware, timing_allow_origin="*"),
    CompressionMiddleware,
)


@stack
async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/crash":
        raise RuntimeError("crashed on purpose")
    if path == "/stream":
        headers = [(b"content-type", b"application/x-ndjson")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n in range(5):
            await asyncio.sleep(0.05)
            line = json.dumps({"n": n}).encode() + b"\n"
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    with timing.measure("render"):
        body = PAGE
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})

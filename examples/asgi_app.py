"""A plain ASGI app with all five middleware applied through ``compose``.

    .venv/bin/uvicorn examples.asgi_app:application
    .venv/bin/hypercorn examples.asgi_app:application
    .venv/bin/gunicorn --worker-class uvicorn_worker.UvicornWorker examples.asgi_app:application

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits in the signed session cookie), ``/crash`` (raises). Access lines, each ending with
the request ID, go to stderr, or to the file named by ``$ACCESS_LOG``. The WSGI twin is
``examples/wsgi_app.py``: the same stack with one import changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from examples._secret import session_secret
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
SECRET = session_secret()

# The first layer is the outermost: the access log sees the final status and bytes, and the
# crash 500 that an inner layer answers still gets CORS, Server-Timing and the request ID.
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
    Middleware(SessionMiddleware, secret_key=SECRET),
    CompressionMiddleware,
)

# Access lines (the record's fields are also attributes, request_id among them).
access_handler = (
    logging.FileHandler(os.environ["ACCESS_LOG"])
    if os.environ.get("ACCESS_LOG")
    else logging.StreamHandler()
)
access_handler.setFormatter(logging.Formatter("%(message)s %(request_id)s"))
logging.getLogger("middleware.access").addHandler(access_handler)
logging.getLogger("middleware.access").setLevel(logging.INFO)

PAGE = (
    "<!doctype html><title>asgi</title>" + "<p>hello from a plain ASGI app</p>\n" * 200
).encode()


async def _respond(send: Any, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
    if path == "/session":
        session = get_session(scope)
        session["visits"] = session.get("visits", 0) + 1
        await _respond(
            send, b"application/json", json.dumps({"visits": session["visits"]}).encode()
        )
        return
    with timing.measure("render"):
        body = PAGE
    await _respond(send, b"text/html; charset=utf-8", body)

"""A Starlette app with all five middleware, via ``middleware=[...]`` and via ``add_middleware``.

    .venv/bin/uvicorn examples.starlette_app:app            # the middleware=[...] list
    .venv/bin/uvicorn examples.starlette_app:app_added      # the same stack, add_middleware
    .venv/bin/hypercorn examples.starlette_app:app

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits with ``request.session``), ``/crash`` (raises; the middleware answer a plain 500
that keeps their headers, then the exception reaches the server's log). Access lines, each
ending with the request ID, go to stderr, or to the file named by ``$ACCESS_LOG``.

``middleware.Middleware`` unpacks as Starlette's ``Middleware`` does, so the same list also
works with ``middleware.asgi.compose`` (and Starlette's own ``Middleware`` works here too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route

from examples._secret import session_secret
from middleware import Middleware, timing
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
)

ORIGIN = "https://app.example"
SECRET = session_secret()
CORS = {
    "allow_origins": [ORIGIN],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["X-Demo"],
    "allow_credentials": True,
    "expose_headers": ["X-Request-ID", "Server-Timing"],
}

# Access lines (the record's fields are also attributes, request_id among them).
access_handler = (
    logging.FileHandler(os.environ["ACCESS_LOG"])
    if os.environ.get("ACCESS_LOG")
    else logging.StreamHandler()
)
access_handler.setFormatter(logging.Formatter("%(message)s %(request_id)s"))
logging.getLogger("middleware.access").addHandler(access_handler)
logging.getLogger("middleware.access").setLevel(logging.INFO)


async def index(request: Request) -> HTMLResponse:
    with timing.measure("render"):
        body = "<!doctype html><title>starlette</title>" + "<p>hello from Starlette</p>\n" * 200
    return HTMLResponse(body)


async def stream(request: Request) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(5):
            await asyncio.sleep(0.05)
            yield json.dumps({"n": n}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def visits(request: Request) -> JSONResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JSONResponse({"visits": request.session["visits"]})


async def crash(request: Request) -> JSONResponse:
    raise RuntimeError("crashed on purpose")


routes = [
    Route("/", index),
    Route("/stream", stream),
    Route("/session", visits, methods=["GET", "POST"]),
    Route("/crash", crash),
]

# The list: the first entry is the outermost layer.
app = Starlette(
    routes=routes,
    middleware=[
        Middleware(RequestLoggingMiddleware),
        Middleware(TimingMiddleware, timing_allow_origin="*"),
        Middleware(CORSMiddleware, **CORS),
        Middleware(SessionMiddleware, secret_key=SECRET),
        Middleware(CompressionMiddleware),
    ],
)

# add_middleware: each call wraps what was added before, so the last call is the outermost.
app_added = Starlette(routes=routes)
app_added.add_middleware(CompressionMiddleware)
app_added.add_middleware(SessionMiddleware, secret_key=SECRET)
app_added.add_middleware(CORSMiddleware, **CORS)
app_added.add_middleware(TimingMiddleware, timing_allow_origin="*")
app_added.add_middleware(RequestLoggingMiddleware)

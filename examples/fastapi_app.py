"""A FastAPI app with all five middleware, via ``add_middleware`` and via ``middleware=[...]``.

    .venv/bin/uvicorn examples.fastapi_app:app              # add_middleware
    .venv/bin/uvicorn examples.fastapi_app:app_listed       # the same stack, middleware=[...]
    .venv/bin/gunicorn -k uvicorn_worker.UvicornWorker examples.fastapi_app:app

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits with ``request.session``), ``/crash`` (raises; the middleware answer a plain 500
that keeps their headers, then the exception reaches the server's log). Access lines, each
ending with the request ID, go to stderr, or to the file named by ``$ACCESS_LOG``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware import Middleware
from fastapi.responses import HTMLResponse, StreamingResponse

from examples._secret import session_secret
from middleware import timing
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

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def index() -> str:
    with timing.measure("render"):
        return "<!doctype html><title>fastapi</title>" + "<p>hello from FastAPI</p>\n" * 200


@router.get("/stream")
async def stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(5):
            await asyncio.sleep(0.05)
            yield json.dumps({"n": n}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.api_route("/session", methods=["GET", "POST"])
async def visits(request: Request) -> dict[str, int]:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return {"visits": request.session["visits"]}


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("crashed on purpose")


# add_middleware: each call wraps what was added before, so the last call is the outermost.
app = FastAPI()
app.include_router(router)
app.add_middleware(CompressionMiddleware)
app.add_middleware(SessionMiddleware, secret_key=SECRET)
app.add_middleware(CORSMiddleware, **CORS)
app.add_middleware(TimingMiddleware, timing_allow_origin="*")
app.add_middleware(RequestLoggingMiddleware)

# The list: the first entry is the outermost layer (middleware.Middleware works here too).
app_listed = FastAPI(
    middleware=[
        Middleware(RequestLoggingMiddleware),
        Middleware(TimingMiddleware, timing_allow_origin="*"),
        Middleware(CORSMiddleware, **CORS),
        Middleware(SessionMiddleware, secret_key=SECRET),
        Middleware(CompressionMiddleware),
    ]
)
app_listed.include_router(router)

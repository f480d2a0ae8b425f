"""A plain WSGI app with all five middleware applied through ``compose``.

    .venv/bin/gunicorn examples.wsgi_app:application
    .venv/bin/gunicorn --worker-class gthread --threads 4 examples.wsgi_app:application
    .venv/bin/waitress-serve examples.wsgi_app:application

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits in the signed session cookie), ``/crash`` (raises). Access lines, each ending with
the request ID, go to stderr, or to the file named by ``$ACCESS_LOG``. The ASGI twin is
``examples/asgi_app.py``: the same stack with one import changed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from examples._secret import session_secret
from middleware import Middleware, timing
from middleware.wsgi import (
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
    "<!doctype html><title>wsgi</title>" + "<p>hello from a plain WSGI app</p>\n" * 200
).encode()


def _stream() -> Iterator[bytes]:
    for n in range(5):
        time.sleep(0.05)
        yield json.dumps({"n": n}).encode() + b"\n"


@stack
def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/crash":
        raise RuntimeError("crashed on purpose")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/x-ndjson")])
        return _stream()
    if path == "/session":
        session = get_session(environ)
        session["visits"] = session.get("visits", 0) + 1
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"visits": session["visits"]}).encode()]
    with timing.measure("render"):
        body = PAGE
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body]

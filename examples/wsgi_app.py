"""A plain WSGI app with the middleware stack applied through ``compose``.

    .venv/bin/gunicorn examples.wsgi_app:application
    .venv/bin/waitress-serve examples.wsgi_app:application

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line at a time), ``/crash`` (raises).
The ASGI twin is ``examples/asgi_app.py``: the same stack with one import changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from middleware import Middleware, timing
from middleware.wsgi import (
    CompressionMiddleware,
    RequestLoggingMiddleware,
    TimingMiddleware,
    compose,
)

PAGE = (
    "<!doctype html><title>wsgi</title>" + "<p>hello from a plain WSGI app</p>\n" * 200
).encode()

stack = compose(
    RequestLoggingMiddleware,
    Middleware(TimingMiddleware, timing_allow_origin="*"),
    CompressionMiddleware,
)


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
    with timing.measure("render"):
        body = PAGE
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body]

"""Views: a page, a streamed response, the session, and a crash.

The session lives where the middleware put it: ``request.META["middleware.session"]`` under
WSGI (``META`` is the environ), ``request.scope["session"]`` under ASGI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from middleware import timing


def session_of(request: HttpRequest) -> Any:
    if isinstance(request, ASGIRequest):
        return request.scope["session"]
    return request.META["middleware.session"]


def index(request: HttpRequest) -> HttpResponse:
    with timing.measure("render"):
        body = "<!doctype html><title>django</title>" + "<p>hello from Django</p>\n" * 200
    return HttpResponse(body, content_type="text/html; charset=utf-8")


def _lines() -> Iterator[bytes]:
    for n in range(5):
        time.sleep(0.05)
        yield json.dumps({"n": n}).encode() + b"\n"


async def _alines() -> AsyncIterator[bytes]:
    for n in range(5):
        await asyncio.sleep(0.05)
        yield json.dumps({"n": n}).encode() + b"\n"


def stream(request: HttpRequest) -> StreamingHttpResponse:
    # Each server gets the iterator it can consume without buffering: Django's ASGI handler
    # wants an async one, its WSGI handler a sync one.
    lines = _alines() if isinstance(request, ASGIRequest) else _lines()
    return StreamingHttpResponse(lines, content_type="application/x-ndjson")


def visits(request: HttpRequest) -> JsonResponse:
    session = session_of(request)
    session["visits"] = session.get("visits", 0) + 1
    return JsonResponse({"visits": session["visits"]})


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("crashed on purpose")

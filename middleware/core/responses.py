"""Responses the middleware answers itself, shared by every feature and both protocols.

A core policy that answers a request instead of the app (a CORS preflight, a compression
rejection, a session store's 503) returns a ``Response``; the adapter sends it as it is.

"Crashes keep their headers": when the app raises before its response started, the layer
that notices answers the plain 500 of ``crash_headers`` and ``CRASH_BODY`` through its own
response path, so every layer outside it still adds its headers (CORS, request ID, timing).
"""

from __future__ import annotations

from dataclasses import dataclass

from .headers import Headers

CRASH_STATUS = 500
CRASH_BODY = b"Internal Server Error"


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """A whole answer: status, headers (the core's bytes pairs) and a short body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def plain(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Response:
    """A short text/plain answer such as a 400, 413, 415 or 503, with ``extra`` fields."""
    return Response(status=status, headers=(*plain_headers(body), *extra), body=body)


def crash_headers() -> Headers:
    """A fresh header list for the crash response (callers may extend it)."""
    return plain_headers(CRASH_BODY)


def plain_headers(body: bytes) -> Headers:
    """Headers for a short text/plain answer."""
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]

"""Responses the middleware answers itself, shared by both protocols.

"Crashes keep their headers": when the app raises before its response started, the layer
that notices answers this plain 500 through its own response path, so every layer outside it
still adds its headers (CORS, request ID, timing) to the crash response.
"""

from __future__ import annotations

from .headers import Headers

CRASH_STATUS = 500
CRASH_BODY = b"Internal Server Error"


def crash_headers() -> Headers:
    """A fresh header list for the crash response (callers may extend it)."""
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(CRASH_BODY)).encode()),
    ]


def plain_headers(body: bytes) -> Headers:
    """Headers for a short text/plain answer such as a 400, 413 or 415."""
    return [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]

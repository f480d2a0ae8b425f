"""The WSGI (PEP 3333) face of gateway-middleware.

    from middleware.wsgi import CORSMiddleware, SessionMiddleware, compose

Every class here has a twin with the same name, options and behaviour in ``middleware.asgi``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._compose import Middleware
from .._compose import compose as _compose
from .compression import CompressionMiddleware, GZipMiddleware
from .cors import CORSMiddleware
from .request_logging import RequestLoggingMiddleware
from .sessions import SessionMiddleware, get_session
from .timing import TimingMiddleware

__all__ = [
    "CORSMiddleware",
    "CompressionMiddleware",
    "GZipMiddleware",
    "Middleware",
    "RequestLoggingMiddleware",
    "SessionMiddleware",
    "TimingMiddleware",
    "compose",
    "get_session",
]


def compose(*layers: Any) -> Callable[[Any], Any]:
    """A decorator that wraps a WSGI app in ``layers``, the first one outermost."""
    return _compose("wsgi", layers)

"""The ASGI 3 face of gateway-middleware.

    from middleware.asgi import TimingMiddleware, compose

Every class here has a twin with the same name, options and behaviour in ``middleware.wsgi``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._compose import Middleware
from .._compose import compose as _compose
from .compression import CompressionMiddleware, GZipMiddleware
from .request_logging import RequestLoggingMiddleware
from .timing import TimingMiddleware

__all__ = [
    "CompressionMiddleware",
    "GZipMiddleware",
    "Middleware",
    "RequestLoggingMiddleware",
    "TimingMiddleware",
    "compose",
]


def compose(*layers: Any) -> Callable[[Any], Any]:
    """A decorator that wraps an ASGI app in ``layers``, the first one outermost."""
    return _compose("asgi", layers)

"""gateway-middleware: compression, CORS, sessions, request logging and Server-Timing for WSGI
and ASGI apps, each written once as a pure core (``middleware.core``) and exposed twice, as
``middleware.wsgi.X`` and ``middleware.asgi.X`` with the same options and behaviour.
"""

from __future__ import annotations

from . import request_id, timing
from ._compose import Middleware
from .stores import MemoryStore, RedisStore

__version__ = "0.1.0"

__all__ = ["MemoryStore", "Middleware", "RedisStore", "request_id", "timing"]

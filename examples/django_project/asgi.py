"""The Django project's ASGI entry point, wrapped in the same five middleware as ``wsgi.py``.

    .venv/bin/uvicorn examples.django_project.asgi:application
    .venv/bin/hypercorn examples.django_project.asgi:application

The stack is the one in ``wsgi.py`` with one import changed (``middleware.asgi``).
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from middleware import Middleware
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")
django_application = get_asgi_application()

application = compose(
    Middleware(RequestLoggingMiddleware, format="json"),
    Middleware(TimingMiddleware, timing_allow_origin="*"),
    Middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["X-Demo"],
        allow_credentials=True,
        expose_headers=["X-Request-ID", "Server-Timing"],
    ),
    Middleware(SessionMiddleware, secret_key=settings.SECRET_KEY),
    CompressionMiddleware,
)(django_application)

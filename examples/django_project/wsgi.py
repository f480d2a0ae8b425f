"""The Django project's WSGI entry point, wrapped in all five middleware.

    .venv/bin/gunicorn examples.django_project.wsgi:application
    .venv/bin/waitress-serve examples.django_project.wsgi:application
    .venv/bin/django-admin runserver --settings examples.django_project.settings --pythonpath .

Routes: ``/`` (an HTML page), ``/stream`` (NDJSON, one line every 50 ms), ``/session`` (counts
your visits in the signed session cookie), ``/crash`` (Django answers the 500; the middleware
add their headers to it). ``asgi.py`` wraps the ASGI handler in the same stack.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from middleware import Middleware
from middleware.wsgi import (
    CompressionMiddleware,
    CORSMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")
django_application = get_wsgi_application()

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

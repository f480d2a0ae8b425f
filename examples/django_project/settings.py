"""Settings kept minimal: no database, no installed apps, Django's CommonMiddleware only.

The five middleware are not listed in ``MIDDLEWARE``: they wrap the whole handler in ``wsgi.py``
and ``asgi.py``, so they also see Django's own error pages and answer CORS preflights before
URL routing. Access lines, as JSON objects, go to stderr or to the file named by
``$ACCESS_LOG``.
"""

from __future__ import annotations

import os

from examples._secret import session_secret

# Django's own key and the session cookies' key: from $SESSION_SECRET, never from the source.
SECRET_KEY = session_secret()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "examples.django_project.urls"
# runserver serves this, so the development server runs the same stack as production.
WSGI_APPLICATION = "examples.django_project.wsgi.application"
INSTALLED_APPS: list[str] = []
# As `django-admin startproject` writes it, CommonMiddleware sets Content-Length on every
# response that is not streamed, so compression knows a 13-byte JSON body is too small to pay.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# The browser origin allowed to call this site with credentials (used by wsgi.py and asgi.py).
CORS_ORIGINS = ["https://app.example"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(message)s"}},
    "handlers": {
        "access": (
            {"class": "logging.FileHandler", "filename": os.environ["ACCESS_LOG"]}
            if os.environ.get("ACCESS_LOG")
            else {"class": "logging.StreamHandler"}
        )
        | {"formatter": "line"},
    },
    "loggers": {"middleware.access": {"handlers": ["access"], "level": "INFO"}},
}

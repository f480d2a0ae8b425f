"""A minimal Django project with all five middleware around its WSGI and ASGI handlers.

See ``wsgi.py`` and ``asgi.py`` for how to run it.
"""

from __future__ import annotations

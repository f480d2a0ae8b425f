"""The ``middleware.sessions`` logger, where both faces write what the sessions core reports.

The core returns ``SessionEvent``s and never logs (``middleware.core.sessions``); the WSGI and
ASGI SessionMiddleware hand them here, each at the level its kind says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .core.sessions import SessionEvent

__all__ = ["log_events", "logger"]

logger = logging.getLogger("middleware.sessions")


def log_events(events: Iterable[SessionEvent]) -> None:
    """Log each of ``events`` on ``middleware.sessions`` at its level."""
    for event in events:
        logger.log(event.level, event.message)

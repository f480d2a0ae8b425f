"""The current request's ID, in sync and async code, during the body too.

    from middleware import request_id

    log.info("charging card", extra={"request_id": request_id.get()})

``get()`` returns None outside a request handled by RequestLoggingMiddleware.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["get"]

current: ContextVar[str | None] = ContextVar("middleware.request_id", default=None)


def get() -> str | None:
    """The ID of the request being handled, or None."""
    return current.get()

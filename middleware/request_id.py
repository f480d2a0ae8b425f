"""The current request's ID, in sync and async code, during the body too.

    import logging
    from middleware import request_id
    from middleware.request_id import RequestIdFilter

    log.info("charging card %s", request_id.get())

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(request_id)s %(levelname)s %(message)s"))

RequestLoggingMiddleware (WSGI or ASGI) sets the ID for the whole request: in the app, in
the code that produces a streamed body (a WSGI iterable consumed after the app returned, an
ASGI body sent from another task), and in threads or tasks started with the request's context
(``asyncio.to_thread``, ``loop.run_in_executor``, Starlette's thread pool,
``contextvars.copy_context().run``). An ASGI websocket connection has one ID for its whole
life, from the handshake to the close, in the tasks it starts too. It is reset when the
request ends. ``get()`` returns None outside a request.

``RequestIdFilter(default="-")`` sets ``record.request_id`` on every record it sees (records
that already carry one, such as the access log's, keep theirs), so any formatter can print
it. Attach it to handlers: a filter on a logger does not see records from child loggers.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

__all__ = ["RequestIdFilter", "get"]

current: ContextVar[str | None] = ContextVar("middleware.request_id", default=None)


def get() -> str | None:
    """The ID of the request being handled, or None."""
    return current.get()


class RequestIdFilter(logging.Filter):
    """A logging filter that puts the current request's ID on records as ``request_id``."""

    def __init__(self, name: str = "", default: str | None = "-") -> None:
        super().__init__(name)
        self.default = default

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return False
        if "request_id" not in record.__dict__:
            value = current.get()
            record.request_id = self.default if value is None else value
        return True

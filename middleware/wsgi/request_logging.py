"""Access logs and request IDs for WSGI apps.

    from middleware.wsgi import RequestLoggingMiddleware

    app.wsgi_app = RequestLoggingMiddleware(app.wsgi_app, format="json")

One record per request on the ``middleware.access`` logger at INFO, written when the server
closes the response: the final status (after an ``exc_info`` restart, or the 500 answering a
crash), the body bytes really sent (through the iterable or ``write()``) and the duration
including the body. The request ID is echoed on the response and is available through
``middleware.request_id.get()`` while the app runs, while its iterable produces the body and
while it is closed.

Options: see ``RequestLoggingLayer`` (the same on both protocols) and
``middleware.core.request_logging``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from time import perf_counter

from .._layers import RequestLoggingLayer
from .._log_records import AccessLog
from ..core.outcome import Outcome
from ..core.request_logging import RequestLog
from ..request_id import current
from ._environ import Exchange, InContext, WSGILayer, app_failed, canonical, status_code
from ._types import Environ, ExcInfo, NativeHeaders, StartResponse, Write

__all__ = ["RequestLoggingMiddleware"]


class RequestLoggingMiddleware(WSGILayer, RequestLoggingLayer):
    """Log one access record per request and give every request an ID."""

    @cached_property
    def access_log(self) -> AccessLog:
        return AccessLog(self.logger)

    @cached_property
    def request_keys(self) -> tuple[tuple[bytes, str], ...]:
        """The request fields the record reads, each with its environ key (``HTTP_REFERER``)."""
        names = sorted(self.policy.reads)
        return tuple((name, "HTTP_" + name.decode().upper().replace("-", "_")) for name in names)

    @cached_property
    def id_header(self) -> tuple[str, str]:
        """The request-ID header's name as the response carries it, and in lower case."""
        lower = self.policy.request_id_header.lower()
        return canonical(lower), lower

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # The fields the record reads, as the core's bytes pairs (the server has already joined
        # each one's repeated lines).
        headers = []
        for name, key in self.request_keys:
            value = environ.get(key)
            if value is not None:
                headers.append((name, value.encode("latin-1")))
        # The environ holds the path's bytes as latin-1: an ASCII path is handed over as it is
        # (text), any other as its bytes.
        path: str = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        log = self.policy.begin(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path if path.isascii() else path.encode("latin-1", "replace"),
            query=environ.get("QUERY_STRING", ""),
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.0"),
            headers=headers,
            peer=environ.get("REMOTE_ADDR"),
            now=perf_counter(),
            # An outer RequestLoggingMiddleware already named this request: one ID per request.
            request_id=current.get(),
        )
        exchange = _Logged(environ, start_response)
        exchange.log, exchange.layer = log, self
        token = current.set(log.request_id)
        try:
            return exchange.run(self.app_with_request_id)
        except BaseException:
            # The app raised and no 500 could answer it: it wrote its body with write() first
            # (the server refuses a 500 once the head went out), or it raised a BaseException
            # the crash rule leaves alone. The server gets the exception; the record says so.
            if not exchange.closed:  # a store failure passed on has closed (and logged) it
                exchange.outcome = Outcome.ERROR
                exchange.close()
            raise
        finally:
            current.reset(token)

    def app_with_request_id(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        """The app, its iterable run with the request's ID set while it produces or closes
        (the server iterates after ``__call__`` returned, maybe in another context)."""
        body = self.app(environ, start_response)
        # A list or tuple body runs no app code while it is sent: nothing to wrap.
        if type(body) is list or type(body) is tuple:
            return body
        return InContext(body, current, current.get())


class _Logged(Exchange):
    # Set by RequestLoggingMiddleware right after construction: no __init__ of its own saves a
    # Python call per request.
    __slots__ = ("layer", "log", "server_write")
    layer: RequestLoggingMiddleware
    log: RequestLog
    server_write: Write

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        # The core's start() for native strings: the ID replaces (never duplicates) one the
        # app set, in a new list (the app may reuse its own).
        name, lower = self.layer.id_header
        kept = []
        for field in headers:
            if field[0].lower() != lower:
                kept.append(field)
        kept.append((name, self.log.request_id))
        return kept

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        self.server_write = super().__call__(status, headers, exc_info)
        # Only now is the status the client's: with exc_info after the head left, the server
        # raised above and the first status stands.
        self.log.status = status_code(status)
        return self.write

    def write(self, data: bytes) -> None:
        # PEP 3333: a middleware that is not transforming may hand the app the server's
        # write(); this one counts what passes for the access record.
        self.server_write(data)
        self.log.sent += len(data)

    def on_close(self) -> None:
        log = self.log
        # A layer inside this one may have answered the app's crash with its 500.
        log.outcome = Outcome.ERROR if app_failed(self.environ) else self.outcome
        log.sent += self.bytes_sent  # after what write() sent
        self.layer.access_log.finish(log, perf_counter)

"""Access logs and request IDs for WSGI apps.

    from middleware.wsgi import RequestLoggingMiddleware

    app.wsgi_app = RequestLoggingMiddleware(app.wsgi_app, format="json")

One record per request on the ``middleware.access`` logger at INFO, written when the server
closes the response: the final status (after an ``exc_info`` restart, or the 500 answering a
crash), the body bytes really sent (through the iterable or ``write()``) and the duration
including the body. The request ID is echoed on the response and is available through
``middleware.request_id.get()`` while the app runs, while its iterable produces the body and
while it is closed.

Options: ``logger``, ``format`` (``"combined"``, ``"json"`` or a callable taking the access
record), ``request_id_header``, ``trust_request_id``, ``exclude_paths``, ``trusted_proxies``;
see ``middleware.core.request_logging``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from time import perf_counter, time
from typing import Any

from .. import request_id
from .._callbacks import call_quietly
from .._log_records import AccessLog
from ..core.forwarded import IPAddress, IPNetwork
from ..core.outcome import Outcome
from ..core.request_logging import RequestLoggingPolicy, log_entry
from ._environ import (
    Environ,
    Exchange,
    ExcInfo,
    NativeHeaders,
    StartResponse,
    Write,
    app_failed,
    check_app,
    status_code,
)

__all__ = ["RequestLoggingMiddleware"]

INFO = logging.INFO
_current = request_id.current


class RequestLoggingMiddleware:
    """Log one access record per request and give every request an ID."""

    _middleware_protocol = "wsgi"

    def __init__(
        self,
        app: Any,
        *,
        logger: str | logging.Logger = "middleware.access",
        format: str | Callable[[Any], object] = "combined",
        request_id_header: str = "X-Request-ID",
        trust_request_id: bool = True,
        exclude_paths: Iterable[str] = (),
        trusted_proxies: Iterable[str | IPAddress | IPNetwork] = (),
    ) -> None:
        self.app = check_app(app, "RequestLoggingMiddleware")
        self.policy = policy = RequestLoggingPolicy.build(
            logger=logger,
            format=format,
            request_id_header=request_id_header,
            trust_request_id=trust_request_id,
            exclude_paths=exclude_paths,
            trusted_proxies=trusted_proxies,
        )
        self.logger: logging.Logger = (
            logging.getLogger(logger) if isinstance(logger, str) else logger
        )
        self._access_log = AccessLog(self.logger)
        self._header = request_id_header
        self._header_lower = request_id_header.lower()
        self._environ_key = "HTTP_" + request_id_header.upper().replace("-", "_")
        self._trusted = bool(policy.trusted_proxies)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # An outer RequestLoggingMiddleware already named this request: one ID per request.
        rid = _current.get() or self.policy.request_id(environ.get(self._environ_key))
        exchange = _Logged(environ, start_response, self, rid)
        token = _current.set(rid)
        try:
            return exchange.run(self.app)
        except BaseException:
            # The app raised and no 500 could answer it: it wrote its body with write() first
            # (the server refuses a 500 once headers went out), or it raised a BaseException
            # the crash rule leaves alone. The server gets the exception; the record says so.
            if not exchange.closed:  # a store failure passed on has closed (and logged) it
                exchange.outcome = Outcome.ERROR
                call_quietly(exchange.log)
            raise
        finally:
            _current.reset(token)


class _Logged(Exchange):
    __slots__ = ("code", "layer", "request_id", "started_at", "write_bytes", "_write")

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        layer: RequestLoggingMiddleware,
        rid: str,
    ) -> None:
        super().__init__(environ, start_response)
        self.layer = layer
        self.request_id = rid
        self.code: int | None = None
        self.write_bytes = 0
        self._write: Write | None = None
        self.started_at = perf_counter()

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        self._write = super().__call__(status, headers, exc_info)
        # Only now is the status the client's: with exc_info after the headers left, the
        # server raised above and the first status stands.
        self.code = status_code(status)
        return self.write

    def write(self, data: bytes) -> None:
        # PEP 3333: a middleware that is not transforming may hand the app the server's
        # write(); this one counts what passes for the access record.
        self._write(data)  # type: ignore[misc]
        self.write_bytes += len(data)

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        lower = self.layer._header_lower
        # Replace (never duplicate) an ID the app set; a new list, the app's may be reused.
        kept = [(name, value) for name, value in headers if name.lower() != lower]
        kept.append((self.layer._header, self.request_id))
        return kept

    def run(self, app: Any) -> Iterable[bytes]:
        result = super().run(app)
        iterable = self._iterable
        # A list or tuple body runs no app code while it is sent: nothing to wrap.
        if self.outcome is None and iterable is not None and type(iterable) not in _INERT:
            self._iterable = _WithRequestId(iterable, self.request_id)
        return result

    def on_close(self) -> None:
        if app_failed(self.environ):
            # A layer inside this one answered the app's crash with its 500.
            self.outcome = Outcome.ERROR
        call_quietly(self.log)

    def log(self) -> None:
        layer = self.layer
        access_log = layer._access_log
        if not access_log.enabled():
            return
        environ = self.environ
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        # The environ holds the path's bytes as latin-1: an ASCII path is logged as it is; any
        # other is logged from its bytes and matched against exclude_paths as UTF-8 text.
        logged: str | bytes = path
        if not path.isascii():
            raw_path = path.encode("latin-1", "replace")
            logged, path = raw_path, raw_path.decode("utf-8", "replace")
        policy = layer.policy
        if policy.exclude_paths and policy.excludes(path):
            return
        end = perf_counter()
        now = time()
        trusted = layer._trusted
        template = access_log.template()
        fields, line = log_entry(
            policy,
            self.request_id,
            self.code,
            self.bytes_sent + self.write_bytes,
            self.outcome or Outcome.COMPLETED,
            self.started_at,
            end,
            now,
            environ.get("REQUEST_METHOD", "GET"),
            logged,
            environ.get("QUERY_STRING", ""),
            environ.get("SERVER_PROTOCOL", "HTTP/1.0"),
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_USER_AGENT"),
            environ.get("HTTP_REFERER"),
            environ.get("HTTP_FORWARDED") if trusted else None,
            environ.get("HTTP_X_FORWARDED_FOR") if trusted else None,
            template,
        )
        access_log.write(line, fields, now, template is not None)


_INERT = (list, tuple)


class _WithRequestId:
    """The app's iterable, run with the request's ID set while it produces or closes.

    The server iterates after ``__call__`` returned, maybe from another context; setting the
    ID around each step (not once for the whole body) keeps it out of the server's own code
    and always resets it where it was set.
    """

    __slots__ = ("_iterable", "_iterator", "_request_id")

    def __init__(self, iterable: Iterable[bytes], rid: str) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None
        self._request_id = rid

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = _current.set(self._request_id)
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            return next(iterator)
        finally:
            _current.reset(token)

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            token = _current.set(self._request_id)
            try:
                close()
            finally:
                _current.reset(token)

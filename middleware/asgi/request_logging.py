"""Access logs and request IDs for ASGI apps.

    from middleware.asgi import RequestLoggingMiddleware

    app.add_middleware(RequestLoggingMiddleware, format="json")

One record per HTTP request on the ``middleware.access`` logger at INFO, written when the
response ended: after the last body message (so a streamed body is inside the duration and a
background task after it is not), or when the client left, or when the app failed. The request
ID is echoed on the response and is available through ``middleware.request_id.get()`` in the
app and in every task or thread started with the request's context. Other scopes pass through.

Options: ``logger``, ``format`` (``"combined"``, ``"json"`` or a callable taking the access
record), ``request_id_header``, ``trust_request_id``, ``exclude_paths``, ``trusted_proxies``;
see ``middleware.core.request_logging``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import perf_counter, time
from typing import Any

from .. import request_id
from .._callbacks import call_quietly
from ..core.forwarded import IPAddress, IPNetwork
from ..core.outcome import Outcome
from ..core.request_logging import (
    RequestHeaders,
    RequestLoggingPolicy,
    log_entry,
    logged_headers,
)
from ._scope import Exchange, Message, Receive, Scope, Send, check_app

__all__ = ["RequestLoggingMiddleware"]

INFO = logging.INFO
_current = request_id.current


class RequestLoggingMiddleware:
    """Log one access record per HTTP request and give every request an ID."""

    _middleware_protocol = "asgi"

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
        self.policy = RequestLoggingPolicy.build(
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One pass over the request headers finds the ID and what the record will need.
        found = logged_headers(scope["headers"], self.policy.header_index)
        # An outer RequestLoggingMiddleware already named this request: one ID per request.
        # (Repeated ID lines arrive joined by ",", as a WSGI server joins them.)
        rid = _current.get() or self.policy.request_id(found[0])
        exchange = _Logged(send, self, scope, rid, found)
        token = _current.set(rid)
        try:
            await exchange.run(self.app, scope, receive)
        finally:
            _current.reset(token)


class _Logged(Exchange):
    # The body bytes that left are the plumbing's bytes_sent (counted before each send, as
    # the last body message ends the response, and writes the record, inside the send).
    __slots__ = (
        "code",
        "ended_at",
        "found",
        "header",
        "layer",
        "request_id",
        "scope",
        "started_at",
    )

    def __init__(
        self,
        send: Send,
        layer: RequestLoggingMiddleware,
        scope: Scope,
        rid: str,
        found: RequestHeaders,
    ) -> None:
        super().__init__(send)
        self.found = found
        self.layer = layer
        self.scope = scope
        self.request_id = rid
        self.header = (layer.policy.header_name, rid.encode("latin-1"))
        self.code: int | None = None
        self.started_at = perf_counter()
        self.ended_at: float | None = None

    def on_start(self, message: Message) -> Message:
        self.code = message["status"]
        name = self.header[0]
        # Replace (never duplicate) an ID the app set; a copy, the app's list is its own.
        headers = [item for item in message.get("headers", ()) if item[0].lower() != name]
        headers.append(self.header)
        message = dict(message)
        message["headers"] = headers
        return message

    def on_response_end(self) -> None:
        # The duration ends with the response, not with work the app does after it
        # (background tasks); the record itself waits for the app to return, so an
        # exception raised after a 500 was answered is still recorded as an error.
        self.ended_at = perf_counter()

    def on_end(self) -> None:
        call_quietly(self.log)

    def log(self) -> None:
        layer = self.layer
        logger = layer.logger
        if not logger.isEnabledFor(INFO):
            return
        scope = self.scope
        path = scope["path"]
        root = scope.get("root_path", "")
        # ASGI servers disagree on whether path includes root_path; the full path has it once.
        if root and not path.startswith(root):
            path = root + path
        policy = layer.policy
        if policy.excludes(path):
            return
        end = perf_counter() if self.ended_at is None else self.ended_at
        _, user_agent, referer, forwarded, x_forwarded_for = self.found
        client = scope.get("client")
        record, line = log_entry(
            policy,
            request_id=self.request_id,
            status=self.code,
            body_bytes=self.bytes_sent,
            outcome=self.outcome or Outcome.COMPLETED,
            start=self.started_at,
            end=end,
            now=time(),
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b""),
            protocol="HTTP/" + scope.get("http_version", "1.1"),
            peer=client[0] if client else None,
            user_agent=user_agent,
            referer=referer,
            forwarded=forwarded,
            x_forwarded_for=x_forwarded_for,
        )
        # logger.info(line, extra=...) without the caller lookup (it would only ever name this
        # line) and without checking each field against the LogRecord's own attributes (none
        # of FIELDS is one).
        entry = logger.makeRecord(logger.name, INFO, __file__, 0, line, (), None)
        entry.__dict__.update(record.__dict__)
        logger.handle(entry)

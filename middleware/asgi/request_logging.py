"""Access logs and request IDs for ASGI apps.

    from middleware.asgi import RequestLoggingMiddleware

    app.add_middleware(RequestLoggingMiddleware, format="json")

One record per HTTP request on the ``middleware.access`` logger at INFO, written when the
response ended: after the last body message (so a streamed body is inside the duration and a
background task after it is not), or when the client left, or when the app failed. The client
has left once the app's ``receive()`` returned ``http.disconnect`` before the response ended:
the record then says "disconnected" with the bytes sent before it, whatever the server does
with later sends (uvicorn and hypercorn drop them silently). The request ID is echoed on the
response and is available through ``middleware.request_id.get()`` in the app and in every task
or thread started with the request's context. Other scopes pass through.

Options: ``logger``, ``format`` (``"combined"``, ``"json"`` or a callable taking the access
record), ``request_id_header``, ``trust_request_id``, ``exclude_paths``, ``trusted_proxies``;
see ``middleware.core.request_logging``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from time import perf_counter, time
from typing import Any

from .. import request_id
from .._callbacks import call_quietly
from .._log_records import AccessLog
from ..core.forwarded import IPAddress, IPNetwork
from ..core.outcome import Outcome
from ..core.request_logging import (
    RequestHeaders,
    RequestLoggingPolicy,
    log_entry,
    logged_headers,
)
from ._scope import (
    Message,
    Receive,
    Scope,
    Send,
    check_app,
    file_size,
    send_crash,
    store_failure,
)

__all__ = ["RequestLoggingMiddleware"]

INFO = logging.INFO
_current = request_id.current
# Looked up once: an Enum member looked up on its class costs about 0.1 µs, and _send_tracked
# runs for every message.
_COMPLETED = Outcome.COMPLETED
_DISCONNECTED = Outcome.DISCONNECTED


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
        self._access_log = AccessLog(self.logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        # One pass over the request headers finds the ID and what the record will need.
        found = logged_headers(scope["headers"], policy.header_index)
        # An outer RequestLoggingMiddleware already named this request: one ID per request.
        # (Repeated ID lines arrive joined by ",", as gunicorn joins them into the environ.)
        rid = _current.get() or policy.request_id(found[0])
        header = (policy.header_name, rid.encode("latin-1"))
        response = _Response()

        # Every message goes through _send_tracked, which sees whether the send succeeded: a
        # client gone before the headers left is a disconnect, not an app error.
        def logged_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                response.code = message["status"]
                name = header[0]
                # Replace (never duplicate) an ID the app set; a copy, the app's list is its own.
                headers = [item for item in message.get("headers", ()) if item[0].lower() != name]
                headers.append(header)
                message = dict(message)
                message["headers"] = headers
                response.trailers = bool(message.get("trailers"))
            return _send_tracked(send, message, response)

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and response.outcome is None:
                # The app now knows the client left, so what it sends from here on reaches
                # nobody, whatever the server does with it (uvicorn and hypercorn drop it
                # silently): the record says "disconnected", with the bytes sent before.
                response.outcome = _DISCONNECTED
                response.ended_at = perf_counter()
            return message

        token = _current.set(rid)
        try:
            await self.app(scope, logged_receive, logged_send)
        except Exception as exc:
            if response.outcome is not Outcome.DISCONNECTED:
                response.outcome = Outcome.ERROR
            if response.code is None and not store_failure(scope, exc):
                # "Crashes keep their headers": the 500 goes out through this layer.
                await send_crash(logged_send)
            raise
        except BaseException:
            # Cancellation: the server gave up on the request (client gone, shutdown).
            response.outcome = Outcome.DISCONNECTED
            raise
        else:
            # Returning without a complete response means the app saw the client leave.
            if response.outcome is not Outcome.COMPLETED:
                response.outcome = Outcome.DISCONNECTED
        finally:
            # Written when the app returned, not at the last body message: an exception
            # raised after a layer inside answered it with a 500 still counts as an error.
            call_quietly(self._log, scope, response, rid, found)
            _current.reset(token)

    def _log(self, scope: Scope, response: _Response, rid: str, found: RequestHeaders) -> None:
        access_log = self._access_log
        if not access_log.enabled():
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        # ASGI servers disagree on whether path includes root_path; the full path has it once.
        if root and not path.startswith(root):
            path = root + path
        policy = self.policy
        if policy.exclude_paths and policy.excludes(path):
            return
        # The duration ends with the response, not with work the app does after it.
        end = response.ended_at or perf_counter()
        client = scope.get("client")
        now = time()
        template = access_log.template()
        fields, line = log_entry(
            policy,
            rid,
            response.code,
            response.sent,
            response.outcome or Outcome.COMPLETED,
            response.started_at,
            end,
            now,
            scope["method"],
            path,
            scope.get("query_string", b""),
            "HTTP/" + scope.get("http_version", "1.1"),
            client[0] if client else None,
            found[1],
            found[2],
            found[3],
            found[4],
            template,
        )
        access_log.write(line, fields, now, template is not None)


class _Response:
    """What the record needs of the response: its status, bytes, end time and outcome."""

    __slots__ = ("code", "ended_at", "outcome", "sent", "started_at", "trailers")

    def __init__(self) -> None:
        self.code: int | None = None
        self.sent = 0
        self.trailers = False
        self.outcome: Outcome | None = None
        self.ended_at = 0.0
        self.started_at = perf_counter()


async def _send_tracked(send: Send, message: Message, response: _Response) -> None:
    kind = message["type"]
    if kind == "http.response.body":
        size = len(message.get("body", b""))
        last = not message.get("more_body", False) and not response.trailers
    elif kind == "http.response.pathsend":
        size = file_size(message.get("path"))
        last = True
    elif kind == "http.response.zerocopysend":
        size = message.get("count") or 0
        last = not message.get("more_body", False) and not response.trailers
    else:
        size = 0
        last = kind == "http.response.trailers" and not message.get("more_trailers", False)
    outcome = response.outcome
    if outcome is _DISCONNECTED:
        # The app heard the client leave: nothing more is counted.
        await send(message)
        return
    if last and outcome is None:
        # Decided before the send: a disconnect that another task's receive() hears while
        # this last message is on its way came after the response.
        response.outcome = _COMPLETED
    try:
        await send(message)
    except Exception:
        # The server could not send: the client is gone (uvicorn raises OSError).
        response.outcome = _DISCONNECTED
        raise
    # Counted once sent: bytes the client never got are not in the record.
    response.sent += size
    if last and outcome is None:
        response.ended_at = perf_counter()

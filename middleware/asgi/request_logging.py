"""Access logs and request IDs for ASGI apps.

    from middleware.asgi import RequestLoggingMiddleware

    app.add_middleware(RequestLoggingMiddleware, format="json")

One record per HTTP request on the ``middleware.access`` logger at INFO, written when the app
returned and timed to the end of the response: its last body message (so a streamed body is
inside the duration and a background task after it is not), the client's leaving, or the app's
failure. The client has left once the app's ``receive()`` returned ``http.disconnect`` before
the response ended: the record then says "disconnected" with the bytes sent before it,
whatever the server does with later sends (uvicorn and hypercorn drop them silently). The
request ID is echoed on the response and is available through ``middleware.request_id.get()``
in the app and in every task or thread started with the request's context. Lifespan scopes
pass through.

A websocket connection is one record too, written when the app returns: its status is the
handshake's answer (101 once ``websocket.accept`` went), its close code the first close's, from
either side; the rules are in the docs (Request logging, WebSockets) and
``middleware.core.request_logging``.

Options: see ``RequestLoggingLayer`` (the same on both protocols) and
``middleware.core.request_logging``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import cached_property
from time import perf_counter

from .._layers import RequestLoggingLayer
from .._log_records import AccessLog
from ..core.outcome import Outcome
from ..core.request_logging import WEBSOCKET, RequestLog, websocket_close_code
from ..request_id import current
from ._scope import ASGILayer, Exchange, full_path, response_part
from ._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestLoggingMiddleware"]

# Looked up once: an Enum member looked up on its class costs about 0.05 µs, and send() runs
# for every message.
_COMPLETED = Outcome.COMPLETED
_DISCONNECTED = Outcome.DISCONNECTED


class RequestLoggingMiddleware(ASGILayer, RequestLoggingLayer):
    """Log one access record per HTTP request and per websocket connection, and give each an
    ID."""

    @cached_property
    def access_log(self) -> AccessLog:
        return AccessLog(self.logger)

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        log = self.begin(scope, scope["method"], "HTTP/" + scope.get("http_version", "1.1"))
        return _Response(scope, receive, send, log, self.access_log).run(self.app)

    def websocket(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        log = self.begin(scope, "GET", WEBSOCKET)
        return _Connection(scope, receive, send, log, self.access_log).run(self.app)

    def begin(self, scope: Scope, method: str, protocol: str) -> RequestLog:
        """The core's log of the request or connection ``scope`` names, started now."""
        client = scope.get("client")
        return self.policy.begin(
            method=method,
            path=full_path(scope),
            query=scope.get("query_string", b""),
            protocol=protocol,
            # Repeated ID lines are joined by ",", as gunicorn joins them into the environ. ASGI
            # requires the headers; a scope without them reads as a request without any.
            headers=scope.get("headers") or [],
            peer=client[0] if client else None,
            now=perf_counter(),
            # An outer RequestLoggingMiddleware already named this request: one ID per request.
            request_id=current.get(),
        )


class _Response(Exchange):
    """One HTTP request through the logging layer, reported to its ``log``.

    ``run`` calls the app with the request's ID set, ``send`` and ``watched_receive`` report
    what the server took and when the client left, and the record is written once the app
    returned: an exception raised after a layer inside answered it with a 500 still makes it
    an error. Every message is awaited here, so bytes count once the server took them and a
    send that finds the client gone is a disconnect, not an app error; that costs about 0.05
    µs a message over returning the server's awaitable (``bench/websocket.py``).
    """

    __slots__ = ("access_log", "log", "trailers")

    #: The message of ``receive()`` that says the client left.
    disconnect = "http.disconnect"

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, log: RequestLog, access_log: AccessLog
    ) -> None:
        # The fields set here, not through super().__init__: a Python call less per request.
        self.scope, self.receive, self.server_send = scope, receive, send
        self.log, self.access_log = log, access_log
        self.started = self.trailers = False

    async def run(self, app: ASGIApp) -> None:
        log = self.log
        token = current.set(log.request_id)
        try:
            await app(self.scope, self.watched_receive, self.send)
        except Exception as exc:
            log.raised()
            await self.crashed(exc)  # "Crashes keep their headers": the 500 goes out here
            raise
        except BaseException:
            # Cancellation: the server gave up on the request (client gone, shutdown).
            log.cancelled()
            raise
        finally:
            self.access_log.finish(log, perf_counter)
            current.reset(token)

    async def watched_receive(self) -> Message:
        message = await self.receive()
        if message["type"] == self.disconnect and self.log.outcome is None:
            # The client left (before the accept too): what the app sends from here on
            # reaches nobody, whatever the server does with it.
            self.log.ended(_DISCONNECTED, perf_counter(), self.close_code(message))
        return message

    def close_code(self, message: Message) -> int | None:
        """The close code the client's ``disconnect`` message reports (none on HTTP)."""
        return None

    async def send(self, message: Message) -> None:
        log = self.log
        if message["type"] == "http.response.start":
            self.started = True
            self.trailers = bool(message.get("trailers"))
            message = dict(message)  # a copy, as the plumbing's on_start says (dict(): see timing)
            message["headers"] = log.start(message["status"], message.get("headers", ()))
            size, last = 0, False
        else:
            size, last = response_part(message, self.trailers)
        outcome = log.outcome
        if outcome is _DISCONNECTED:
            return await self.server_send(message)
        if last and outcome is None:
            # Decided before the send: a disconnect that another task's receive() hears while
            # this last message is on its way came after the response.
            log.outcome = _COMPLETED
        try:
            await self.server_send(message)
        except Exception:
            # The server could not send: the client is gone (uvicorn raises OSError).
            log.outcome = _DISCONNECTED
            raise
        log.sent += size
        if last and outcome is None:
            log.ended_at = perf_counter()


class _Connection(_Response):
    """One websocket connection, from the scope to its first close."""

    __slots__ = ()

    disconnect = "websocket.disconnect"

    async def send(self, message: Message) -> None:
        log = self.log
        if log.outcome is not None:
            # Closed: the server drops or refuses what comes now, and none of it is counted.
            return await self.server_send(message)
        kind = message["type"]
        status = log.status
        size = 0
        if kind == "websocket.send":
            text = message.get("text")
            if text is None:
                size = len(message.get("bytes") or b"")
            elif text.isascii():
                # O(1) in CPython: most text is counted without being encoded.
                size = len(text)
            else:
                size = len(text.encode("utf-8", "surrogatepass"))
        elif kind == "websocket.accept":
            message = {**message, "headers": log.start(101, message.get("headers") or ())}
        elif kind == "websocket.http.response.start":
            headers = log.start(message["status"], message.get("headers") or ())
            message = {**message, "headers": headers}
        elif kind == "websocket.http.response.body":
            size = len(message.get("body", b""))
        elif kind == "websocket.close" and status is None:
            # ASGI: a close before the accept is answered by the server with a 403.
            log.status = 403
        try:
            await self.server_send(message)
        except Exception as exc:
            # The server refused it or the client is gone (uvicorn raises OSError; hypercorn
            # and Daphne drop the message): the client never got what it says.
            log.status = status
            if isinstance(exc, OSError):
                log.ended(_DISCONNECTED, perf_counter())
            raise
        log.sent += size
        if kind == "websocket.close":
            # ASGI's default code is 1000.
            log.ended(_COMPLETED, perf_counter(), websocket_close_code(message.get("code", 1000)))
        elif kind == "websocket.http.response.body" and not message.get("more_body", False):
            log.ended(_COMPLETED, perf_counter())

    async def crashed(self, error: Exception) -> bool:
        # No answer of the layer's own: the server answers an app that failed before the
        # handshake (500), and the record says so.
        return False

    def close_code(self, message: Message) -> int | None:
        # ASGI's default code is 1005, "no status code".
        return websocket_close_code(message.get("code", 1005))

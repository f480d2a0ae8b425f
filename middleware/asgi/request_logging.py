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
from ..core.request_logging import RequestLog
from ..request_id import current
from ._scope import (
    ASGIApp,
    ASGILayer,
    Exchange,
    Message,
    Receive,
    Scope,
    Send,
    file_size,
    send_crash,
    store_failure,
)

__all__ = ["RequestLoggingMiddleware"]

# Looked up once: an Enum member looked up on its class costs about 0.05 µs, and send() runs
# for every message.
_COMPLETED = Outcome.COMPLETED
_DISCONNECTED = Outcome.DISCONNECTED
_ERROR = Outcome.ERROR


class RequestLoggingMiddleware(ASGILayer, RequestLoggingLayer):
    """Log one access record per HTTP request and give every request an ID.

    Websocket scopes pass through untouched, as every scope but HTTP does (``ASGILayer``).
    Their records (SPEC: protocol "websocket", status 101, ``close_code``) are to come as a
    ``websocket`` method beside ``http``, on the same ``RequestLog``.
    """

    @cached_property
    def access_log(self) -> AccessLog:
        return AccessLog(self.logger)

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        client = scope.get("client")
        log = self.policy.begin(
            method=scope["method"],
            path=_full_path(scope),
            query=scope.get("query_string", b""),
            protocol="HTTP/" + scope.get("http_version", "1.1"),
            # Repeated ID lines are joined by ",", as gunicorn joins them into the environ.
            headers=scope["headers"],
            peer=client[0] if client else None,
            now=perf_counter(),
            # An outer RequestLoggingMiddleware already named this request: one ID per request.
            request_id=current.get(),
        )
        return _Logged(scope, receive, send, log, self.access_log).run(self.app)


def _full_path(scope: Scope) -> str:
    # ASGI servers disagree on whether path includes root_path; the full path has it once.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return root + path if root and not path.startswith(root) else path


class _Logged(Exchange):
    """One request through the logging layer.

    ``outcome`` is None while the response runs, COMPLETED once its last message is on its
    way, DISCONNECTED once the app heard the client leave or a send failed, ERROR when the app
    raised; ``ended_at`` is when the response ended, if before the app returned.
    """

    __slots__ = ("access_log", "ended_at", "log", "outcome", "sent", "trailers")

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, log: RequestLog, access_log: AccessLog
    ) -> None:
        super().__init__(scope, receive, send)
        self.log = log
        self.access_log = access_log
        self.outcome: Outcome | None = None
        self.sent = 0
        self.trailers = False
        self.ended_at: float | None = None

    def on_start(self, message: Message) -> Message:
        self.trailers = bool(message.get("trailers"))
        headers = self.log.start(message["status"], message.get("headers", ()))
        return {**message, "headers": headers}

    async def send(self, message: Message) -> None:
        # Every message passes here to see whether the server took it: a client gone before
        # the head left is a disconnect, not an app error, and bytes count once sent. So this
        # send awaits the server's itself, and does Exchange.send's step for the start.
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            message = self.on_start(message)
            size, last = 0, False
        elif kind == "http.response.body":
            size = len(message.get("body", b""))
            last = not (message.get("more_body", False) or self.trailers)
        elif kind == "http.response.pathsend":
            size = file_size(message.get("path"))
            last = True
        elif kind == "http.response.zerocopysend":
            size = message.get("count") or 0
            last = not (message.get("more_body", False) or self.trailers)
        else:
            size = 0
            last = kind == "http.response.trailers" and not message.get("more_trailers", False)
        outcome = self.outcome
        if outcome is _DISCONNECTED:
            # The app heard the client leave: nothing more is counted.
            return await self.server_send(message)
        if last and outcome is None:
            # Decided before the send: a disconnect that another task's receive() hears while
            # this last message is on its way came after the response.
            self.outcome = _COMPLETED
        try:
            await self.server_send(message)
        except Exception:
            # The server could not send: the client is gone (uvicorn raises OSError).
            self.outcome = _DISCONNECTED
            raise
        self.sent += size
        if last and outcome is None:
            self.ended_at = perf_counter()

    async def watched_receive(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.disconnect" and self.outcome is None:
            # The app now knows the client left, so what it sends from here on reaches
            # nobody, whatever the server does with it (uvicorn and hypercorn drop it
            # silently): the record says "disconnected", with the bytes sent before.
            self.outcome = _DISCONNECTED
            self.ended_at = perf_counter()
        return message

    async def run(self, app: ASGIApp) -> None:
        # Exchange.run's crash rule, plus what the record must know: how the app ended
        # (returned, raised, cancelled) and whether it heard the client leave (its receive).
        token = current.set(self.log.request_id)
        try:
            await app(self.scope, self.watched_receive, self.send)
        except Exception as exc:
            if self.outcome is not _DISCONNECTED:
                self.outcome = _ERROR
            if not self.started and not store_failure(self.scope, exc):
                # "Crashes keep their headers": the 500 goes out through this layer.
                await send_crash(self.send)
            raise
        except BaseException:
            # Cancellation: the server gave up on the request (client gone, shutdown).
            self.outcome = _DISCONNECTED
            raise
        else:
            # Returning without a complete response means the app saw the client leave.
            if self.outcome is not _COMPLETED:
                self.outcome = _DISCONNECTED
        finally:
            # Written when the app returned, not at the last body message: an exception
            # raised after a layer inside answered it with a 500 still counts as an error.
            # The duration ends with the response, not with work the app does after it.
            ended_at = perf_counter() if self.ended_at is None else self.ended_at
            outcome = self.outcome or _COMPLETED
            self.access_log.finish(self.log, outcome=outcome, sent=self.sent, now=ended_at)
            current.reset(token)

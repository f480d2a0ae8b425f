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
or thread started with the request's context. Lifespan scopes pass through.

A websocket connection is one record too, written when the app returns: method ``GET``,
``protocol`` ``"websocket"``, ``duration_ms`` from the handshake to the close, ``bytes`` of
the messages sent to the client (text counted as UTF-8), and

- ``status``: 101 once the app's ``websocket.accept`` went; a refusal's own status through
  the ``websocket.http.response`` extension (e.g. CORSMiddleware's 403); 403 for a
  ``websocket.close`` before the accept, which servers answer with a 403; 500 when the app
  returned or raised without answering the handshake (servers then send a 500), 499 when the
  client left before it was answered.
- ``close_code``: the code of the first close, from either side: the app's ``websocket.close``
  once the server took it (1000 when it names none), or the client's, as the app's
  ``receive()`` returned it in ``websocket.disconnect`` (1005 when it names none). It is kept
  as given, out-of-range codes included (``middleware.core.request_logging``,
  ``websocket_close_code``); None when neither side closed before the app returned (an app
  error after the accept, an HTTP refusal).
- ``outcome``: ``"completed"`` when the app ended the connection (its close, its refusal, or
  returning), ``"disconnected"`` when the client did (the close code says how: 1000 or 1001 a
  clean close, 1005 or 1006 none or a lost connection, as the server reports it), ``"error"``
  when the app raised, unless the client had left first.

After the first close nothing more is counted: what the app sends then goes to the server as
it is (uvicorn, hypercorn and Daphne refuse it by raising into the app). The request ID is
kept or made as for HTTP, set on the ``websocket.accept`` headers (and a refusal's),
replacing one the app set, and readable with ``request_id.get()`` for the whole connection,
in tasks it starts too. Daphne sends no header given on ``websocket.accept``; the record
still has the ID.

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
from ._scope import ASGILayer, Exchange, file_size, send_crash, store_failure
from ._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestLoggingMiddleware"]

# Looked up once: an Enum member looked up on its class costs about 0.05 µs, and send() runs
# for every message.
_COMPLETED = Outcome.COMPLETED
_DISCONNECTED = Outcome.DISCONNECTED
_ERROR = Outcome.ERROR


class RequestLoggingMiddleware(ASGILayer, RequestLoggingLayer):
    """Log one access record per HTTP request and per websocket connection, and give each an
    ID."""

    @cached_property
    def access_log(self) -> AccessLog:
        return AccessLog(self.logger)

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
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

    def websocket(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        client = scope.get("client")
        log = self.policy.begin(
            method="GET",
            path=_full_path(scope),
            query=scope.get("query_string", b""),
            protocol=WEBSOCKET,
            # ASGI requires the headers; a scope without them reads as a handshake without any.
            headers=scope.get("headers") or [],
            peer=client[0] if client else None,
            now=perf_counter(),
            request_id=current.get(),
        )
        return _Connection(scope, receive, send, log, self.access_log).run(self.app)


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
        # Exchange's fields set here, not through super().__init__: a Python call less per
        # request.
        self.scope, self.receive, self.server_send, self.started = scope, receive, send, False
        self.log = log
        self.access_log = access_log
        self.outcome: Outcome | None = None
        self.sent = 0
        self.trailers = False
        self.ended_at: float | None = None

    def on_start(self, message: Message) -> Message:
        self.trailers = bool(message.get("trailers"))
        message = dict(message)  # a copy, as the plumbing's on_start says (dict(): see timing)
        message["headers"] = self.log.start(message["status"], message.get("headers", ()))
        return message

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


class _Connection:
    """One websocket connection through the logging layer, from the scope to its close.

    ``outcome`` is None while the connection is open (or its handshake pending); COMPLETED
    once the app ended it (its ``websocket.close``, or the last piece of its HTTP refusal,
    taken by the server); DISCONNECTED once the client did (the app's ``receive()`` returned
    ``websocket.disconnect``, or a send found the client gone); ERROR when the app raised
    while it was open or after it closed it. From the first close on, nothing more is counted
    and the close code stays the first one; ``ended_at`` is when that close happened.
    """

    __slots__ = (
        "access_log",
        "close_code",
        "ended_at",
        "log",
        "outcome",
        "receive",
        "scope",
        "sent",
        "server_send",
    )

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, log: RequestLog, access_log: AccessLog
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.server_send = send
        self.log = log
        self.access_log = access_log
        self.outcome: Outcome | None = None
        self.sent = 0
        self.close_code: int | None = None
        self.ended_at: float | None = None

    async def send(self, message: Message) -> None:
        # Every message is awaited here, so bytes count once the server took them and a send
        # that finds the client gone ends the record as "disconnected" (uvicorn raises an
        # OSError; hypercorn and Daphne drop the message). That costs about 0.05 µs a message
        # over returning the server's awaitable (bench/websocket.py measures the whole layer).
        if message["type"] != "websocket.send" or self.outcome is not None:
            return await self.send_control(message)
        text = message.get("text")
        if text is None:
            size = len(message.get("bytes") or b"")
        elif text.isascii():
            # O(1) in CPython: most text is counted without being encoded.
            size = len(text)
        else:
            size = len(text.encode("utf-8", "surrogatepass"))
        try:
            await self.server_send(message)
        except OSError:
            self.closed(_DISCONNECTED, None)
            raise
        self.sent += size

    async def send_control(self, message: Message) -> None:
        """Every message but an open connection's ``websocket.send``: the handshake's answer
        (the request ID set on it), the close, and anything sent after the close."""
        if self.outcome is not None:
            # Closed: the server drops or refuses what comes now, and none of it is counted.
            return await self.server_send(message)
        kind = message["type"]
        log = self.log
        status = log.status
        if kind == "websocket.accept":
            message = {**message, "headers": log.start(101, message.get("headers") or ())}
        elif kind == "websocket.http.response.start":
            headers = log.start(message["status"], message.get("headers") or ())
            message = {**message, "headers": headers}
        elif kind == "websocket.close" and status is None:
            # ASGI: a close before the accept is answered by the server with a 403.
            log.status = 403
        try:
            await self.server_send(message)
        except Exception as exc:
            # The server refused it or the client is gone: the client never got what it says.
            log.status = status
            if isinstance(exc, OSError):
                self.closed(_DISCONNECTED, None)
            raise
        if kind == "websocket.close":
            # ASGI's default code is 1000.
            self.closed(_COMPLETED, websocket_close_code(message.get("code", 1000)))
        elif kind == "websocket.http.response.body":
            self.sent += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.closed(_COMPLETED, None)

    async def watched_receive(self) -> Message:
        message = await self.receive()
        if message["type"] == "websocket.disconnect" and self.outcome is None:
            # The client closed or left (before the accept too): what the app sends from here
            # on reaches nobody. ASGI's default code is 1005, "no status code".
            self.closed(_DISCONNECTED, websocket_close_code(message.get("code", 1005)))
        return message

    def closed(self, outcome: Outcome, close_code: int | None) -> None:
        self.outcome = outcome
        self.close_code = close_code
        self.ended_at = perf_counter()

    async def run(self, app: ASGIApp) -> None:
        # No crash answer of the layer's own: the server answers an app that failed before the
        # handshake (500), and the record says so (a handshake never answered is logged as
        # 500, or 499 when the client left first, as for HTTP).
        token = current.set(self.log.request_id)
        try:
            await app(self.scope, self.watched_receive, self.send)
        except Exception:
            if self.outcome is not _DISCONNECTED:
                self.outcome = _ERROR
            raise
        except BaseException:
            # Cancellation: the server gave up on the connection (client gone, shutdown).
            if self.outcome is None:
                self.outcome = _DISCONNECTED
            raise
        finally:
            self.access_log.finish(
                self.log,
                outcome=self.outcome or _COMPLETED,
                sent=self.sent,
                now=perf_counter() if self.ended_at is None else self.ended_at,
                close_code=self.close_code,
            )
            current.reset(token)

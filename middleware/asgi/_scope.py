"""ASGI 3 plumbing shared by every ASGI adapter.

- ``check_app`` accepts ASGI 3 apps, adapts ASGI 2 apps through asgiref, and turns a WSGI
  app into a TypeError that names the WSGI twin. An app that is not one of these layers (the
  innermost layer's app, or a foreign middleware) has its response start checked before any
  layer sees it: a header name or value with CR, LF or NUL, which a server must refuse, makes
  ``send`` raise ValueError into the app, so the layer answers it as a crash (below) and the
  access record says 500. The layers' own headers are valid by construction (validated
  options, sanitised metric descriptions, request IDs of visible ASCII), so one check per
  response, at the app's edge, covers the whole head; see ``_checked_head``.
- ``send_crash`` implements "Crashes keep their headers" (SPEC): when the app raises before a
  layer sent ``http.response.start``, the layer sends a plain 500 through its own send
  wrapper, so it and every outer layer add their headers, then re-raises the original
  exception for the server to log. After the start went out, the exception simply propagates.
- ``Exchange.answer_for`` lets a layer answer an exception before the start with a response of
  its own instead: it goes out through the layer's ``send`` and nothing is re-raised. The
  SessionMiddleware answers so a store failure the app let through (SPEC "Store failures":
  503, no traceback), and ``store_failure`` tells the layers inside it to send no 500 and let
  the failure pass to it.

Each layer wraps ``send`` in a plain function that returns the server's awaitable, so a
message costs no coroutine of the layer's own unless the layer must act after the send.
``ASGILayer`` sends an HTTP scope to the layer's ``http``, a websocket scope to its
``websocket`` (the app untouched unless the layer overrides it) and any other scope (lifespan)
straight to the app.
"""

from __future__ import annotations

import asyncio
import os
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.compatibility import guarantee_single_callable

from .._apps import app_kind, mismatch
from .._layers import Layer
from ..core.headers import forbidden_field, refused_head
from ..core.responses import CRASH_BODY, CRASH_STATUS, Response, crash_headers
from ..core.sessions import Session
from ._types import ASGIApp, Message, Receive, Scope, Send

# A worker thread under trio (``in_thread``); asyncio needs no library for it.
_anyio_run_sync: Callable[..., Any] | None
try:
    from anyio.to_thread import run_sync as _anyio_run_sync
except ImportError:  # anyio comes with Starlette, not with every ASGI app
    _anyio_run_sync = None

__all__ = [
    "ASGIApp",
    "ASGILayer",
    "Exchange",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "app_path",
    "body_message",
    "check_app",
    "file_size",
    "full_path",
    "in_thread",
    "refuse_handshake",
    "replay",
    "send_crash",
    "send_response",
    "store_failure",
]


def check_app(app: Any, cls_name: str) -> ASGIApp:
    """``app`` as an ASGI 3 callable, or the TypeError that names the WSGI twin."""
    kind = app_kind(app)
    if kind == "wsgi":
        raise mismatch(cls_name, "asgi", app)
    if not callable(app):
        raise TypeError(f"middleware.asgi.{cls_name} needs an ASGI application, got {app!r}.")
    if getattr(app, "_middleware_protocol", None) == "asgi":
        # Another layer of this package: it checks its own app's head.
        return app  # type: ignore[no-any-return]
    if kind == "asgi2":
        app = guarantee_single_callable(app)  # type: ignore[no-untyped-call]
    elif type(app).__module__.startswith("django."):
        app = _LowerCaseResponseHeaders(app)
    return _checked_head(app)


def _checked_head(app: ASGIApp) -> ASGIApp:
    """``app`` with its ``http.response.start`` checked before the layer sees it.

    SPEC (Request logging): a response head that the server must refuse (CR, LF or NUL in a
    header name or value set by the app) is treated as a crash on both protocols. ``send``
    raises into the app, as a strict server's would; the app's exception then reaches the
    layer before any start did, so the layer answers the plain 500 that keeps every layer's
    headers, and re-raises for the server to log. Closures, not objects, and no coroutine of
    their own: about 0.35 µs per response besides the check, 0.03 µs per body message.
    """

    def checked_app(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return app(scope, receive, send)

        def checked_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if type(headers) is not list:
                    # Any iterable is allowed; a list can be read twice.
                    message = dict(message)
                    message["headers"] = headers = list(headers)
                field = forbidden_field(headers)
                if field is not None:
                    raise ValueError(refused_head(*field))
            return send(message)

        return app(scope, receive, checked_send)

    return checked_app


class _LowerCaseResponseHeaders:
    """Django's ASGIHandler sends header names as HttpResponse spells them (b"Content-Type").

    The ASGI spec says response header names are lower-cased; every layer here relies on it
    (Vary merging, content-type checks). Django is the one well-known app that does not, so
    only Django's handler is wrapped: other apps pay nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def lowered(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [
                    (name.lower(), value) for name, value in message.get("headers", ())
                ]
            await send(message)

        await self.app(scope, receive, lowered)


def file_size(path: object) -> int:
    """The size of the file an ``http.response.pathsend`` message names (0 if unreadable)."""
    try:
        return os.stat(path).st_size  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return 0


def response_part(message: Message, trailers: bool) -> tuple[int, bool]:
    """What a message after ``http.response.start`` carries: its body bytes, and whether it
    ends the response (when the start promised ``trailers``, the last trailers message does)."""
    kind = message["type"]
    if kind == "http.response.body":
        return len(message.get("body", b"")), not (message.get("more_body", False) or trailers)
    if kind == "http.response.trailers":
        return 0, not message.get("more_trailers", False)
    if kind == "http.response.pathsend":
        return file_size(message.get("path")), True
    if kind == "http.response.zerocopysend":
        return message.get("count") or 0, not (message.get("more_body", False) or trailers)
    return 0, False  # early hints, debug, extensions this layer does not know


async def send_crash(send: Send) -> None:
    """Send the plain 500 that answers an app crash."""
    await send({"type": "http.response.start", "status": CRASH_STATUS, "headers": crash_headers()})
    await send({"type": "http.response.body", "body": CRASH_BODY, "more_body": False})


def store_failure(scope: Scope, error: BaseException) -> bool:
    """Whether ``error`` is the session store's failure that the SessionMiddleware outside
    this layer answers with 503: handled there, so not a crash for this layer to answer."""
    session = scope.get("session")
    return isinstance(session, Session) and session.store_failed(error)


class ASGILayer(Layer):
    """The ASGI half every middleware class shares: its app is checked for ASGI, other scopes
    than HTTP pass through untouched, and an HTTP request goes to ``http``.

    ``__call__`` is an ``async def``: servers and frameworks tell an ASGI 3 app from an
    ASGI 2 one by that (uvicorn's interface detection, asgiref), so it cannot be a plain
    function returning an awaitable.
    """

    _middleware_protocol = "asgi"

    def _accept(self, app: Any) -> ASGIApp:
        return check_app(app, self._name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            await (self.websocket if kind == "websocket" else self.app)(scope, receive, send)
            return
        exchange = self.http(scope, receive, send)
        if not isinstance(exchange, Exchange):
            await exchange
            return
        # Exchange.run, inline: one coroutine frame per layer and request instead of two.
        try:
            await self.app(exchange.scope, exchange.receive, exchange.send)
        except Exception as exc:
            if not await exchange.crashed(exc):
                raise
        finally:
            exchange.on_end()

    @abstractmethod
    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
        """One HTTP request through this layer: the exchange that runs it (``__call__`` runs
        the app through it, as ``Exchange.run`` does), or an awaitable of the layer's own (an
        exchange with a ``run`` of its own returns ``exchange.run(self.app)``)."""

    def websocket(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """One websocket connection through this layer: to the app untouched, unless the
        layer has a websocket rule of its own (SPEC, WebSocket)."""
        return self.app(scope, receive, send)  # type: ignore[no-any-return]


class Exchange:
    """One HTTP request through one ASGI layer: the ``send`` the app is given, and SPEC's
    "Crashes keep their headers".

    A feature adapter subclasses it and overrides ``on_start`` (the response start, a copy of
    which it may change) and, if it has work at the end, ``on_end`` (runs once, however the
    request ended). ``run`` calls the app; when the app raises before the response start left
    this layer, it answers a plain 500 through ``send``, so this layer and every layer outside
    it add their headers, then re-raises for the server to log. A session store's failure is
    no crash: the SessionMiddleware outside this layer answers it with 503.
    """

    __slots__ = ("receive", "scope", "server_send", "started")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.server_send = send
        self.started = False

    def on_start(self, message: Message) -> Message:
        """The ``http.response.start`` to send in place of the app's (the same by default)."""
        return message

    def on_end(self) -> None:
        """Runs once when the app has returned or raised."""

    def on_crash(self) -> None:
        """Runs before the plain 500 answers a crash: a layer that holds the app's start drops
        it here, as the 500 is a response of its own."""

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function returning the server's awaitable: a message costs no coroutine of
        # this layer's own.
        if message["type"] == "http.response.start":
            self.started = True
            message = self.on_start(message)
        return self.server_send(message)

    async def run(self, app: ASGIApp) -> None:
        """Run ``app`` through this exchange (``ASGILayer.__call__`` does the same inline; an
        override runs only where the layer's ``http`` returns ``exchange.run(self.app)``)."""
        try:
            await app(self.scope, self.receive, self.send)
        except Exception as exc:
            if not await self.crashed(exc):
                raise
        finally:
            self.on_end()

    def answer_for(self, error: BaseException | None) -> Response | None:
        """The response that answers ``error``, raised by the app before the response start
        left this layer, in place of a crash; None (the default): it is one.

        A response goes out through ``send`` (after ``on_crash``, as the 500 would), so this
        layer and every layer outside it add their headers, and ``error`` is neither
        re-raised nor logged: the SessionMiddleware answers a store failure that the app let
        through with its 503.
        """
        return None

    async def crashed(self, error: Exception) -> bool:
        """The app raised ``error``: True when ``answer_for`` answered it (the caller returns);
        False when the caller re-raises it, after the plain 500 if it is a crash before the
        response start left this layer (not a store failure an outer layer answers)."""
        if self.started:
            return False
        answer = self.answer_for(error)
        if answer is not None:
            self.on_crash()
            await send_response(self.send, answer)
            return True
        if not store_failure(self.scope, error):
            self.on_crash()
            await send_crash(self.send)
        return False


async def send_response(send: Send, response: Response) -> None:
    """Send a whole answer the core made (a preflight, a rejection, a 503) in two messages."""
    # A copy of the headers: outer middleware may edit the list it is sent (Starlette's do).
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": list(response.headers),
        }
    )
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


async def refuse_handshake(
    scope: Scope, receive: Receive, send: Send, response: Response, *, close_code: int
) -> bool:
    """Refuse a websocket handshake before it is accepted; False when the client had gone.

    ``response`` goes out through the ``websocket.http.response`` extension where the server
    offers it (``scope["extensions"]``); otherwise ``websocket.close`` with ``close_code``,
    which ASGI servers answer before accepting with a 403 of their own. The app never runs.
    """
    # ASGI: the first message a websocket app receives is websocket.connect; a client that
    # left before the handshake finished shows up as websocket.disconnect instead.
    if (await receive())["type"] != "websocket.connect":
        return False
    try:
        if "websocket.http.response" in (scope.get("extensions") or {}):
            start = {"status": response.status, "headers": list(response.headers)}
            await send({"type": "websocket.http.response.start", **start})
            body = {"body": response.body, "more_body": False}
            await send({"type": "websocket.http.response.body", **body})
        else:
            await send({"type": "websocket.close", "code": close_code})
    except OSError:
        # ASGI: send() on a closed connection raises a subclass of OSError. The client left
        # while being refused: there is nobody to answer, and nothing for the server to log.
        return False
    return True


def full_path(scope: Scope) -> str:
    """The request's whole path, ``root_path`` included once, as the client sent it (ASGI
    servers disagree on whether ``path`` already includes ``root_path``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return root + path if root and not path.startswith(root) else path


def app_path(scope: Scope) -> str:
    """The path inside the app (``path`` without ``root_path``), as its routes see it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path


def body_message(data: bytes, *, more: bool) -> Message:
    """An ``http.response.body`` message."""
    return {"type": "http.response.body", "body": data, "more_body": more}


async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a worker thread and return its result.

    Cancelled, it still waits for the thread before it raises: a thread cannot be stopped, and
    until it returns the caller's state (an encoder, its pooled zstd context) is in use and must
    not be released under it. On asyncio this is the default executor; on trio, anyio's
    ``run_sync``, whose shielded wait does the same."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        if _anyio_run_sync is None:
            raise
        return await _anyio_run_sync(function, *args)
    work = loop.run_in_executor(None, function, *args)
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        while not work.done():
            try:
                await asyncio.wait({work})
            except asyncio.CancelledError:
                continue
        raise


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` in one message, then the client's later
    messages (a request body read, and changed, before the app runs)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed

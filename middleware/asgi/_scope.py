"""ASGI 3 plumbing shared by every ASGI adapter.

- ``check_app`` accepts ASGI 3 apps, adapts ASGI 2 apps through asgiref, and turns a WSGI
  app into a TypeError that names the WSGI twin.
- ``Exchange`` is one HTTP request through one layer. It is the ``send`` the app is given
  (``await exchange(message)``); subclasses override ``on_start`` (return the start message to
  send on) and ``on_end`` (runs once, with how the response ended); ``bytes_sent`` counts the
  body bytes that left (a pathsend file's size, a zero-copy send's count).
- "Crashes keep their headers" (SPEC): when the app raises before this layer sent
  ``http.response.start``, the exchange sends a plain 500 through itself, so this layer and
  every outer one add their headers, then re-raises the original exception for the server to
  log. After the start went out, the exception simply propagates.

Non-HTTP scopes (lifespan, websocket) are not given to an Exchange: adapters pass them
through on their first line.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

from asgiref.compatibility import guarantee_single_callable

from .._apps import app_kind, mismatch
from ..core.outcome import Outcome
from ..core.responses import CRASH_BODY, CRASH_STATUS, crash_headers

__all__ = ["ASGIApp", "Exchange", "Message", "Receive", "Scope", "Send", "check_app", "send_crash"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]


def check_app(app: Any, cls_name: str) -> ASGIApp:
    """``app`` as an ASGI 3 callable, or the TypeError that names the WSGI twin."""
    kind = app_kind(app)
    if kind == "wsgi":
        raise mismatch(cls_name, "asgi", app)
    if not callable(app):
        raise TypeError(f"middleware.asgi.{cls_name} needs an ASGI application, got {app!r}.")
    if kind == "asgi2":
        return guarantee_single_callable(app)  # type: ignore[no-any-return,no-untyped-call]
    if type(app).__module__.startswith("django."):
        return _LowerCaseResponseHeaders(app)
    return app  # type: ignore[no-any-return]


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


def _file_size(path: object) -> int:
    try:
        return os.stat(path).st_size  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return 0


async def send_crash(send: Send) -> None:
    """Send the plain 500 that answers an app crash."""
    await send({"type": "http.response.start", "status": CRASH_STATUS, "headers": crash_headers()})
    await send({"type": "http.response.body", "body": CRASH_BODY, "more_body": False})


class Exchange:
    """One HTTP request through one ASGI layer; awaitable as the app's ``send``."""

    __slots__ = ("_send", "_trailers", "bytes_sent", "ended", "outcome", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.ended = False
        self._trailers = False
        self.outcome: Outcome | None = None
        self.bytes_sent = 0

    def on_start(self, message: Message) -> Message:
        """The ``http.response.start`` message to send on (a copy when changed)."""
        return message

    def on_end(self) -> None:
        """Runs once, when the app returned or raised (``self.outcome`` is set)."""

    def on_response_end(self) -> None:
        """Runs when the last message of the response went out (before ``on_end``)."""

    def finish(self, outcome: Outcome) -> None:
        """Record how the exchange ended (a disconnect is never overwritten); run ``on_end``."""
        if self.ended:
            return
        self.ended = True
        if self.outcome is not Outcome.DISCONNECTED:
            self.outcome = outcome
        self.on_end()

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            size = len(message.get("body", b""))
        elif kind == "http.response.start":
            size = 0
            message = self.on_start(message)
            self.started = True
            self._trailers = bool(message.get("trailers"))
        elif kind == "http.response.pathsend":
            size = _file_size(message.get("path"))
        elif kind == "http.response.zerocopysend":
            size = message.get("count") or 0
        else:
            size = 0
        # Counted before sending: the last body message ends the response inside the send
        # (on_response_end); taken back if the send failed.
        self.bytes_sent += size
        try:
            await self._send(message)
        except BaseException as exc:
            self.bytes_sent -= size
            if isinstance(exc, Exception):
                # The server could not send: the client is gone (uvicorn raises OSError).
                self.outcome = Outcome.DISCONNECTED
            raise
        if (
            (kind == "http.response.body" and not message.get("more_body") and not self._trailers)
            or kind == "http.response.pathsend"
            or (kind == "http.response.trailers" and not message.get("more_trailers"))
        ) and self.outcome is None:
            self.outcome = Outcome.COMPLETED
            self.on_response_end()

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        """Run ``app`` with this exchange as its ``send``, applying the crash rule.

        ``on_end`` runs when the app returns or raises, not at the last body message: an
        exception raised after a layer inside answered the crash with a 500 still marks the
        exchange as an error.
        """
        try:
            await app(scope, receive, self)
        except Exception:
            if not self.started:
                await send_crash(self)
            self.finish(Outcome.ERROR)
            raise
        except BaseException:
            # Cancellation: the server gave up on the request (client gone, shutdown).
            self.finish(Outcome.DISCONNECTED)
            raise
        # Returning without a complete response means the app saw the client leave.
        self.finish(
            Outcome.COMPLETED if self.outcome is Outcome.COMPLETED else Outcome.DISCONNECTED
        )

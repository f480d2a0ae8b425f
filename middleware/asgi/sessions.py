"""Signed cookie sessions for ASGI apps, a drop-in for Starlette's SessionMiddleware.

    from middleware.asgi import SessionMiddleware

    app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_KEY"])

    async def homepage(request):
        request.session["visits"] = request.session.get("visits", 0) + 1

The session is ``scope["session"]``, so Starlette's and FastAPI's ``request.session`` work
unchanged (``get_session(scope)`` gives it to a bare ASGI app). It is decoded when the app first
touches it, never before. The response start carries ``Vary: Cookie`` when the app read it and
a Set-Cookie when it changed (or, read, when it is older than half of ``max_age``); the cookie
is deleted when the app emptied the session; a 5xx response saves nothing. A session too large
for a cookie fails the request with a 500 and an error log naming the size, instead of the
browser silently dropping the cookie. A change made after ``http.response.start`` (in a
background task, say) cannot be saved and is logged at WARNING on ``middleware.sessions``, as
are, at DEBUG, the reasons a cookie was ignored. Websocket connections get the session too,
read-only: changes are never saved and are logged as lost. Lifespan passes through.

With ``store=`` (``middleware.stores``: ``MemoryStore()``, ``RedisStore(url)``) the cookie holds
a signed session ID and the data lives in the store (see ``middleware.core.session_store``).
The app reads ``request.session`` synchronously, so the record cannot be fetched on first
touch: when the request carries a session cookie whose signature checks out, the middleware
awaits the store's async face before calling the app (one store read per such request, even
if the app then ignores the session; no cookie, or a tampered one, costs no store call). The
writes are awaited before ``http.response.start`` goes out. ``session.clear()`` deletes the
record (a logout on every server at once) and ``session.regenerate()`` moves the data to a new
ID (call it at login). When the store fails, touching the session raises
``middleware.stores.StoreError`` and the middleware answers 503 (whatever the app made of the
error) with an ERROR line on ``middleware.sessions``; a request that does not touch the
session is served as usual.

Options (the same as Starlette's SessionMiddleware, plus ``fallback_secret_keys`` and
``store``; see ``middleware.core.sessions``): ``secret_key``, ``session_cookie="session"``,
``max_age=1_209_600``, ``path="/"``, ``same_site="lax"``, ``https_only=False``,
``domain=None``, ``partitioned=False``, ``fallback_secret_keys=()``, ``store=None``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from ..core import session_store
from ..core.headers import get_list
from ..core.responses import plain_headers
from ..core.session_store import StoredSession, StoreError
from ..core.sessions import (
    Session,
    SessionConfig,
    SessionEvent,
    apply,
    close,
    respond,
)
from ..stores._base import Store, afetch, aperform, new_session_id
from ._scope import Message, Receive, Scope, Send, check_app, send_crash

__all__ = ["SessionMiddleware", "get_session"]

logger = logging.getLogger("middleware.sessions")


def get_session(scope: Scope) -> Session:
    """The request's session (decoded now, so every reader sees its data)."""
    try:
        session: Session = scope["session"]
    except KeyError:
        raise LookupError(
            "No session in this scope: wrap the app in middleware.asgi.SessionMiddleware."
        ) from None
    session.mark_accessed()
    return session


async def _nothing() -> None:
    pass


async def _send_failure(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": plain_headers(body)})
    await send({"type": "http.response.body", "body": body})


def _log(events: Sequence[SessionEvent]) -> None:
    for event in events:
        logger.log(event.level, event.message)


class SessionMiddleware:
    """Cookie sessions for an ASGI app: ``scope["session"]`` on HTTP and websocket scopes."""

    _middleware_protocol = "asgi"

    def __init__(
        self,
        app: Any,
        secret_key: Any,
        session_cookie: str = "session",
        max_age: int | None = 1_209_600,
        path: str = "/",
        same_site: str = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
        fallback_secret_keys: Sequence[Any] = (),
        store: Any = None,
    ) -> None:
        self.app = check_app(app, "SessionMiddleware")
        self.config = SessionConfig(
            secret_key=secret_key,
            session_cookie=session_cookie,
            max_age=max_age,
            path=path,
            same_site=same_site,
            https_only=https_only,
            domain=domain,
            partitioned=partitioned,
            fallback_secret_keys=fallback_secret_keys,
            store=store,
            clock=time.time,
            new_id=new_session_id,
        )
        self._store = cast("Store | None", store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._store is not None:
            await self._stored(self._store, scope, receive, send)
            return
        kind = scope["type"]
        if kind != "http":
            if kind != "websocket":
                await self.app(scope, receive, send)
                return
            # No response can carry a cookie: the session is there to be read.
            scope["session"] = websocket_session = Session.read_only(self.config, scope["headers"])
            try:
                await self.app(scope, receive, send)
            finally:
                if websocket_session.accessed:
                    _log(close(websocket_session))
            return

        # The hot path: one session (searched for its cookie only if touched), one closure.
        # session_send is a plain function returning the server's awaitable, so each message
        # costs no coroutine of its own.
        scope["session"] = session = Session(self.config, scope["headers"])
        started = failed = False

        def session_send(message: Message) -> Awaitable[None]:
            nonlocal started, failed
            if failed:
                # The app's response was replaced by the failure answer; the rest is dropped.
                return _nothing()
            if message["type"] == "http.response.start":
                started = True
                # session._loaded is the accessed property without its call: this runs on
                # every request, and an untouched session adds nothing.
                if not session._loaded:
                    return send(message)
                headers = message.get("headers", ())
                commit = respond(session, message["status"], get_list(headers, b"vary"))
                if commit is not None:
                    if commit.events:
                        _log(commit.events)
                    if commit.body is not None:
                        failed = True
                        return _send_failure(send, commit.status, commit.body)
                    message = dict(message)
                    message["headers"] = apply(commit, headers)
            return send(message)

        try:
            await self.app(scope, receive, session_send)
        except Exception:
            if not started:
                await send_crash(session_send)
            raise
        finally:
            # A session never touched has nothing to report (changes and bad cookies both
            # decode it first).
            if session._loaded:
                _log(close(session))

    async def _stored(self, store: Store, scope: Scope, receive: Receive, send: Send) -> None:
        """``__call__`` with a store: fetch before the app, write before the start leaves."""
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        if kind == "http":
            session = StoredSession(self.config, scope["headers"])
        else:
            session = cast(StoredSession, StoredSession.read_only(self.config, scope["headers"]))
        session_id = session.cookie_id()
        if session_id is not None:
            try:
                session.preload(await afetch(store, session_id))
            except StoreError as exc:
                session.fail(exc)
        scope["session"] = session
        if kind == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                _log(session_store.close(session))
            return

        started = answered = False

        async def decide(message: Message) -> None:
            # The response starts with a touched session: the store's writes, then the start.
            nonlocal answered
            headers = message.get("headers", ())
            commit = session_store.respond(session, message["status"], get_list(headers, b"vary"))
            if commit is not None and commit.store is not None:
                commit = session_store.settle(session, commit, await aperform(store, commit.store))
            if commit is not None:
                if commit.events:
                    _log(commit.events)
                if commit.body is not None:
                    answered = True
                    await _send_failure(send, commit.status, commit.body)
                    return
                message = dict(message)
                message["headers"] = apply(commit, headers)
            await send(message)

        def session_send(message: Message) -> Awaitable[None]:
            # A plain function returning the server's awaitable, as on the cookie path: only
            # the start of a response whose session was touched costs a coroutine.
            nonlocal started
            if answered:
                # The app's response was replaced by the middleware's answer (500, 503).
                return _nothing()
            if message["type"] == "http.response.start":
                started = True
                if session._loaded or session._failure is not None:
                    return decide(message)
            return send(message)

        try:
            await self.app(scope, receive, session_send)
        except Exception as exc:
            if started:
                raise
            if isinstance(exc, StoreError) and session.failure is not None:
                # The app let the store's error through: the store is down, not the app. The
                # decision turns this start into the 503 and logs it on middleware.sessions.
                await session_send({"type": "http.response.start", "status": 503, "headers": []})
                return
            await send_crash(session_send)
            raise
        finally:
            _log(session_store.close(session))

"""Signed cookie sessions for ASGI apps, a drop-in for Starlette's SessionMiddleware.

    from middleware.asgi import SessionMiddleware

    app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_KEY"])

    async def homepage(request):
        request.session["visits"] = request.session.get("visits", 0) + 1

The session is ``scope["session"]``, so Starlette's and FastAPI's ``request.session`` work
unchanged (``get_session(scope)`` gives it to a bare ASGI app). It is decoded when the app first
touches it, never before. The response start carries what ``middleware.core.sessions`` decides,
as on WSGI: ``Vary: Cookie`` when the app read the session, a Set-Cookie when it changed, a 500
in place of the response when it is too large for a cookie. A change made after
``http.response.start`` (in a background task, say) cannot be saved and is logged at WARNING on
``middleware.sessions``, as are, at DEBUG, the reasons a cookie was ignored. Websocket
connections get the session too, read-only: changes are never saved and are logged as lost.
Lifespan passes through.

With ``store=`` (``middleware.stores``: ``MemoryStore()``, ``RedisStore(url)``) the cookie holds
a signed session ID and the data lives in the store, fetched before the app runs (the app
reads ``request.session`` synchronously); when and how it is read and written, and the 503 when
the store fails: the docs (Session stores) and ``middleware.core.session_store``.

Options: Starlette's, plus ``fallback_secret_keys`` and ``store``; see ``SessionLayer`` (the
same on both protocols) and ``middleware.core.sessions``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

from .._layers import SessionLayer
from .._session_log import log_events
from ..core.headers import get_list
from ..core.responses import Response
from ..core.session_store import UNAVAILABLE, StoredSession, StoreError, StoreOps
from ..core.sessions import Session, SessionCommit
from ..stores._base import Store, afetch, aperform
from ._scope import ASGILayer, Exchange, send_response
from ._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SessionMiddleware", "get_session"]


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


class SessionMiddleware(ASGILayer, SessionLayer):
    """Cookie sessions for an ASGI app: ``scope["session"]`` on HTTP and websocket scopes."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
        exchange = _SessionExchange(scope, receive, send)
        store = self.config.store
        if store is None:
            scope["session"] = exchange.session = Session(self.config, scope["headers"])
            return exchange
        exchange.store = cast("Store", store)
        scope["session"] = exchange.session = StoredSession(self.config, scope["headers"])
        return exchange.run(self.app)  # the record is fetched before the app runs

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A websocket gets the session to read: no response can carry a cookie."""
        store = self.config.store
        if store is None:
            # A websocket scope may come without headers (no cookie: an empty session).
            session = Session.read_only(self.config, scope.get("headers") or [])
        else:
            session = StoredSession.read_only(self.config, scope.get("headers") or [])
            await _preload(cast("Store", store), session)
        scope["session"] = session
        try:
            await self.app(scope, receive, send)
        finally:
            log_events(session.close())


class _SessionExchange(Exchange):
    """Asks the session what the response carries when it starts (with a store, once the
    store did what the session asked of it); sends the session's answer (a 500, a 503) in
    place of the app's response when it could not be saved."""

    # Set by SessionMiddleware right after construction: no __init__ of its own saves a
    # Python call per request.
    __slots__ = ("session", "store")
    session: Session
    store: Store  # set only for a session in a store: only its commits have store operations

    def send(self, message: Message) -> Awaitable[None]:
        # A plain function returning the server's awaitable, as the plumbing's: only the
        # start of a response whose session the app touched costs more.
        if message["type"] == "http.response.start":
            self.started = True
            if self.session.touched:
                return self._start(message)
        return self.server_send(message)

    def _start(self, message: Message) -> Awaitable[None]:
        headers = message.get("headers", ())
        commit = self.session.respond(message["status"], get_list(headers, b"vary"))
        if commit is not None and commit.store is not None:
            return self._save(commit, commit.store, message)
        return self._send_start(commit, message)

    async def _save(self, commit: SessionCommit, ops: StoreOps, message: Message) -> None:
        """Await the store operations ``commit`` asks for, then send the start they settle."""
        saved = await aperform(self.store, ops)
        await self._send_start(self.session.settle(commit, saved), message)

    def _send_start(self, commit: SessionCommit | None, message: Message) -> Awaitable[None]:
        if commit is None:
            return self.server_send(message)
        if commit.events:
            log_events(commit.events)
        if commit.answer is not None:
            # The app's response is replaced: what it sends after its start goes nowhere.
            send, self.server_send = self.server_send, _discard
            return send_response(send, commit.answer)
        return self.server_send({**message, "headers": commit.apply(message.get("headers", ()))})

    async def run(self, app: ASGIApp) -> None:
        """Run ``app`` for a session in a store (a cookie session runs as any exchange): the
        record is fetched first, as the app reads the session synchronously."""
        await _preload(self.store, cast("StoredSession", self.session))
        await Exchange.run(self, app)

    def answer_for(self, error: BaseException | None) -> Response | None:
        # No crash when the app let the store's failure through: the store is down. The
        # session turns this answer's start into its 503 (logged on middleware.sessions).
        return UNAVAILABLE if self.session.store_failed(error) else None

    def on_end(self) -> None:
        session = self.session
        if session.touched:
            # Untouched, it has nothing to report (a late change or a bad cookie decodes it).
            log_events(session.close())


async def _preload(store: Store, session: StoredSession) -> None:
    """Fetch the record ``session``'s cookie names, if any, before the app runs: the app
    reads the session synchronously, so it cannot be fetched on first touch."""
    session_id = session.cookie_id()
    if session_id is not None:
        try:
            session.preload(await afetch(store, session_id))
        except StoreError as exc:
            session.fail(exc)


async def _discard(message: Message) -> None:
    pass

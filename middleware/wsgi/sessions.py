"""Signed cookie sessions for WSGI apps: plain WSGI, Falcon, Bottle, Pyramid and the like.

    from middleware.wsgi import SessionMiddleware, get_session

    app = SessionMiddleware(app, secret_key=os.environ["SESSION_KEY"])

    def view(environ, start_response):
        session = get_session(environ)     # or environ["middleware.session"]
        session["visits"] = session.get("visits", 0) + 1

The session is ``environ["middleware.session"]``, a ``dict`` decoded when the app first
touches it, never before; ``get_session(environ)`` returns it decoded (PEP 3333 advises
functions over bare environ keys). The response carries ``Vary: Cookie`` when the app read the
session and a Set-Cookie when it changed (or, read, when it is older than half of ``max_age``);
the cookie is deleted when the app emptied the session; a 5xx response saves nothing. A session
too large for a cookie fails the request with a 500 and an error log naming the size.

When a change is saved: PEP 3333 servers send the headers with the first body bytes, so this
middleware decides when the app's iterable yields its first chunk (or first calls ``write()``),
not in ``start_response``. A change made before that, in a streaming generator's set-up for
instance, is saved; a change made after it cannot reach the client and is logged at WARNING on
``middleware.sessions``, as are, at DEBUG, the reasons a cookie was ignored.

With ``store=`` (``middleware.stores``: ``MemoryStore()``, ``RedisStore(url)``) the cookie holds
a signed session ID and the data lives in the store (see ``middleware.core.session_store``).
The record is fetched when the app first touches the session, through the store's synchronous
face, so a request that never touches it costs no store call; the writes happen before the
headers leave. ``session.clear()`` deletes the record (a logout on every server at once) and
``session.regenerate()`` moves the data to a new ID (call it at login). When the store fails,
touching the session raises ``middleware.stores.StoreError`` and the middleware answers 503
(whatever the app made of the error) with an ERROR line on ``middleware.sessions``.

Options (the same in ``middleware.asgi.SessionMiddleware``; see ``middleware.core.sessions``):
``secret_key``, ``session_cookie="session"``, ``max_age=1_209_600``, ``path="/"``,
``same_site="lax"``, ``https_only=False``, ``domain=None``, ``partitioned=False``,
``fallback_secret_keys=()``, ``store=None``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, cast

from ..core import session_store
from ..core.outcome import Outcome
from ..core.responses import CRASH_BODY, plain_headers
from ..core.session_store import Record, StoredSession, StoreError
from ..core.sessions import (
    Session,
    SessionCommit,
    SessionConfig,
    SessionEvent,
    close,
    respond,
)
from ..stores._base import Store, fetch, new_session_id, perform
from ._environ import (
    Environ,
    Exchange,
    ExcInfo,
    NativeHeaders,
    StartResponse,
    Write,
    check_app,
    native,
    status_code,
    status_line,
)

__all__ = ["ENVIRON_KEY", "SessionMiddleware", "get_session"]

ENVIRON_KEY = "middleware.session"

logger = logging.getLogger("middleware.sessions")


def get_session(environ: Environ) -> Session:
    """The request's session (decoded now, so every reader sees its data)."""
    try:
        session: Session = environ[ENVIRON_KEY]
    except KeyError:
        raise LookupError(
            "No session in this environ: wrap the app in middleware.wsgi.SessionMiddleware."
        ) from None
    session.mark_accessed()
    return session


def _log(events: Sequence[SessionEvent]) -> None:
    for event in events:
        logger.log(event.level, event.message)


class SessionMiddleware:
    """Cookie sessions for a WSGI app: ``environ["middleware.session"]``."""

    _middleware_protocol = "wsgi"

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
        if store is not None and getattr(store, "supports_sync", True) is False:
            raise TypeError(
                f"middleware.wsgi.SessionMiddleware needs a store with a synchronous face, got "
                f"{store!r}; give RedisStore a URL or a redis.Redis client."
            )
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
        self._store = cast("Store", store)
        self._fetch: Callable[[str], Record] | None = (
            None if store is None else partial(fetch, self._store)
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        cookie = environ.get("HTTP_COOKIE")
        exchange: _SessionExchange
        if self._fetch is None:
            session = Session(self.config, cookie.encode("latin-1") if cookie else None)
            exchange = _SessionExchange(environ, start_response)
        else:
            session = StoredSession(
                self.config, cookie.encode("latin-1") if cookie else None, self._fetch
            )
            exchange = _StoredExchange(environ, start_response)
            exchange.store = self._store
        environ[ENVIRON_KEY] = session
        exchange.session = session
        exchange.pending = None
        exchange.server_write = None
        exchange.sent = False
        exchange.answer = None
        return exchange.run(self.app)


class _SessionExchange(Exchange):
    """Holds the app's start_response until its first body chunk, then asks the core."""

    # Fields are set by SessionMiddleware.__call__: one constructor call per request.
    __slots__ = ("answer", "pending", "sent", "server_write", "session")
    session: Session
    # The app's status and headers, until they are sent to the server.
    pending: tuple[str, NativeHeaders] | None
    server_write: Write | None
    sent: bool  # the server's start_response was called
    # The body of the middleware's own answer (500, 503) when it replaced the app's response.
    answer: bytes | None

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        if not self.sent:
            # Nothing reached the server yet, so an exc_info restart simply replaces the
            # response and the traceback need not be kept.
            self.pending = (status, headers)
        else:
            # PEP 3333: a call with exc_info after the headers were sent goes to the server,
            # which re-raises; before any body byte it replaces the response.
            self.status = status
            self.server_write = self._start_response(status, headers, exc_info)
        return self._write

    def _send_start(self) -> Write:
        """Decide the session's headers and call the server's start_response."""
        if self.pending is None:
            raise RuntimeError("The WSGI app produced its body before calling start_response.")
        status, headers = self.pending
        self.pending = None
        commit = self._decide(status, headers)
        if commit is not None:
            if commit.events:
                _log(commit.events)
            if commit.body is not None:
                self.answer = commit.body
                status, headers = status_line(commit.status), native(plain_headers(commit.body))
            else:
                headers = _apply(commit, headers)
        self.status = status
        self.sent = True
        self.server_write = write = self._start_response(status, headers)
        return write

    def _decide(self, status: str, headers: NativeHeaders) -> SessionCommit | None:
        session = self.session
        if not session.accessed:
            return None
        return respond(session, status_code(status), _vary(headers))

    def _write(self, data: bytes) -> None:
        write = self.server_write if self.sent else self._send_start()
        if self.answer is not None or write is None:
            return
        self.bytes_sent += len(data)
        write(data)

    def _chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._iterable or ():
                if not self.sent:
                    self._send_start()
                if self.answer is not None:
                    break
                if chunk:
                    self.bytes_sent += len(chunk)
                yield chunk
        except Exception:
            if self.bytes_sent:
                self.outcome = Outcome.ERROR
                raise
            self._close_inner()
            self._answer_crash()
            if not self.sent:
                self._send_start()
            yield CRASH_BODY if self.answer is None else self.answer
            return
        if not self.sent:
            self._send_start()
        if self.answer is not None:
            # The session could not be saved (a 500) or its store failed (a 503): the app's
            # response was replaced by the middleware's answer.
            self._close_inner()
            yield self.answer
        if self.outcome is None:
            self.outcome = Outcome.COMPLETED

    def on_close(self) -> None:
        session = self.session
        if session.accessed:
            _log(close(session))


class _StoredExchange(_SessionExchange):
    """The same, for a session in a store: the store's writes happen in ``_decide``."""

    __slots__ = ("store",)
    session: StoredSession
    store: Store

    def _decide(self, status: str, headers: NativeHeaders) -> SessionCommit | None:
        session = self.session
        if not session.accessed and session.failure is None:
            return None
        commit = session_store.respond(session, status_code(status), _vary(headers))
        if commit is not None and commit.store is not None:
            commit = session_store.settle(session, commit, perform(self.store, commit.store))
        return commit

    def _answer_crash(self) -> None:
        if (
            self.sent
            or self.session.failure is None
            or not isinstance(sys.exc_info()[1], StoreError)
        ):
            # A crash, or a store failure after the start left: this layer is the one that
            # would answer the 503, so it is never passed on from here.
            self._answer_500()
            return
        # The app let the store's error through: no crash, the store is down. The decision
        # turns this response into the 503 (and logs it once, on middleware.sessions).
        self.outcome = Outcome.ERROR
        self.pending = (status_line(503), [])
        self._iterable = ()

    def on_close(self) -> None:
        _log(session_store.close(self.session))


def _vary(headers: NativeHeaders) -> bytes | None:
    values = [value for name, value in headers if name.lower() == "vary"]
    if not values:
        return None
    return ", ".join(values).encode("latin-1")


def _apply(commit: SessionCommit, headers: NativeHeaders) -> NativeHeaders:
    # middleware.core.sessions.apply, on native strings: only the added fields are converted.
    if commit.vary is not None:
        headers = [(name, value) for name, value in headers if name.lower() != "vary"]
        headers.append(("Vary", commit.vary.decode("latin-1")))
    else:
        headers = list(headers)
    if commit.set_cookie is not None:
        headers.append(("Set-Cookie", commit.set_cookie.decode("latin-1")))
    return headers

"""Signed cookie sessions for WSGI apps: plain WSGI, Falcon, Bottle, Pyramid and the like.

    from middleware.wsgi import SessionMiddleware, get_session

    app = SessionMiddleware(app, secret_key=os.environ["SESSION_KEY"])

    def view(environ, start_response):
        session = get_session(environ)     # or environ["middleware.session"]
        session["visits"] = session.get("visits", 0) + 1

The session is ``environ["middleware.session"]``, a ``dict`` decoded when the app first
touches it, never before; ``get_session(environ)`` returns it decoded (PEP 3333 advises
functions over bare environ keys). The response carries what ``middleware.core.sessions``
decides, as on ASGI: ``Vary: Cookie`` when the app read the session, a Set-Cookie when it
changed, a 500 in place of the response when it is too large for a cookie.

When a change is saved: PEP 3333 servers send the headers with the first body bytes, so this
middleware decides when the app's iterable yields its first chunk (or first calls ``write()``),
not in ``start_response``. A change made before that, in a streaming generator's set-up for
instance, is saved; a change made after it cannot reach the client and is logged at WARNING on
``middleware.sessions``, as are, at DEBUG, the reasons a cookie was ignored.

With ``store=`` (``middleware.stores``: ``MemoryStore()``, ``RedisStore(url)``) the cookie holds
a signed session ID and the data lives in the store, fetched when the app first touches the
session; when and how it is read and written, and the 503 when the store fails: the docs
(Session stores) and ``middleware.core.session_store``.

Options: see ``SessionLayer`` (the same on both protocols) and ``middleware.core.sessions``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import partial
from itertools import chain
from typing import Any, cast

from .._layers import SessionLayer
from .._session_log import log_events
from ..core.headers import get_list
from ..core.responses import Response
from ..core.session_store import UNAVAILABLE, StoredSession
from ..core.sessions import Session
from ..stores._base import Store, fetch, perform
from ._environ import Exchange, HeadFields, WSGILayer, native, status_code, status_line
from ._types import Environ, ExcInfo, NativeHeaders, StartResponse, Write

__all__ = ["ENVIRON_KEY", "SessionMiddleware", "get_session"]

ENVIRON_KEY = "middleware.session"


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


class SessionMiddleware(WSGILayer, SessionLayer):
    """Cookie sessions for a WSGI app: ``environ["middleware.session"]``."""

    def _accept_store(self, store: Any) -> None:
        if store is not None and getattr(store, "supports_sync", True) is False:
            raise TypeError(
                f"middleware.wsgi.SessionMiddleware needs a store with a synchronous face, got "
                f"{store!r}; give RedisStore a URL or a redis.Redis client."
            )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        cookie = environ.get("HTTP_COOKIE")
        raw = cookie.encode("latin-1") if cookie else None
        exchange = _SessionExchange(environ, start_response)
        store = self.config.store
        if store is None:
            exchange.session = Session(self.config, raw)
        else:
            exchange.store = store = cast("Store", store)
            # A function of the store alone: a method of the exchange would make a reference
            # cycle (exchange, session, fetch), left for the garbage collector.
            exchange.session = StoredSession(self.config, raw, fetch=partial(fetch, store))
        environ[ENVIRON_KEY] = exchange.session
        exchange.held = exchange.server_write = exchange.answer = None
        body = exchange.run(self.app)
        if exchange.produced_list() is None:
            return body
        # A fully produced list: the app is done with the session, so the head is decided now
        # and the list goes back to the server with no iterator of this layer around it.
        return exchange.decided() or body


class _SessionExchange(Exchange):
    """Holds the app's head until its first body chunk, then asks the session what it carries.

    PEP 3333 servers send the head with the first body bytes, so a change the app makes before
    its iterable yields (a streaming generator's set-up) is still saved.
    """

    # Set by SessionMiddleware.__call__ right after construction: no __init__ of its own
    # saves a Python call per request.
    __slots__ = ("answer", "held", "server_write", "session", "store")
    session: Session
    store: Store  # set only for a session in a store: only its commits have store operations
    # ``status`` (the plumbing's) is the status line the server has: None until the head left.
    held: tuple[str, NativeHeaders] | None  # the app's status and headers, until they leave
    server_write: Write | None  # what the server's start_response returned
    answer: Response | None  # the middleware's own answer (500, 503), in place of the app's

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        if self.status is None:
            # Nothing reached the server yet, so an exc_info restart simply replaces the
            # response and the traceback need not be kept.
            self.held = (status, headers)
        else:
            # PEP 3333: a call with exc_info after the head left goes to the server, which
            # re-raises it.
            self.status = status
            self.server_write = self._start_response(status, headers, exc_info)
        return self._write

    def decided(self) -> list[bytes] | None:
        """The body of a response whose app returned a list, its head decided and sent now
        (None when the app has not called start_response yet)."""
        if self.status is None:
            if self.held is None:
                return None
            self._send_head()
        answer = self.answer
        produced = self.produced_list_closed()
        return produced if answer is None else [answer.body]

    def on_body(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        """The body for the server, read when it asks for the first chunk: the app's first
        chunk is produced, then the head is decided and sent (a change the app made before it
        is saved), and the rest passes untouched. The middleware's answer replaces the app's
        body when the session could not be saved."""
        iterator = iter(chunks)
        first = next(iterator, None)
        if self.status is None:
            self._send_head()
        if self.answer is not None:
            return (self.answer.body,)
        if first is None:
            return ()
        return chain((first,), iterator)

    def _write(self, data: bytes) -> None:
        write = self._send_head() if self.status is None else self.server_write
        if self.answer is None and write is not None:
            self.bytes_sent += len(data)
            write(data)

    def _send_head(self) -> Write:
        """Send the head to the server, as the session's commit makes it."""
        if self.held is None:
            raise RuntimeError("The WSGI app produced its body before calling start_response.")
        status, headers = self.held
        self.held = None
        if self.session.touched:
            status, headers = self._committed(status, headers)
        self.status = status
        self.server_write = write = self._start_response(status, headers)
        return write

    def _committed(self, status: str, headers: NativeHeaders) -> tuple[str, NativeHeaders]:
        """The head the session's commit makes of the app's (with a store, once the store did
        what the session asked of it): the session's answer (a 500, a 503) in its place when
        the session could not be saved."""
        varies = _FIELDS.read(headers)
        commit = self.session.respond(status_code(status), get_list(varies, b"vary"))
        if commit is None:
            return status, headers
        if commit.store is not None:
            commit = self.session.settle(commit, perform(self.store, commit.store))
        if commit.events:
            log_events(commit.events)
        answer = self.answer = commit.answer
        if answer is not None:
            return status_line(answer.status), native(list(answer.headers))
        return status, _FIELDS.edit(headers, varies, commit.apply(varies), commit.apply)

    def on_close(self) -> None:
        session = self.session
        if session.touched:
            # Untouched, it has nothing to report (a late change or a bad cookie decodes it).
            log_events(session.close())

    def answer_for(self, error: BaseException | None) -> Response | None:
        # No crash when the app let the store's failure through: the store is down. The
        # session turns this answer's head into its 503 (logged on middleware.sessions).
        return UNAVAILABLE if self.session.store_failed(error) else None

    def _answer_crash(self) -> None:
        if self.status is not None and self.session.store_failed(sys.exc_info()[1]):
            # Too late for the 503, and this layer is the one that would answer it: its crash,
            # not a failure to pass on as the plumbing would.
            self._answer_500()
        else:
            Exchange._answer_crash(self)


# The field a session's commit merges (its Set-Cookie is appended): the rest of a head goes out
# untouched.
_FIELDS = HeadFields([b"vary"])

"""One small site written twice (WSGI and ASGI), for the tests that run real stores.

Routes (the answer is text/plain):

- ``/login?name``: ``session["user"] = name`` then ``regenerate()``, as a login should;
- ``/whoami``: the user, or ``-``;
- ``/count``: increments ``session["n"]`` and answers it;
- ``/set?key&value``: reads the session, then sets ``session[key] = value``;
- ``/read``: the session's keys and values, ``key=value`` joined by ``&``, sorted;
- ``/logout``: ``clear()``;
- ``/swallow``: reads the session, answering ``degraded`` if the store fails;
- anything else: does not touch the session.

``hook``, when set, runs between the read and the write of ``/count``, ``/set`` and ``/login``
(to race another request against this one). It runs once: it is cleared before it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from middleware.asgi.sessions import SessionMiddleware as AsgiSessions
from middleware.stores import Store, StoreError
from middleware.wsgi.sessions import SessionMiddleware as WsgiSessions
from tests.cases.sessions import SECRET
from tests.drivers import Result


class Site:
    def __init__(self) -> None:
        self.hook: Callable[[], object] | None = None

    def handle(self, session: Any, path: str, query: str) -> bytes:
        if path == "/login":
            session.get("user")
            self._run_hook()
            session["user"] = parse_qs(query)["name"][0]
            session.regenerate()
            return b"welcome"
        if path == "/whoami":
            return str(session.get("user", "-")).encode()
        if path == "/count":
            n = session.get("n", 0) + 1
            self._run_hook()
            session["n"] = n
            return str(n).encode()
        if path == "/set":
            fields = parse_qs(query)
            session.get("user")
            self._run_hook()
            session[fields["key"][0]] = fields["value"][0]
            return b"set"
        if path == "/read":
            return "&".join(f"{k}={v}" for k, v in sorted(session.items())).encode()
        if path == "/logout":
            session.clear()
            return b"bye"
        if path == "/swallow":
            try:
                return str(session.get("user", "-")).encode()
            except StoreError:
                return b"degraded"
        return b"static"

    def _run_hook(self) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()

    def wsgi(self, store: Store) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            body = self.handle(
                environ["middleware.session"], environ["PATH_INFO"], environ["QUERY_STRING"]
            )
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [body]

        return WsgiSessions(app, secret_key=SECRET, store=store)

    def asgi(self, store: Store) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "websocket":
                await receive()
                await send({"type": "websocket.accept"})
                user = scope["session"].get("user", "-")
                await send({"type": "websocket.send", "text": user})
                await send({"type": "websocket.close", "code": 1000})
                return
            body = self.handle(scope["session"], scope["path"], scope["query_string"].decode())
            start = {"type": "http.response.start", "status": 200}
            await send({**start, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": body})

        return AsgiSessions(app, secret_key=SECRET, store=store)


def cookie(result: Result, previous: str | None = None) -> str | None:
    """The session cookie a client holds after ``result`` (None once deleted)."""
    values = result.header_all("set-cookie")
    if not values:
        return previous
    (value,) = values
    pair, *attributes = value.split(";")
    # A deletion expires the cookie (attribute names in any case, RFC 6265 §5.2); a browser
    # then drops it, whatever its value.
    expired = any(
        part.strip().lower() in ("max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt")
        for part in attributes
    )
    return None if expired else pair


def headers(pair: str | None) -> list[tuple[str, str]]:
    return [] if pair is None else [("cookie", pair)]

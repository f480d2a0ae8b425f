"""A small site for the session race probes, served by real servers (gunicorn, uvicorn).

The store comes from the environment: ``SESSION_RACE_STORE`` is ``memory`` (one process, so
one worker) or a ``redis://`` URL. Routes (the answer is text/plain unless said otherwise):

- ``/start``: ``session["init"] = "1"`` (a new session and its cookie);
- ``/set?key=K``: reads the session, waits ``PAUSE`` seconds (other requests run meanwhile),
  then sets ``session[K] = K``;
- ``/login``: ``session["user"] = "alice"``, then ``regenerate()``;
- ``/read``: the session as a JSON object.

Only the public API is used, so the same module probes an older version of the package.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from middleware.asgi import SessionMiddleware as AsgiSessions
from middleware.stores import MemoryStore, RedisStore
from middleware.wsgi import SessionMiddleware as WsgiSessions

SECRET = "session-race-secret-0123456789abcdef"
PAUSE = 0.3


def _store() -> Any:
    where = os.environ.get("SESSION_RACE_STORE", "memory")
    return MemoryStore() if where == "memory" else RedisStore(where)


def _before_pause(session: Any, path: str, query: str) -> bool:
    """Handle the route up to the pause; whether the request pauses (``/set``)."""
    if path == "/start":
        session["init"] = "1"
    elif path == "/login":
        session["user"] = "alice"
        session.regenerate()
    elif path == "/set":
        session.get("init")  # read first, as an app does before it writes
        return True
    return False


def _after_pause(session: Any, path: str, query: str) -> bytes:
    if path == "/set":
        key = parse_qs(query)["key"][0]
        session[key] = key
    if path == "/read":
        return json.dumps(dict(session), sort_keys=True).encode()
    return b"ok"


def _wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    session = environ["middleware.session"]
    path, query = environ["PATH_INFO"], environ["QUERY_STRING"]
    if _before_pause(session, path, query):
        time.sleep(PAUSE)
    body = _after_pause(session, path, query)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    session = scope["session"]
    path, query = scope["path"], scope["query_string"].decode("latin-1")
    if _before_pause(session, path, query):
        await asyncio.sleep(PAUSE)
    body = _after_pause(session, path, query)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


wsgi_application = WsgiSessions(_wsgi, secret_key=SECRET, store=_store())
asgi_application = AsgiSessions(_asgi, secret_key=SECRET, store=_store())

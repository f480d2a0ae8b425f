"""Server-side session stores for ``SessionMiddleware(store=...)``, on both protocols.

    from middleware.stores import MemoryStore, RedisStore
    from middleware.wsgi import SessionMiddleware      # or middleware.asgi: the same store

    store = RedisStore("redis://localhost:6379/0")    # or MemoryStore() for one process
    app = SessionMiddleware(app, secret_key=os.environ["SESSION_KEY"], store=store)

With a store, the cookie holds only a signed random session ID (192 bits from ``secrets``) and
the data lives in the store, under that ID, for ``max_age`` seconds after it was last written.
A session can then be revoked: ``session.clear()`` deletes its record, so the logout holds on
every server at once, and ``session.regenerate()`` moves the data to a new ID and deletes the
old one (call it at login, against session fixation). Data size is not limited by a cookie.

- ``MemoryStore(max_entries=10_000)``: one process (tests, development, a single worker);
  thread-safe; the least recently used session is evicted past ``max_entries``.
- ``RedisStore(url_or_client, *, prefix="session:")``: every process and server sharing one
  Redis (extra ``redis``); a URL gives both a sync client (WSGI) and an asyncio one (ASGI).
- ``Store``: the interface, to write another (``get``, ``add``, ``replace``, ``touch``,
  ``delete`` and their ``a``-prefixed async twins); values are JSON bytes.

When the store fails (Redis down), a request whose session must be read or saved gets a 503
answered by the middleware and an ERROR line on ``middleware.sessions``, never an empty
session that would then overwrite the real one; requests that do not touch the session are
served as usual (under ASGI, with a session cookie, the record is fetched before the app runs,
because the app reads the session synchronously; a failed fetch only matters if the app then
touches the session).
"""

from __future__ import annotations

from ..core.session_store import StoreError
from ._base import Store, new_session_id
from ._memory import MemoryStore
from ._redis import RedisStore

__all__ = ["MemoryStore", "RedisStore", "Store", "StoreError", "new_session_id"]

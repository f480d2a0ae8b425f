"""Server-side session stores for ``SessionMiddleware(store=...)``, on both protocols.

    from middleware.stores import MemoryStore, RedisStore
    from middleware.wsgi import SessionMiddleware      # or middleware.asgi: the same store

    store = RedisStore("redis://localhost:6379/0")    # or MemoryStore() for one process
    app = SessionMiddleware(app, secret_key=os.environ["SESSION_KEY"], store=store)

With a store, the cookie holds only a signed random session ID (192 bits from ``secrets``) and
the data lives in the store, under that ID, for ``max_age`` seconds after it was last written.
A session can then be revoked: ``session.clear()`` deletes its record, so the logout holds on
every server at once, and ``session.regenerate()`` moves the data to a new ID (call it at
login, against session fixation). Data size is not limited by a cookie.

Requests of one session running at once (a page's parallel fetches, two tabs) do not lose each
other's changes: a request commits only the keys it set or deleted, each value as JSON (never
pickle), so changes to different keys never collide. For the same key the last writer wins: the
request whose write reaches the store last. After ``session["cart"].append(x)`` and
``session.modified = True`` the request cannot tell which key changed, so it compares every key
with the session as it read it and commits those that differ. Cookie sessions cannot merge at
all (the cookie is the whole session, so the last response wins): use a store when requests of
one session write at once.

``regenerate()`` makes the old ID read as empty at once, and leaves under it, for 60 seconds
(``middleware.core.session_store.FORWARD_TTL``), a forwarding record that names the new ID and
holds no data. A request of the same session still in flight with the old cookie is not signed
out: if it read the session before the move, its changes go to the new ID (an INFO line says
so); if it arrives after, it sees an empty session and its changes are dropped with a WARNING;
either way its response sends no cookie at all (neither a deletion nor a replacement of the new
one), and the old ID never comes back. Two logins of one session at once: the first one's new
ID stands, the second one's changes are dropped with a WARNING. ``clear()`` still deletes the
record at once. A request that runs longer than 60 seconds across a login finds the old record
gone, as after a logout, and its response deletes the cookie.

- ``MemoryStore(max_entries=10_000)``: one process (tests, development, a single worker);
  thread-safe; the least recently used session is evicted past ``max_entries``.
- ``RedisStore(url_or_client, *, prefix="session:")``: every process and server sharing one
  Redis (extra ``redis``); a URL gives both a sync client (WSGI) and an asyncio one (ASGI). A
  record is a hash, one field per key; every read and write is one Lua script on one key, so
  Redis Cluster works (a login's two IDs may live on different nodes: moving the record and
  following the forwarding record are separate single-key steps).
- ``Store``: the interface, to write another (``get``, ``add``, ``update``, ``touch``,
  ``forward``, ``delete`` and their ``a``-prefixed async twins), each method atomic on its one
  key; ``middleware.stores`` builds the merges and the forwarding on top of them.

When the store fails (Redis down), a request whose session must be read or saved gets a 503
answered by the middleware and an ERROR line on ``middleware.sessions``, never an empty
session that would then overwrite the real one; requests that do not touch the session are
served as usual (under ASGI, with a session cookie, the record is fetched before the app runs,
because the app reads the session synchronously; a failed fetch only matters if the app then
touches the session).
"""

from __future__ import annotations

from ..core.session_records import StoreError
from ._base import Store, new_session_id
from ._memory import MemoryStore
from ._redis import RedisStore

__all__ = ["MemoryStore", "RedisStore", "Store", "StoreError", "new_session_id"]

"""RedisStore: session records in Redis, shared by every process and server that uses it."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..core.session_records import StoreError
from ._base import Changes, Held, Members, Moved, Record, Store

__all__ = ["RedisStore"]

# A session's record is a hash: one field per member, its name a JSON string (b'"user"'), its
# value JSON. The old ID of a regenerated session holds a hash with one field instead, named
# moved-to (MOVED_TO in the scripts), whose value is the new ID; a member name always starts
# with a quote, so it is never that.


class _Script:
    """A Lua script on one key, run by its SHA1 (EVALSHA) and loaded into Redis when missing.

    Each script reads and writes KEYS[1] and nothing else, so on Redis Cluster it runs in that
    key's slot; steps that involve two session IDs (following a forwarding record,
    regenerate()) are separate commands, one key each. Each answers one value.
    """

    def __init__(self, source: str) -> None:
        self.source = "local MOVED_TO = 'moved-to'\n" + source
        self.sha = hashlib.sha1(self.source.encode("ascii")).hexdigest()

    def run(self, client: Any, key: str, args: list[Any]) -> Any:
        try:
            return client.evalsha(self.sha, 1, key, *args)
        except _redis().exceptions.NoScriptError:
            # A new or restarted Redis (or another cluster node) has not seen it yet.
            client.script_load(self.source)
            return client.evalsha(self.sha, 1, key, *args)

    async def arun(self, client: Any, key: str, args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, 1, key, *args)
        except _redis().exceptions.NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, 1, key, *args)


# Answers the record as its JSON object (one string: a hash read with HGETALL costs redis-py
# several times as much to parse), nil when there is none (or the key holds another type, as a
# record written by an older build does), or a list with the ID a forwarding record names.
_LOAD = _Script("""
local fields = redis.pcall('HGETALL', KEYS[1])
if fields.err or #fields == 0 then return false end
if fields[1] == MOVED_TO then return {fields[2]} end
local members = {}
for i = 1, #fields, 2 do members[#members + 1] = fields[i] .. ':' .. fields[i + 1] end
return '{' .. table.concat(members, ',') .. '}'
""")

# ARGV: ttl, then name, value pairs. Answers 1 (added) or 0 (the key is taken).
_ADD = _Script("""
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
""")

# ARGV: ttl, how many names to delete, those names, then name, value pairs to write. Answers
# how many fields are left, -1 when there is no record, or the ID a forwarding record names.
_UPDATE = _Script("""
local moved = redis.call('HGET', KEYS[1], MOVED_TO)
if moved then return moved end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local deletes = tonumber(ARGV[2])
for i = 3, 2 + deletes do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 3 + deletes, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local left = redis.call('HLEN', KEYS[1])
if left > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return left
""")

# ARGV: ttl. Answers 1 (touched), 0 (no record), or the ID a forwarding record names.
_TOUCH = _Script("""
local moved = redis.call('HGET', KEYS[1], MOVED_TO)
if moved then return moved end
return redis.call('EXPIRE', KEYS[1], ARGV[1])
""")

# ARGV: the new ID, the forwarding record's ttl. Answers the fields it replaced (a list of
# names and values), nil when there was no record, or the ID a forwarding record names.
_FORWARD = _Script("""
local moved = redis.call('HGET', KEYS[1], MOVED_TO)
if moved then return moved end
local members = redis.call('HGETALL', KEYS[1])
if #members == 0 then return false end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], MOVED_TO, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return members
""")

# Answers nil (deleted, or nothing there), or the ID a forwarding record names (left as is).
_DELETE = _Script("""
local moved = redis.call('HGET', KEYS[1], MOVED_TO)
if moved then return moved end
redis.call('DEL', KEYS[1])
return false
""")

# For a client built from a URL: a dead Redis fails a request within seconds instead of
# holding it (and a WSGI thread) for minutes, and one retry replaces a pooled connection that
# a Redis restart closed. The URL's own query parameters (?socket_timeout=...) win.
_URL_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5}


def _redis() -> Any:
    try:
        import redis
        import redis.asyncio
    except ImportError:
        raise ImportError(
            "RedisStore needs redis-py: pip install 'gateway-middleware[redis]'."
        ) from None
    return redis


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _describe(client: Any) -> str:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class RedisStore(Store):
    """Session records in Redis, under ``prefix + session ID``, each with a time to live (the
    session's ``max_age``), so Redis itself drops expired sessions.

    ``url_or_client``:

    - a URL (``"redis://localhost:6379/0"``, ``rediss://`` for TLS, ``unix://``): the store
      makes a redis-py client for WSGI and a ``redis.asyncio`` client for ASGI (one per event
      loop), with a 2 s connect and 5 s read timeout and one retry; ``close()`` and
      ``await aclose()`` close them.
    - a ``redis.Redis`` client (or ``RedisCluster``): used as is by WSGI; under ASGI its calls
      run in a worker thread (``asyncio.to_thread``), so the event loop never blocks on Redis.
    - a ``redis.asyncio.Redis`` client (or cluster): ASGI only, used as is on its event loop;
      the WSGI middleware refuses it at construction.

    A passed client is the caller's to configure and to close. A record is a hash, one field
    per key of the session: the key as a JSON string, the value as JSON (never pickle). Each
    operation is one Lua script (EVALSHA) on that one key: a read joins the fields into the
    session's JSON object; a write adds a new session's fields only if the key is free, or
    changes an existing session's fields (``HSET``/``HDEL``) only if it is still there (a
    session deleted meanwhile by a logout on another server is not written back), and renews
    the time to live. ``regenerate()`` replaces the old hash with one field, ``moved-to``, that
    names the new ID and expires after ``FORWARD_TTL`` seconds, then adds the new hash. No
    command or script touches two keys, so the store works on Redis Cluster. A key of another
    type under the prefix (a record written as one JSON string by a build before 0.1.0) reads
    as no session. Every Redis error becomes a ``StoreError``, which the middleware answers with
    a 503.
    """

    def __init__(self, url_or_client: Any, *, prefix: str = "session:") -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {prefix!r}.")
        redis = _redis()
        self.prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._url: str | None = None
        self._client: Any = None
        self._async_client: Any = None
        self._aclients: dict[asyncio.AbstractEventLoop, Any] = {}
        if isinstance(url_or_client, str):
            if not url_or_client:
                raise ValueError("url_or_client must not be an empty URL.")
            self._url = url_or_client
            self._where = _redacted(url_or_client)
            self._client = redis.Redis.from_url(
                url_or_client, retry=_retry(redis, asynchronous=False), **_URL_OPTIONS
            )
        elif isinstance(url_or_client, (redis.Redis, redis.RedisCluster)):
            self._client = url_or_client
            self._where = _describe(url_or_client)
        elif isinstance(url_or_client, (redis.asyncio.Redis, redis.asyncio.RedisCluster)):
            self._async_client = url_or_client
            self._where = _describe(url_or_client)
            self.supports_sync = False
        else:
            raise TypeError(
                "url_or_client must be a redis:// URL, a redis.Redis client or a "
                f"redis.asyncio.Redis client, got {url_or_client!r}."
            )

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self.prefix!r})"

    def _failed(self, exc: BaseException) -> StoreError:
        return StoreError(f"Redis at {self._where}: {type(exc).__name__}: {exc}")

    # -- the synchronous face (WSGI) --------------------------------------------------------

    def _sync(self) -> Any:
        if self._client is None:
            raise TypeError(
                "This RedisStore was given a redis.asyncio client, which only the ASGI "
                "middleware can use; pass a URL or a redis.Redis client for WSGI."
            )
        return self._client

    def get(self, key: str) -> Record:
        client = self._sync()
        try:
            return _record(_LOAD.run(client, self.prefix + key, []))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def add(self, key: str, members: Members, ttl: int) -> bool:
        client = self._sync()
        try:
            return bool(_ADD.run(client, self.prefix + key, _add_args(members, ttl)))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def update(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        client = self._sync()
        try:
            return _left(_UPDATE.run(client, self.prefix + key, _update_args(changes, ttl)))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def touch(self, key: str, ttl: int) -> bool | Moved:
        client = self._sync()
        try:
            return _touched(_TOUCH.run(client, self.prefix + key, [ttl]))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def forward(self, key: str, to: str, ttl: int) -> Held:
        client = self._sync()
        try:
            return _held(_FORWARD.run(client, self.prefix + key, [to, ttl]))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def delete(self, key: str) -> Moved | None:
        client = self._sync()
        try:
            return _moved(_DELETE.run(client, self.prefix + key, []))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        """Close the synchronous client this store made from a URL (a passed one is left)."""
        if self._url is not None and self._client is not None:
            self._client.close()

    # -- the asynchronous face (ASGI) -------------------------------------------------------

    def _async(self) -> Any:
        """The asyncio client for the running loop, or None to run the sync face in a thread."""
        if self._async_client is not None:
            return self._async_client
        if self._url is None:
            return None
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            # An asyncio connection belongs to the loop that opened it: a new loop (a test's,
            # a thread's) gets its own client; those of closed loops are forgotten.
            for old in [old for old in self._aclients if old.is_closed()]:
                del self._aclients[old]
            redis = _redis()
            client = redis.asyncio.Redis.from_url(
                self._url, retry=_retry(redis, asynchronous=True), **_URL_OPTIONS
            )
            self._aclients[loop] = client
        return client

    async def aget(self, key: str) -> Record:
        client = self._async()
        if client is None:
            return await super().aget(key)
        try:
            return _record(await _LOAD.arun(client, self.prefix + key, []))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def aadd(self, key: str, members: Members, ttl: int) -> bool:
        client = self._async()
        if client is None:
            return await super().aadd(key, members, ttl)
        try:
            return bool(await _ADD.arun(client, self.prefix + key, _add_args(members, ttl)))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def aupdate(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        client = self._async()
        if client is None:
            return await super().aupdate(key, changes, ttl)
        try:
            args = _update_args(changes, ttl)
            return _left(await _UPDATE.arun(client, self.prefix + key, args))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def atouch(self, key: str, ttl: int) -> bool | Moved:
        client = self._async()
        if client is None:
            return await super().atouch(key, ttl)
        try:
            return _touched(await _TOUCH.arun(client, self.prefix + key, [ttl]))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def aforward(self, key: str, to: str, ttl: int) -> Held:
        client = self._async()
        if client is None:
            return await super().aforward(key, to, ttl)
        try:
            return _held(await _FORWARD.arun(client, self.prefix + key, [to, ttl]))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def adelete(self, key: str) -> Moved | None:
        client = self._async()
        if client is None:
            return await super().adelete(key)
        try:
            return _moved(await _DELETE.arun(client, self.prefix + key, []))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def aclose(self) -> None:
        """Close the asyncio client this store made for the running loop (call it at
        shutdown, e.g. in a lifespan handler; a passed client is left to its owner)."""
        if self._url is None:
            return
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


# -- arguments and replies ------------------------------------------------------------------


def _add_args(members: Members, ttl: int) -> list[bytes | int]:
    args: list[bytes | int] = [ttl]
    for name, value in members.items():
        args += (name, value)
    return args


def _update_args(changes: Changes, ttl: int) -> list[bytes | int]:
    args: list[bytes | int] = [ttl, len(changes.deleted), *changes.deleted]
    for name, value in changes.written.items():
        args += (name, value)
    return args


def _record(reply: Any) -> Record:
    if reply is None:
        return None
    if isinstance(reply, list):
        return _moved(reply[0])
    return _bytes(reply)


def _moved(reply: Any) -> Moved | None:
    return None if reply is None else Moved(_bytes(reply).decode("ascii"))


def _left(reply: Any) -> int | Moved | None:
    if not isinstance(reply, int):
        return _moved(reply)
    return None if reply < 0 else reply


def _touched(reply: Any) -> bool | Moved:
    return bool(reply) if isinstance(reply, int) else Moved(_bytes(reply).decode("ascii"))


def _held(reply: Any) -> Held:
    if reply is None or not isinstance(reply, list):
        return _moved(reply)
    flat = [_bytes(item) for item in reply]
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _retry(redis: Any, *, asynchronous: bool) -> Any:
    from redis.backoff import NoBackoff

    retry = redis.asyncio.retry.Retry if asynchronous else redis.retry.Retry
    return retry(NoBackoff(), 1)


def _bytes(value: object) -> bytes:
    # A client made with decode_responses=True answers str.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise StoreError(f"Redis answered {type(value).__name__} for a session record.")

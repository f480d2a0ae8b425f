"""RedisStore: session records in Redis, shared by every process and server that uses it."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..core.session_store import StoreError
from ._base import Store

__all__ = ["RedisStore"]

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

    A passed client is the caller's to configure and to close. Values are the session's JSON,
    never pickle. Writes use ``SET ... NX`` (a new ID), ``SET ... XX`` (an existing session:
    a session deleted meanwhile by a logout on another server is not written back) and
    ``EXPIRE`` (a refresh); every Redis error becomes a ``StoreError``, which the middleware
    answers with a 503.
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

    def get(self, key: str) -> bytes | None:
        client = self._sync()
        try:
            value = client.get(self.prefix + key)
        except self._errors as exc:
            raise self._failed(exc) from exc
        return _bytes(value)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        client = self._sync()
        try:
            return bool(client.set(self.prefix + key, value, ex=ttl, nx=True))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        client = self._sync()
        try:
            return bool(client.set(self.prefix + key, value, ex=ttl, xx=True))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def touch(self, key: str, ttl: int) -> bool:
        client = self._sync()
        try:
            return bool(client.expire(self.prefix + key, ttl))
        except self._errors as exc:
            raise self._failed(exc) from exc

    def delete(self, key: str) -> None:
        client = self._sync()
        try:
            client.delete(self.prefix + key)
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

    async def aget(self, key: str) -> bytes | None:
        client = self._async()
        if client is None:
            return await super().aget(key)
        try:
            value = await client.get(self.prefix + key)
        except self._errors as exc:
            raise self._failed(exc) from exc
        return _bytes(value)

    async def aadd(self, key: str, value: bytes, ttl: int) -> bool:
        client = self._async()
        if client is None:
            return await super().aadd(key, value, ttl)
        try:
            return bool(await client.set(self.prefix + key, value, ex=ttl, nx=True))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def areplace(self, key: str, value: bytes, ttl: int) -> bool:
        client = self._async()
        if client is None:
            return await super().areplace(key, value, ttl)
        try:
            return bool(await client.set(self.prefix + key, value, ex=ttl, xx=True))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def atouch(self, key: str, ttl: int) -> bool:
        client = self._async()
        if client is None:
            return await super().atouch(key, ttl)
        try:
            return bool(await client.expire(self.prefix + key, ttl))
        except self._errors as exc:
            raise self._failed(exc) from exc

    async def adelete(self, key: str) -> None:
        client = self._async()
        if client is None:
            await super().adelete(key)
            return
        try:
            await client.delete(self.prefix + key)
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


def _retry(redis: Any, *, asynchronous: bool) -> Any:
    from redis.backoff import NoBackoff

    retry = redis.asyncio.retry.Retry if asynchronous else redis.retry.Retry
    return retry(NoBackoff(), 1)


def _bytes(value: object) -> bytes | None:
    # A client made with decode_responses=True answers str.
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise StoreError(f"Redis answered {type(value).__name__} for a session record.")

"""RedisStore against a real redis-server: commands, keys, TTLs, client kinds, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio

from middleware.asgi.sessions import SessionMiddleware as AsgiSessions
from middleware.stores import RedisStore, StoreError
from middleware.wsgi.sessions import SessionMiddleware as WsgiSessions
from tests.cases.session_store import session_id
from tests.drivers import acall, call_wsgi
from tests.integration.redis_server import RedisServer
from tests.integration.servers import free_port
from tests.parity.vectors import Reply, asgi_app, wsgi_app

pytestmark = pytest.mark.redis

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


def test_commands_keys_and_ttls(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisStore(redis_server.url, prefix="app1:")
    try:
        assert store.get("a") is None
        assert store.replace("a", b"{}", 60) is False  # XX: never creates
        assert store.touch("a", 60) is False
        assert raw.keys("*") == []
        assert store.add("a", b'{"x":1}', 60) is True
        assert store.add("a", b"{}", 60) is False  # NX: never overwrites
        assert raw.get("app1:a") == b'{"x":1}'  # plain JSON under the prefix
        assert 59 <= raw.ttl("app1:a") <= 60
        assert store.replace("a", b'{"x":2}', 300) is True
        assert store.get("a") == b'{"x":2}' and 299 <= raw.ttl("app1:a") <= 300
        assert store.touch("a", 900) is True and 899 <= raw.ttl("app1:a") <= 900
        store.delete("a")
        assert raw.keys("*") == []
    finally:
        store.close()


async def test_async_face_from_a_url(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisStore(redis_server.url)
    try:
        assert await store.aadd("a", b"{}", 60) is True
        assert raw.get("session:a") == b"{}"  # the default prefix
        assert await store.aget("a") == b"{}"
        assert await store.areplace("a", b"[]", 60) is True
        assert await store.atouch("a", 120) is True and 119 <= raw.ttl("session:a") <= 120
        await store.adelete("a")
        assert await store.aget("a") is None
    finally:
        await store.aclose()
        store.close()


async def test_a_passed_sync_client_serves_both_faces(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    # RESP2: redis-py's RESP3 handshake with decode_responses compares bytes with str, which
    # python -bb turns into an error (in redis-py, before any store code runs).
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, protocol=2)
    store = RedisStore(client)
    assert store.supports_sync
    assert store.add("a", b'{"name":"Zo\\u00eb"}', 60) is True
    # A decode_responses client answers str; the store hands bytes on.
    assert store.get("a") == b'{"name":"Zo\\u00eb"}'
    assert await store.aget("a") == b'{"name":"Zo\\u00eb"}'  # in a worker thread
    assert await store.areplace("a", b"{}", 60) is True
    assert await store.atouch("a", 60) is True
    await store.adelete("a")
    assert await store.aadd("b", b"{}", 60) is True
    store.close()  # a passed client is its owner's: still open
    assert client.get("session:b") == "{}"
    client.close()


async def test_a_passed_asyncio_client_is_asgi_only(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    store = RedisStore(client, prefix="")
    try:
        assert not store.supports_sync
        assert await store.aadd("a", b"{}", 60) is True
        assert raw.get("a") == b"{}"
        assert await store.aget("a") == b"{}"
        with pytest.raises(TypeError, match="only the ASGI middleware can use"):
            store.get("a")
        with pytest.raises(TypeError, match="needs a store with a synchronous face"):
            WsgiSessions(wsgi_app(Reply()), secret_key=SECRET, store=store)
        AsgiSessions(asgi_app(Reply()), secret_key=SECRET, store=store)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("argument", "error", "message"),
    [
        (42, TypeError, "url_or_client must be a redis:// URL, a redis.Redis client or"),
        (None, TypeError, "got None"),
        ("", ValueError, "must not be an empty URL"),
    ],
)
def test_bad_arguments(argument: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        RedisStore(argument)


def test_bad_prefix() -> None:
    with pytest.raises(TypeError, match="prefix must be a string, got b'x'"):
        RedisStore("redis://127.0.0.1:1/0", prefix=b"x")  # type: ignore[arg-type]


def test_repr_hides_the_password() -> None:
    store = RedisStore("redis://user:hunter2@127.0.0.1:6390/2", prefix="s:")
    assert repr(store) == "RedisStore('redis://user:***@127.0.0.1:6390/2', prefix='s:')"
    assert "hunter2" not in repr(RedisStore("redis://:hunter2@localhost/0"))
    client = redis.Redis(host="127.0.0.1", port=6390, db=3)
    assert repr(RedisStore(client)) == "RedisStore('127.0.0.1:6390/3', prefix='session:')"
    client.close()


def test_nothing_listening_is_a_store_error() -> None:
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreError, match=r"Redis at redis://:\*\*\*@127\.0\.0\.1:\d+/0: Conn"):
        store.get("a")
    with pytest.raises(StoreError):
        store.add("a", b"{}", 60)

    async def both() -> None:
        with pytest.raises(StoreError, match="ConnectionError"):
            await store.aget("a")
        with pytest.raises(StoreError):
            await store.adelete("a")
        await store.aclose()

    asyncio.run(both())
    store.close()


def test_one_client_per_event_loop(redis_server: RedisServer, raw: redis.Redis) -> None:
    # asyncio connections belong to their loop: each loop gets its own client.
    store = RedisStore(redis_server.url)

    async def use(value: bytes) -> bytes | None:
        await store.areplace("k", value, 60) or await store.aadd("k", value, 60)
        return await store.aget("k")

    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(use(b"1")) == b"1"
        assert second.run_until_complete(use(b"2")) == b"2"
        assert first.run_until_complete(use(b"3")) == b"3"  # not "attached to a different loop"
        assert len(store._aclients) == 2
        first.run_until_complete(store.aclose())
        second.run_until_complete(store.aclose())
        assert store._aclients == {}
    finally:
        first.close()
        second.close()
        store.close()


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_session_records_live_for_max_age(
    protocol: str, redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = RedisStore(redis_server.url, prefix="ttl:")
    options = {"secret_key": SECRET, "store": store, "max_age": 600}
    reply = Reply(before=lambda ctx: ctx.session.update(user="alice"))
    if protocol == "wsgi":
        result = call_wsgi(WsgiSessions(wsgi_app(reply), **options))
    else:

        async def one() -> Any:
            try:
                return await acall(AsgiSessions(asgi_app(reply), **options))
            finally:
                await store.aclose()

        result = asyncio.run(one())
    token = new_token_with(result, "; Max-Age=600; Path=/; HttpOnly; SameSite=Lax")
    key = f"ttl:{session_id(token, max_age=600)}"
    assert json.loads(raw.get(key) or b"") == {"user": "alice"}
    assert 599 <= raw.ttl(key) <= 600
    store.close()


def new_token_with(result: Any, attributes: str) -> str:
    (value,) = result.header_all("set-cookie")
    token, _, rest = value.removeprefix("session=").partition(";")
    assert ";" + rest == attributes
    return str(token)

"""RedisStore against a real redis-server: commands, keys, TTLs, client kinds, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import itsdangerous
import pytest
import redis
import redis.asyncio

from middleware.asgi.sessions import SessionMiddleware as AsgiSessions
from middleware.core.session_store import Changes, Members, Moved
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


USER: Members = {b'"user"': b'"alice"'}
CART = Changes({b'"cart"': b"[1,2]"}, ())


def test_commands_keys_and_ttls(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisStore(redis_server.url, prefix="app1:")
    try:
        assert store.get("a") is None
        assert store.update("a", CART, 60) is None  # never creates
        assert store.touch("a", 60) is False
        assert store.forward("a", "b", 60) is None
        assert raw.keys("*") == []
        assert store.add("a", USER, 60) is True
        assert store.add("a", {}, 60) is False  # never overwrites
        # A hash under the prefix: one field per key, names and values JSON.
        assert raw.type("app1:a") == b"hash"
        assert raw.hgetall("app1:a") == {b'"user"': b'"alice"'}
        assert 59 <= raw.ttl("app1:a") <= 60
        assert store.update("a", CART, 300) == 2
        assert store.get("a") == b'{"user":"alice","cart":[1,2]}'
        assert 299 <= raw.ttl("app1:a") <= 300
        assert store.touch("a", 900) is True and 899 <= raw.ttl("app1:a") <= 900
        assert store.update("a", Changes({}, (b'"user"', b'"cart"')), 60) == 0
        assert raw.keys("*") == []  # no field left: no key
        store.add("a", USER, 900)
        assert store.forward("a", "b", 30) == USER
        # The old ID keeps only where the session went, for a short while.
        assert raw.hgetall("app1:a") == {b"moved-to": b"b"}
        assert 29 <= raw.ttl("app1:a") <= 30
        assert store.get("a") == Moved("b")
        assert store.delete("a") == Moved("b") and raw.exists("app1:a")
        store.add("c", USER, 60)
        assert store.delete("c") is None and not raw.exists("app1:c")
    finally:
        store.close()


def test_a_value_of_another_type_is_no_session(redis_server: RedisServer, raw: redis.Redis) -> None:
    # A record written as one JSON string (a build from before per-key commits) reads as no
    # session: never an error, and it is left to expire.
    raw.set("session:a", b'{"user":"alice"}', ex=60)
    store = RedisStore(redis_server.url)
    try:
        assert store.get("a") is None
        assert asyncio.run(_aget_and_close(store, "a")) is None
        assert raw.get("session:a") == b'{"user":"alice"}'
    finally:
        store.close()


async def _aget_and_close(store: RedisStore, key: str) -> Any:
    try:
        return await store.aget(key)
    finally:
        await store.aclose()


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_a_session_in_the_old_format_starts_again(
    protocol: str, redis_server: RedisServer, raw: redis.Redis
) -> None:
    store = RedisStore(redis_server.url, prefix="old:")
    old_id = "o" * 32
    raw.set(f"old:{old_id}", b'{"user":"alice"}', ex=600)
    token = itsdangerous.TimestampSigner(SECRET).sign(old_id).decode()
    seen: list[Any] = []

    def use(ctx: Any) -> None:
        seen.append(dict(ctx.session))
        ctx.session["user"] = "bob"

    options = {"secret_key": SECRET, "store": store}
    headers = [("cookie", f"session={token}")]
    if protocol == "wsgi":
        result = call_wsgi(WsgiSessions(wsgi_app(Reply(before=use)), **options), headers=headers)
    else:

        async def one() -> Any:
            try:
                return await acall(
                    AsgiSessions(asgi_app(Reply(before=use)), **options), headers=headers
                )
            finally:
                await store.aclose()

        result = asyncio.run(one())
    assert (result.status, seen) == (200, [{}])
    new_id = session_id(new_token_with(result, "; path=/; Max-Age=1209600; httponly; samesite=lax"))
    assert new_id != old_id and raw.hgetall(f"old:{new_id}") == {b'"user"': b'"bob"'}
    store.close()


async def test_async_face_from_a_url(redis_server: RedisServer, raw: redis.Redis) -> None:
    store = RedisStore(redis_server.url)
    try:
        assert await store.aadd("a", USER, 60) is True
        assert raw.hgetall("session:a") == USER  # the default prefix
        assert await store.aget("a") == b'{"user":"alice"}'
        assert await store.aupdate("a", CART, 60) == 2
        assert await store.atouch("a", 120) is True and 119 <= raw.ttl("session:a") <= 120
        assert await store.aforward("a", "b", 60) == {**USER, b'"cart"': b"[1,2]"}
        assert await store.aget("a") == Moved("b")
        assert await store.adelete("a") == Moved("b")
        raw.delete("session:a")
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
    name = {b'"name"': b'"Zo\\u00eb"'}
    assert store.add("a", name, 60) is True
    # A decode_responses client answers str; the store hands bytes on.
    assert store.get("a") == b'{"name":"Zo\\u00eb"}'
    assert await store.aget("a") == b'{"name":"Zo\\u00eb"}'  # in a worker thread
    assert await store.aupdate("a", CART, 60) == 2
    assert await store.atouch("a", 60) is True
    assert store.forward("a", "b", 60) == {**name, b'"cart"': b"[1,2]"}
    assert store.get("a") == Moved("b") and store.touch("a", 60) == Moved("b")
    assert await store.adelete("a") == Moved("b")
    assert await store.aadd("b", USER, 60) is True
    store.close()  # a passed client is its owner's: still open
    assert client.hgetall("session:b") == {'"user"': '"alice"'}
    client.close()


async def test_a_passed_asyncio_client_is_asgi_only(
    redis_server: RedisServer, raw: redis.Redis
) -> None:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    store = RedisStore(client, prefix="")
    try:
        assert not store.supports_sync
        assert await store.aadd("a", USER, 60) is True
        assert raw.hgetall("a") == USER
        assert await store.aget("a") == b'{"user":"alice"}'
        assert await store.aforward("a", "b", 60) == USER
        assert await store.aupdate("a", CART, 60) == Moved("b")
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
        store.add("a", USER, 60)
    for call in (
        lambda: store.update("a", CART, 60),
        lambda: store.touch("a", 60),
        lambda: store.forward("a", "b", 60),
        lambda: store.delete("a"),
    ):
        with pytest.raises(StoreError, match="ConnectionError"):
            call()

    async def both() -> None:
        with pytest.raises(StoreError, match="ConnectionError"):
            await store.aget("a")
        with pytest.raises(StoreError):
            await store.adelete("a")
        for call in (
            lambda: store.aadd("a", USER, 60),
            lambda: store.aupdate("a", CART, 60),
            lambda: store.atouch("a", 60),
            lambda: store.aforward("a", "b", 60),
        ):
            with pytest.raises(StoreError, match="ConnectionError"):
                await call()
        await store.aclose()

    asyncio.run(both())
    store.close()


def test_one_client_per_event_loop(redis_server: RedisServer, raw: redis.Redis) -> None:
    # asyncio connections belong to their loop: each loop gets its own client.
    store = RedisStore(redis_server.url)

    async def use(value: bytes) -> Any:
        changes = Changes({b'"v"': value}, ())
        await store.aupdate("k", changes, 60) or await store.aadd("k", changes.written, 60)
        return json.loads(await store.aget("k") or b"")

    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(use(b"1")) == {"v": 1}
        assert second.run_until_complete(use(b"2")) == {"v": 2}
        # Not "attached to a different loop":
        assert first.run_until_complete(use(b"3")) == {"v": 3}
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
    token = new_token_with(result, "; path=/; Max-Age=600; httponly; samesite=lax")
    key = f"ttl:{session_id(token, max_age=600)}"
    assert raw.hgetall(key) == {b'"user"': b'"alice"'}
    assert 599 <= raw.ttl(key) <= 600
    store.close()


def new_token_with(result: Any, attributes: str) -> str:
    (value,) = result.header_all("set-cookie")
    token, _, rest = value.removeprefix("session=").partition(";")
    assert ";" + rest == attributes
    return str(token)

"""Two app instances, one WSGI and one ASGI, sharing one real Redis through RedisStore.

What a store is for: a session written through one server is read through the other, a logout
on one holds on the other at once, a login moves the session to a new ID, and requests for
different sessions run at the same time without stepping on each other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from middleware.core.session_store import FORWARD_TTL
from middleware.stores import RedisStore
from tests.cases.session_store import session_id
from tests.drivers import Result, acall, call_wsgi
from tests.integration.redis_server import RedisServer
from tests.stores.site import Site, cookie, headers

pytestmark = pytest.mark.redis


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
async def store(redis_server: RedisServer, raw: redis.Redis) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_server.url)
    yield store
    await store.aclose()
    store.close()


class Servers:
    """The same site served twice over one store: ``wsgi`` and ``asgi``."""

    def __init__(self, store: RedisStore) -> None:
        self.site = Site()
        self.wsgi_app = self.site.wsgi(store)
        self.asgi_app = self.site.asgi(store)

    async def get(self, protocol: str, path: str, pair: str | None, query: str = "") -> Result:
        if protocol == "wsgi":
            return call_wsgi(self.wsgi_app, "GET", path, query, headers(pair))
        return await acall(self.asgi_app, "GET", path, query, headers(pair))


@pytest.fixture
def servers(store: RedisStore) -> Servers:
    return Servers(store)


def lookups(raw: redis.Redis) -> int:
    """How many GETs Redis answered so far (hits and misses)."""
    stats: dict[str, Any] = raw.info("stats")
    return int(stats["keyspace_hits"]) + int(stats["keyspace_misses"])


OTHER = {"wsgi": "asgi", "asgi": "wsgi"}


@pytest.mark.parametrize("first", ["wsgi", "asgi"])
async def test_written_through_one_read_through_the_other(
    servers: Servers, raw: redis.Redis, first: str
) -> None:
    second = OTHER[first]
    login = await servers.get(first, "/login", None, "name=alice")
    pair = cookie(login)
    assert pair is not None
    assert (await servers.get(second, "/whoami", pair)).body == b"alice"
    assert (await servers.get(second, "/count", pair)).body == b"1"
    assert (await servers.get(first, "/count", pair)).body == b"2"
    assert (await servers.get(second, "/count", pair)).body == b"3"
    assert raw.keys("*") == [f"session:{session_id(pair.removeprefix('session='))}".encode()]


@pytest.mark.parametrize("where", ["wsgi", "asgi"])
async def test_logout_on_one_is_seen_on_the_other(
    servers: Servers, raw: redis.Redis, where: str
) -> None:
    other = OTHER[where]
    pair = cookie(await servers.get(other, "/login", None, "name=alice"))
    assert (await servers.get(other, "/whoami", pair)).body == b"alice"
    logout = await servers.get(where, "/logout", pair)
    assert cookie(logout, pair) is None  # the cookie is deleted
    assert raw.keys("*") == []  # and so is the record
    # A stolen copy of the old cookie is worth nothing on the other server, at once.
    assert (await servers.get(other, "/whoami", pair)).body == b"-"
    # A write through the revoked ID starts a new session under a new ID.
    counted = await servers.get(other, "/count", pair)
    assert counted.body == b"1"
    new_pair = cookie(counted)
    assert new_pair is not None and new_pair != pair
    assert (await servers.get(where, "/whoami", pair)).body == b"-"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_login_regenerates_the_id_against_fixation(
    servers: Servers, raw: redis.Redis, protocol: str
) -> None:
    # The attacker gets a session ID by visiting, and plants it in the victim's browser.
    planted = cookie(await servers.get(protocol, "/count", None))
    assert planted is not None
    planted_key = f"session:{session_id(planted.removeprefix('session='))}".encode()
    assert raw.exists(planted_key)
    login = await servers.get(protocol, "/login", planted, "name=victim")
    victim = cookie(login)
    assert victim is not None and victim != planted
    # The data moved (the count came along); under the planted ID, Redis keeps only where the
    # session went, for a minute, and never hands that out.
    victim_id = session_id(victim.removeprefix("session="))
    assert raw.hgetall(planted_key) == {b"moved-to": victim_id.encode()}
    assert 0 < raw.ttl(planted_key) <= FORWARD_TTL
    assert (await servers.get(OTHER[protocol], "/count", victim)).body == b"2"
    for either in ("wsgi", "asgi"):
        assert (await servers.get(either, "/whoami", planted)).body == b"-"
        assert (await servers.get(either, "/whoami", victim)).body == b"victim"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_a_logout_racing_a_write_is_not_undone(
    servers: Servers, raw: redis.Redis, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    pair = cookie(await servers.get("wsgi", "/login", None, "name=alice"))
    # While /count runs on one server (between its read and its write), the user logs out on
    # the WSGI one.
    servers.site.hook = lambda: call_wsgi(servers.wsgi_app, "GET", "/logout", "", headers(pair))
    with caplog.at_level(logging.INFO, logger="middleware.sessions"):
        result = await servers.get(protocol, "/count", pair)
    servers.site.hook = None
    assert result.body == b"1"
    assert cookie(result, pair) is None  # the racing response deletes the cookie too
    assert raw.keys("*") == []  # and does not bring the session back
    ((level, message),) = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert level == logging.INFO
    assert message.startswith("Session was deleted from the store while this request ran")
    assert (await servers.get(OTHER[protocol], "/whoami", pair)).body == b"-"


def race(servers: Servers, path: str, query: str, pair: str | None) -> list[Result]:
    """Set the site's hook to run ``path`` through the WSGI server; its results land here."""
    results: list[Result] = []
    servers.site.hook = lambda: results.append(
        call_wsgi(servers.wsgi_app, "GET", path, query, headers(pair))
    )
    return results


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_writes_to_different_keys_at_once_both_stay(servers: Servers, protocol: str) -> None:
    pair = cookie(await servers.get("wsgi", "/login", None, "name=alice"))
    # While /set?key=cart runs on one server (between its read and its write), another
    # request of the same session sets theme on the WSGI one.
    inner = race(servers, "/set", "key=theme&value=dark", pair)
    outer = await servers.get(protocol, "/set", pair, "key=cart&value=3")
    assert inner[0].header_all("set-cookie") == outer.header_all("set-cookie") == []
    read = await servers.get(OTHER[protocol], "/read", pair)
    assert read.body == b"cart=3&theme=dark&user=alice"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_the_same_key_goes_to_the_last_writer(servers: Servers, protocol: str) -> None:
    pair = cookie(await servers.get("wsgi", "/login", None, "name=alice"))
    race(servers, "/set", "key=theme&value=dark", pair)
    await servers.get(protocol, "/set", pair, "key=theme&value=light")  # commits last
    assert (await servers.get(protocol, "/read", pair)).body == b"theme=light&user=alice"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_a_login_while_a_write_is_in_flight_does_not_sign_out(
    servers: Servers, raw: redis.Redis, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    old = cookie(await servers.get(protocol, "/set", None, "key=cart&value=1"))
    # /set?key=theme has read the session when /login regenerates it on the WSGI server.
    login = race(servers, "/login", "name=alice", old)
    with caplog.at_level(logging.INFO, logger="middleware.sessions"):
        in_flight = await servers.get(protocol, "/set", old, "key=theme&value=dark")
    new = cookie(login[0])
    assert new is not None and new != old
    # The in-flight response neither deletes nor replaces the new cookie ...
    assert in_flight.header_all("set-cookie") == []
    assert cookie(in_flight, new) == new
    # ... its change went to the new ID, and the old ID reads as empty, not revived.
    assert (await servers.get(protocol, "/read", new)).body == b"cart=1&theme=dark&user=alice"
    assert (await servers.get(OTHER[protocol], "/read", old)).body == b""
    old_key = f"session:{session_id(old.removeprefix('session='))}"
    assert raw.hgetall(old_key) == {b"moved-to": session_id(new.removeprefix("session=")).encode()}
    ((level, message),) = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert level == logging.INFO
    assert message.startswith("Session was moved to a new ID by regenerate() while this request")


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_a_write_committed_during_a_login_moves_with_it(
    servers: Servers, protocol: str
) -> None:
    old = cookie(await servers.get(protocol, "/set", None, "key=cart&value=1"))
    # /login has read the session when /set?key=theme commits on the WSGI server.
    race(servers, "/set", "key=theme&value=dark", old)
    new = cookie(await servers.get(protocol, "/login", old, "name=alice"))
    assert (await servers.get(protocol, "/read", new)).body == b"cart=1&theme=dark&user=alice"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_the_old_id_after_a_login_reads_empty_and_writes_nothing(
    servers: Servers, raw: redis.Redis, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Whoever planted the old ID (or a request sent before the login's answer arrived) gets
    # an empty session, and cannot write into the new one.
    old = cookie(await servers.get(protocol, "/set", None, "key=cart&value=1"))
    new = cookie(await servers.get("wsgi", "/login", old, "name=victim"))
    with caplog.at_level(logging.INFO, logger="middleware.sessions"):
        late = await servers.get(protocol, "/set", old, "key=user&value=mallory")
    assert late.header_all("set-cookie") == []
    assert (await servers.get(protocol, "/read", new)).body == b"cart=1&user=victim"
    ((level, message),) = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert level == logging.WARNING
    assert "replaced by regenerate() before this request read it" in message
    for either in ("wsgi", "asgi"):
        assert (await servers.get(either, "/read", old)).body == b""


async def test_concurrent_writes_to_different_sessions(servers: Servers, raw: redis.Redis) -> None:
    sessions, rounds = 6, 12

    async def login(protocol: str, n: int) -> str:
        pair = cookie(await servers.get(protocol, "/login", None, f"name=u{n}"))
        assert pair is not None
        return pair

    wsgi_pairs = [await login("wsgi", n) for n in range(sessions)]
    asgi_pairs = [await login("asgi", n) for n in range(sessions, 2 * sessions)]
    failures: list[BaseException] = []

    def wsgi_client(pair: str) -> None:
        try:
            for _ in range(rounds):
                call_wsgi(servers.wsgi_app, "GET", "/count", "", headers(pair))
        except BaseException as exc:
            failures.append(exc)

    async def asgi_client(pair: str) -> None:
        for _ in range(rounds):
            await acall(servers.asgi_app, "GET", "/count", "", headers(pair))

    threads = [threading.Thread(target=wsgi_client, args=(pair,)) for pair in wsgi_pairs]
    for thread in threads:
        thread.start()
    await asyncio.gather(*(asgi_client(pair) for pair in asgi_pairs))
    for thread in threads:
        thread.join()
    assert failures == []
    for n, pair in enumerate(wsgi_pairs + asgi_pairs):
        assert (await servers.get("wsgi", "/count", pair)).body == str(rounds + 1).encode()
        assert (await servers.get("asgi", "/whoami", pair)).body == f"u{n}".encode()
    assert len(raw.keys("*")) == 2 * sessions


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
async def test_tampered_ids_are_never_looked_up(
    servers: Servers, raw: redis.Redis, protocol: str
) -> None:
    pair = cookie(await servers.get(protocol, "/login", None, "name=alice"))
    assert pair is not None
    name, token = pair.split("=", 1)
    forged = [
        f"{name}={token[:-1]}{'A' if token[-1] != 'A' else 'B'}",  # signature
        f"{name}={'A' * 32}{token[32:]}",  # another ID under this signature
        f"{name}={token.split('.')[0]}",  # the bare ID
        f"{name}=garbage",
    ]
    for bad in forged:
        before = lookups(raw)
        result = await servers.get(protocol, "/whoami", bad)
        assert result.body == b"-"
        assert lookups(raw) == before, bad
    before = lookups(raw)
    assert (await servers.get(protocol, "/whoami", pair)).body == b"alice"
    assert lookups(raw) == before + 1


async def test_when_each_protocol_reads_the_store(servers: Servers, raw: redis.Redis) -> None:
    pair = cookie(await servers.get("wsgi", "/login", None, "name=alice"))
    before = lookups(raw)
    await servers.get("wsgi", "/static", pair)  # WSGI: only when the app touches it
    await servers.get("wsgi", "/static", None)
    await servers.get("asgi", "/static", None)
    assert lookups(raw) == before
    # ASGI reads before the app runs (the app reads the session synchronously).
    await servers.get("asgi", "/static", pair)
    assert lookups(raw) == before + 1


async def test_websockets_read_the_shared_session(servers: Servers, raw: redis.Redis) -> None:
    pair = cookie(await servers.get("wsgi", "/login", None, "name=alice"))
    assert pair is not None
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"cookie", pair.encode())],
        "query_string": b"",
    }
    await servers.asgi_app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "alice"

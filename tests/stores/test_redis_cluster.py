"""RedisStore on a real Redis Cluster: three redis-server nodes, the slots split between them.

Redis Cluster refuses a command, transaction or script whose keys hash to different slots
(CROSSSLOT), and a node refuses keys it does not serve. A session's old and new IDs after
``regenerate()`` usually live on different nodes, so every step that involves both (moving the
record, following the forwarding record) must be its own single-key command. These tests run
the races of ``tests/stores/test_shared_redis.py`` on the cluster, through a sync
``redis.RedisCluster`` (WSGI, and ASGI through a worker thread) and a
``redis.asyncio.RedisCluster`` (ASGI), and record every command the store sends: each is an
EVALSHA of one key (or a SCRIPT LOAD), and the slot of that key is computed with redis-py's
CRC16 (``redis.crc.key_slot``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.crc import key_slot

from middleware.stores import RedisStore
from tests.cases.session_store import session_id
from tests.drivers import Result, acall, call_wsgi
from tests.integration.redis_server import REDIS_SERVER, RedisCluster
from tests.stores.site import Site, cookie, headers

pytestmark = pytest.mark.redis


class Recording(redis.RedisCluster):
    """A cluster client that keeps every command it is asked to run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the parent's __init__, which already runs COMMAND.
        self.commands: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self.commands.append(args)
        return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisCluster() as running:
        yield running


@pytest.fixture
def client(cluster: RedisCluster) -> Iterator[Recording]:
    client = Recording(host="127.0.0.1", port=cluster.port)
    client.flushall()
    client.commands.clear()
    yield client
    client.close()


class Servers:
    """The site of tests/stores/site.py over one cluster store, on one protocol."""

    def __init__(self, protocol: str, store: RedisStore) -> None:
        self.protocol = protocol
        self.site = Site()
        self.app = self.site.wsgi(store) if protocol == "wsgi" else self.site.asgi(store)

    def get(self, path: str, pair: str | None, query: str = "") -> Result:
        if self.protocol == "wsgi":
            return call_wsgi(self.app, "GET", path, query, headers(pair))
        return asyncio.run(acall(self.app, "GET", path, query, headers(pair)))

    def meanwhile(self, path: str, query: str, pair: str | None) -> list[Result]:
        """Run ``path`` between the read and the write of the next request (in a thread: an
        ASGI request needs its own event loop)."""
        results: list[Result] = []

        def hook() -> None:
            thread = threading.Thread(target=lambda: results.append(self.get(path, pair, query)))
            thread.start()
            thread.join()

        self.site.hook = hook
        return results


def node_of(client: redis.RedisCluster, key: str) -> str:
    node = client.get_node_from_key(key)  # type: ignore[no-untyped-call]
    return f"{node.host}:{node.port}"


def test_every_command_is_one_key_in_one_slot(client: Recording) -> None:
    servers = Servers("wsgi", RedisStore(client))
    crossed = 0
    for _ in range(10):
        old = cookie(servers.get("/set", None, "key=cart&value=1"))
        servers.meanwhile("/set", "key=theme&value=dark", old)
        new = cookie(servers.get("/login", old, "name=alice"))
        assert servers.get("/read", new).body == b"cart=1&theme=dark&user=alice"
        servers.meanwhile("/login", "name=alice", new)
        newer_write = servers.get("/set", new, "key=late&value=1")
        assert newer_write.header_all("set-cookie") == []
        assert servers.get("/logout", new).status == 200
        old_key = f"session:{session_id((old or '').removeprefix('session='))}"
        new_key = f"session:{session_id((new or '').removeprefix('session='))}"
        crossed += node_of(client, old_key) != node_of(client, new_key)
    # Most logins moved a session to another node (two in three do, at random).
    assert crossed >= 3
    keyed = [args for args in client.commands if args[0] != "SCRIPT LOAD"]
    assert keyed and {args[0] for args in keyed} == {"EVALSHA"}
    for args in keyed:
        assert args[2] == 1, args  # numkeys: one key, so one slot
        assert 0 <= key_slot(args[3].encode()) < 16384
    # One script on two session keys would have been refused.
    old_slot, new_slot = key_slot(old_key.encode()), key_slot(new_key.encode())
    assert old_slot != new_slot
    with pytest.raises(redis.RedisClusterException, match="same key slot"):
        client.eval("return 1", 2, old_key, new_key)


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_the_races_on_a_cluster(client: Recording, protocol: str) -> None:
    servers = Servers(protocol, RedisStore(client))
    # Different keys at once.
    pair = cookie(servers.get("/login", None, "name=alice"))
    servers.meanwhile("/set", "key=theme&value=dark", pair)
    servers.get("/set", pair, "key=cart&value=3")
    assert servers.get("/read", pair).body == b"cart=3&theme=dark&user=alice"
    # A login while a write is in flight: no sign-out, the write merged, the old ID dead.
    login = servers.meanwhile("/login", "name=bob", pair)
    in_flight = servers.get("/set", pair, "key=late&value=1")
    new = cookie(login[0])
    assert new is not None and new != pair
    assert in_flight.header_all("set-cookie") == []
    assert servers.get("/read", new).body == b"cart=3&late=1&theme=dark&user=bob"
    assert servers.get("/read", pair).body == b""
    # A logout.
    assert cookie(servers.get("/logout", new), new) is None
    assert servers.get("/read", new).body == b""


async def test_an_asyncio_cluster_client(cluster: RedisCluster, client: Recording) -> None:
    aclient = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.port)
    app = Site().asgi(RedisStore(aclient))

    async def get(path: str, pair: str | None, query: str = "") -> Result:
        return await acall(app, "GET", path, query, headers(pair))

    try:
        old = cookie(await get("/set", None, "key=cart&value=1"))
        new = cookie(await get("/login", old, "name=alice"))
        assert (await get("/set", new, "key=theme&value=dark")).status == 200
        assert (await get("/read", new)).body == b"cart=1&theme=dark&user=alice"
        assert (await get("/read", old)).body == b""
        late = await get("/set", old, "key=user&value=mallory")
        assert late.header_all("set-cookie") == []
        assert (await get("/read", new)).body == b"cart=1&theme=dark&user=alice"
    finally:
        await aclient.aclose()

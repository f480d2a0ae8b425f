"""Redis stops and comes back mid-run: 503s and ERROR lines meanwhile, normal service after.

This module has its own redis-server (the ``redis_server`` fixture is per module), which the
test stops and starts again on the same port; the apps and their stores live through it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from middleware.stores import RedisStore
from tests.drivers import Result, acall, call_wsgi
from tests.integration.redis_server import RedisServer
from tests.stores.site import Site, cookie, headers

pytestmark = pytest.mark.redis

LOGGER = "middleware.sessions"
UNAVAILABLE = [("content-type", "text/plain; charset=utf-8"), ("content-length", "19")]


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_server.url)
    yield store
    await store.aclose()
    store.close()


def errors(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


async def test_requests_while_redis_is_down_get_503_then_it_works_again(
    redis_server: RedisServer, store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site()
    wsgi, asgi = site.wsgi(store), site.asgi(store)

    async def get(protocol: str, path: str, pair: str | None, query: str = "") -> Result:
        if protocol == "wsgi":
            return call_wsgi(wsgi, "GET", path, query, headers(pair))
        return await acall(asgi, "GET", path, query, headers(pair))

    pairs = {p: cookie(await get(p, "/login", None, "name=alice")) for p in ("wsgi", "asgi")}
    assert (await get("asgi", "/whoami", pairs["wsgi"])).body == b"alice"

    redis_server.stop()
    try:
        for protocol, pair in pairs.items():
            for path, query, who in [
                ("/whoami", "", pair),  # a read: never an empty session
                ("/count", "", pair),  # a write: never an empty session saved over the data
                ("/swallow", "", pair),  # the app catches the error: still a 503
                ("/logout", "", pair),  # a logout that cannot revoke must not pretend to
                ("/login", "name=bob", None),  # a new session cannot be stored either
            ]:
                caplog.clear()
                with caplog.at_level(logging.DEBUG, logger=LOGGER):
                    result = await get(protocol, path, who, query)
                where = f"{protocol} {path}"
                assert (result.status, result.body, result.error) == (
                    503,
                    b"Service Unavailable",
                    None,
                ), where
                assert result.headers == UNAVAILABLE, where
                ((level, message),) = errors(caplog)
                assert level == logging.ERROR, where
                assert message.startswith(
                    f"Session store failed (Redis at {redis_server.url}: ConnectionError: "
                ), where
                assert message.endswith(
                    "answered 503 rather than serve an empty session or lose its changes."
                )
                # Not a crash: no traceback on middleware.errors.
                assert [r for r in caplog.records if r.name == "middleware.errors"] == []
            # A request that does not use the session is served as usual.
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger=LOGGER):
                result = await get(protocol, "/static", pair)
            assert (result.status, result.body) == (200, b"static")
            assert errors(caplog) == []
    finally:
        redis_server.start()

    # Back (empty: the test server keeps nothing on disk). The same stores and clients work.
    for protocol, pair in pairs.items():
        assert (await get(protocol, "/whoami", pair)).body == b"-"
        new = cookie(await get(protocol, "/login", None, "name=carol"))
        assert (await get(protocol, "/count", new)).body == b"1"
        other = "asgi" if protocol == "wsgi" else "wsgi"
        assert (await get(other, "/whoami", new)).body == b"carol"

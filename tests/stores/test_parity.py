"""The cookie sessions' parity vectors again, with MemoryStore and with RedisStore.

Every case of ``tests/cases/sessions.py`` runs through both protocols and both stores: its
Cookie header is rewritten into a signed session ID whose record holds the cookie's data
(``tests/cases/session_store.py``), and the new cookie the response sets is read back as an ID
whose record must hold the expected data.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from middleware.asgi.sessions import SessionMiddleware as AsgiSessions
from middleware.stores import MemoryStore, RedisStore, Store
from middleware.wsgi.sessions import SessionMiddleware as WsgiSessions
from tests.cases.session_store import STORE_EXPECTED, data, members, session_id, store_cookie
from tests.cases.sessions import (
    ACTIONS,
    BAD_COOKIES,
    CASES,
    DELETE,
    GOOD_COOKIES,
    MAX_AGE,
    OPTIONS,
    BadCookieCase,
    Case,
    GoodCookieCase,
    cookie,
    params,
)
from tests.drivers import Result, acall, call_wsgi
from tests.integration.redis_server import RedisServer
from tests.parity.test_sessions import LOGGER, assert_events, new_token, session_logs
from tests.parity.vectors import TEXT, AppContext, Probe, Reply, asgi_app, wsgi_app


class Runner:
    """One request through SessionMiddleware(store=...) on one protocol; records the seeds."""

    def __init__(self, protocol: str, store: Store) -> None:
        self.protocol = protocol
        self.store = store
        self.probe = Probe()
        self.seeded: list[str] = []

    def seed(self, key: str, record: bytes) -> None:
        assert self.store.add(key, members(record), MAX_AGE)
        self.seeded.append(key)

    def cookie(self, header: str | None) -> list[tuple[str, str]]:
        return [] if header is None else [("cookie", store_cookie(header, self.seed))]

    def __call__(self, reply: Reply, headers: list[tuple[str, str]], **options: Any) -> Result:
        options = {**OPTIONS, "store": self.store, **options}
        if self.protocol == "wsgi":
            return call_wsgi(WsgiSessions(wsgi_app(reply, self.probe), **options), headers=headers)
        app = AsgiSessions(asgi_app(reply, self.probe), **options)

        async def one() -> Result:
            try:
                return await acall(app, headers=headers)
            finally:
                if isinstance(self.store, RedisStore):
                    # Each asyncio.run is a new loop: close this loop's client with it.
                    await self.store.aclose()

        return asyncio.run(one())

    def record(self, token: str) -> Any:
        return data(self.store.get(session_id(token)))


@pytest.fixture(scope="module")
def redis_store(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    server: RedisServer = request.getfixturevalue("redis_server")
    store = RedisStore(server.url, prefix="parity:")
    yield store
    store.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "memory":
        return MemoryStore()
    store: RedisStore = request.getfixturevalue("redis_store")
    return store


@pytest.fixture(params=["wsgi", "asgi"])
def run(request: pytest.FixtureRequest, store: Store) -> Runner:
    return Runner(request.param, store)


def act(action: str) -> Any:
    return lambda ctx: ACTIONS[action](ctx.session)


@pytest.mark.parametrize("case", params(CASES))
def test_session_cases(run: Runner, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    case = dataclasses.replace(case, **STORE_EXPECTED.get(case.id, {}))
    now = int(time.time())
    headers = TEXT if case.app_vary is None else (*TEXT, ("vary", case.app_vary))
    reply = Reply(status=case.status, headers=headers, before=act(case.action))
    cookie = run.cookie(case.cookie(now) if case.cookie else None)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(reply, cookie, **case.options)
    assert_events(caplog, case.events)
    if case.answered is not None:
        assert result.status == case.answered
        assert result.body == b"Internal Server Error"
        return
    assert (result.status, result.body) == (case.status, b"hello")
    assert result.header_all("vary") == ([case.vary] if case.vary else [])
    if case.set_cookie == "none":
        assert result.header_all("set-cookie") == []
        if case.data is not None:
            # Saved under the same ID: the cookie the client holds is still the right one.
            assert data(run.store.get(run.seeded[0])) == case.data
    elif case.set_cookie == "delete":
        assert result.header_all("set-cookie") == [DELETE]
        # Emptying the session revoked it: no record is left under the cookie's ID.
        assert [key for key in run.seeded if run.store.get(key) is not None] == []
    else:
        token = new_token(result)
        assert run.record(token) == case.data
    if case.status >= 500 or case.action in ("nothing", "read", "contains"):
        # Nothing saved: the seeded records are as they were.
        assert all(run.store.get(key) is not None for key in run.seeded)


@pytest.mark.parametrize("case", params(BAD_COOKIES))
def test_bad_cookies(run: Runner, case: BadCookieCase, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []
    reply = Reply(before=lambda ctx: seen.append(dict(ctx.session)))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(reply, run.cookie(case.cookie(int(time.time()))))
    assert (result.status, result.body, result.error) == (200, b"hello", None)
    assert seen == [{}]
    assert result.header_all("set-cookie") == []
    assert result.header_all("vary") == ["Cookie"]
    ((level, message),) = session_logs(caplog)
    assert level == logging.DEBUG
    assert message.startswith("Ignored the 'session' cookie (") and message.endswith(
        "); the session starts empty."
    )


@pytest.mark.parametrize("case", params(GOOD_COOKIES))
def test_good_cookies(run: Runner, case: GoodCookieCase, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []
    reply = Reply(before=lambda ctx: seen.append(dict(ctx.session)))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(reply, run.cookie(case.cookie(int(time.time()))))
    assert seen == [case.data]
    assert len(result.header_all("set-cookie")) == case.refreshed
    if case.refreshed:
        # Refreshed: the same ID, re-signed, and its record still holds the data.
        assert session_id(new_token(result)) == run.seeded[0]
        assert run.record(new_token(result)) == case.data
    assert session_logs(caplog) == []


def test_untouched_session_adds_nothing(run: Runner) -> None:
    result = run(Reply(), run.cookie(cookie()(int(time.time()))))
    assert result.headers == [("content-type", "text/plain; charset=utf-8")]


def test_change_after_the_headers_left_is_lost(
    run: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    chunks: list[int] = []

    def during(ctx: AppContext) -> None:
        chunks.append(1)
        if len(chunks) == 2:
            ctx.session["late"] = True

    reply = Reply(chunks=(b"a", b"b"), before=act("read"), during=during)
    header = cookie()(int(time.time()))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(reply, run.cookie(header))
    assert result.body == b"ab"
    assert result.header_all("set-cookie") == []
    assert session_logs(caplog) == [
        (
            logging.WARNING,
            "Session changed after the response headers were sent; the change is lost.",
        )
    ]
    assert "late" not in data(run.store.get(run.seeded[0]))

"""SessionMiddleware(store=MemoryStore(...)) end to end, on both protocols, without Redis."""

from __future__ import annotations

from typing import Any

import pytest

from middleware.asgi.sessions import SessionMiddleware
from middleware.stores import MemoryStore
from tests.cases.sessions import SECRET
from tests.drivers import Result, call_asgi, call_wsgi
from tests.stores.site import Site, cookie, headers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["wsgi", "asgi"])
def get(request: pytest.FixtureRequest) -> Any:
    def make(store: MemoryStore) -> Any:
        site = Site()
        app = site.wsgi(store) if request.param == "wsgi" else site.asgi(store)
        call = call_wsgi if request.param == "wsgi" else call_asgi

        def get(path: str, pair: str | None, query: str = "") -> Result:
            return call(app, "GET", path, query, headers(pair))

        return get

    return make


def test_a_session_expires_with_its_record(get: Any) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    get = get(store)
    pair = cookie(get("/login", None, "name=alice"))
    clock.now += 1_209_599  # max_age, less a second: still there
    assert get("/whoami", pair).body == b"alice"
    clock.now += 2
    assert get("/whoami", pair).body == b"-"
    # The expired ID is not brought back: the next write gets a new one.
    counted = get("/count", pair)
    assert counted.body == b"1" and cookie(counted) not in (None, pair)


def test_each_write_extends_the_record(get: Any) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    get = get(store)
    pair = cookie(get("/login", None, "name=alice"))
    for _ in range(3):
        clock.now += 1_000_000
        assert get("/count", pair).status == 200
    assert get("/whoami", pair).body == b"alice"


def test_least_recently_used_sessions_are_evicted(get: Any) -> None:
    get = get(MemoryStore(max_entries=2))
    a, b = (cookie(get("/login", None, f"name={name}")) for name in "ab")
    assert get("/whoami", a).body == b"a"  # a is now more recent than b
    c = cookie(get("/login", None, "name=c"))
    assert [get("/whoami", pair).body for pair in (a, b, c)] == [b"a", b"-", b"c"]


def test_one_store_serves_both_protocols() -> None:
    store, site = MemoryStore(), Site()
    wsgi, asgi = site.wsgi(store), site.asgi(store)
    pair = cookie(call_wsgi(wsgi, "GET", "/login", "name=alice"))
    assert call_asgi(asgi, "GET", "/whoami", "", headers(pair)).body == b"alice"
    assert cookie(call_asgi(asgi, "GET", "/logout", "", headers(pair)), pair) is None
    assert call_wsgi(wsgi, "GET", "/whoami", "", headers(pair)).body == b"-"
    assert len(store) == 0


def test_asgi_reads_the_record_before_the_app_runs() -> None:
    # The app reads request.session synchronously: by then the record must be there.
    store = MemoryStore()
    pair = cookie(call_wsgi(Site().wsgi(store), "GET", "/login", "name=alice"))
    seen: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        session = scope["session"]
        seen.append((session._fetched, session.accessed))
        seen.append(session.get("user"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    call_asgi(SessionMiddleware(app, secret_key=SECRET, store=store), headers=headers(pair))
    assert seen == [(True, False), "alice"]

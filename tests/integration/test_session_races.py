"""Session races under real servers: concurrent writers of one session, and a login racing them.

The site is ``tests/integration/session_race_app.py`` (each ``/set`` reads the session, waits
0.3 s, then sets its own key), served by gunicorn's threaded worker and by uvicorn, with a
``MemoryStore`` and with a ``RedisStore`` on a real redis-server.

- Different keys: 20 requests of one session, sent at once, each set a different key; every
  key must be there afterwards (last writer wins only for the same key).
- Regenerate: a ``/set`` is in flight with the session's cookie when ``/login`` regenerates
  the session. The in-flight response must neither delete nor replace the new cookie (the user
  stays signed in), the old ID reads as empty, and the in-flight change ends up under the new
  ID (it read the session before the login moved it).

Each probe prints what it saw (``-s`` shows it), then asserts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.redis_server import REDIS_SERVER, RedisServer
from tests.integration.servers import running

pytestmark = [pytest.mark.integration]

WRITERS = 20
SERVERS = [
    pytest.param(("gunicorn-gthread", "wsgi_application"), id="gunicorn-gthread"),
    pytest.param(("uvicorn", "asgi_application"), id="uvicorn"),
]
APP = "tests.integration.session_race_app:"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server.url


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory"
    return str(request.getfixturevalue("redis_url"))


def cookie_after(response: httpx.Response, held: str | None) -> str | None:
    """The session cookie a browser holds after ``response`` (None once deleted)."""
    values = response.headers.get_list("set-cookie")
    if not values:
        return held
    (value,) = values
    pair = value.split(";")[0]
    return None if pair == "session=" else pair


def get(client: httpx.Client, path: str, pair: str | None) -> httpx.Response:
    headers = {} if pair is None else {"cookie": pair}
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response


def read(client: httpx.Client, pair: str | None) -> dict[str, str]:
    data: dict[str, str] = json.loads(get(client, "/read", pair).text)
    return data


def different_keys(base_url: str) -> int:
    """Send WRITERS concurrent ``/set`` of one session; how many keys were lost."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        pair = cookie_after(get(client, "/start", None), None)
        assert pair is not None
        answers: list[httpx.Response] = []

        def write(key: str) -> None:
            answers.append(get(client, f"/set?key={key}", pair))

        threads = [threading.Thread(target=write, args=(f"k{n}",)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(answers) == WRITERS
        # No writer replaced or deleted the session's cookie.
        assert all(cookie_after(answer, pair) == pair for answer in answers)
        data = read(client, pair)
    return sum(1 for n in range(WRITERS) if data.get(f"k{n}") != f"k{n}")


def regenerate_race(base_url: str) -> tuple[bool, dict[str, str], dict[str, str]]:
    """A ``/set`` in flight while ``/login`` regenerates the session.

    Returns whether the browser is still signed in afterwards, what the session it holds
    reads, and what the old ID reads.
    """
    with httpx.Client(base_url=base_url, timeout=30) as client:
        old = cookie_after(get(client, "/start", None), None)
        assert old is not None
        in_flight: list[httpx.Response] = []
        writer = threading.Thread(
            target=lambda: in_flight.append(get(client, "/set?key=inflight", old))
        )
        writer.start()
        time.sleep(0.1)  # the /set has read the session and is pausing
        login = get(client, "/login", old)
        writer.join()
        # The browser applies the responses in the order they arrived: the login's first.
        held = cookie_after(in_flight[0], cookie_after(login, old))
        now = read(client, held) if held is not None else {}
        return held is not None and held != old, now, read(client, old)


@pytest.mark.parametrize("server", SERVERS)
def test_concurrent_writers_of_different_keys_lose_nothing(
    server: tuple[str, str], store: str
) -> None:
    name, attribute = server
    with running(name, APP + attribute, env={"SESSION_RACE_STORE": store}) as base_url:
        lost = different_keys(base_url)
    print(f"\n{name} {store.split(':')[0]}: {lost} of {WRITERS} keys lost")
    assert lost == 0


@pytest.mark.parametrize("server", SERVERS)
def test_a_login_racing_a_writer_does_not_sign_out(server: tuple[str, str], store: str) -> None:
    name, attribute = server
    with running(name, APP + attribute, env={"SESSION_RACE_STORE": store}) as base_url:
        signed_in, now, old = regenerate_race(base_url)
    print(f"\n{name} {store.split(':')[0]}: signed in {signed_in}, holds {now}, old ID {old}")
    assert signed_in
    assert now == {"init": "1", "user": "alice", "inflight": "inflight"}
    assert old == {}

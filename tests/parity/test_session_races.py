"""Requests of one session running at once, with a store, through both protocols.

The outer request reads the session, then (in its ``before`` hook) another request of the same
session runs to its end, then the outer request writes and answers. So the outer request's
write always lands after the inner one's: changes to different keys both stay, the same key
goes to the last writer, and a login (``regenerate()``) in between neither signs the user out
nor revives the old ID. The inner request runs in a thread (an ASGI one needs its own event
loop); a ``MemoryStore`` is shared by both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from middleware.stores import MemoryStore
from tests.drivers import Result
from tests.parity.vectors import AppContext, Reply, Request

SECRET = "session-races-secret-0123456789abcdef"
LOGGER = "middleware.sessions"


class Site:
    """One store, one session cookie at a time, and requests through ``serve``."""

    def __init__(self, serve: Any) -> None:
        self.serve = serve
        self.store = MemoryStore()
        # What the outer request runs between its read and its write (see meanwhile).
        self.hook: Callable[[Any], None] = lambda session: None

    def wrap(self, module: Any, app: Any) -> Any:
        return module.SessionMiddleware(app, secret_key=SECRET, store=self.store)

    def request(self, cookie: str | None, action: Callable[[Any], object]) -> Result:
        headers = [] if cookie is None else [("cookie", cookie)]

        def before(ctx: AppContext) -> None:
            action(ctx.session)

        result: Result = self.serve(
            self.wrap, request=Request(headers=headers), reply=Reply(before=before)
        )
        return result

    def meanwhile(self, cookie: str | None, action: Callable[[Any], object]) -> list[Result]:
        """A hook for the outer request: run another request of ``cookie`` to its end."""
        done: list[Result] = []

        def run() -> None:
            done.append(self.request(cookie, action))

        def hook(session: Any) -> None:
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()

        self.hook = hook
        return done

    def read(self, cookie: str | None) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []
        self.request(cookie, lambda session: seen.append(dict(session)))
        return seen[0]


def cookie_of(result: Result) -> str | None:
    values = result.header_all("set-cookie")
    assert len(values) <= 1
    return values[0].split(";")[0] if values else None


def login(session: Any) -> None:
    session["user"] = "alice"
    session.regenerate()


def outer(site: Site, *changes: Callable[[Any], object]) -> Callable[[Any], None]:
    """Read the session, let the other request run, then make ``changes``."""

    def action(session: Any) -> None:
        session.get("user")
        site.hook(session)
        for change in changes:
            change(session)

    return action


@pytest.fixture
def site(serve: Any) -> Site:
    return Site(serve)


def started(site: Site, **data: Any) -> str:
    cookie = cookie_of(site.request(None, lambda session: session.update(data)))
    assert cookie is not None
    return cookie


def test_writes_to_different_keys_at_once_both_stay(site: Site) -> None:
    cookie = started(site, user="alice")
    inner = site.meanwhile(cookie, lambda session: session.update(theme="dark"))
    result = site.request(cookie, outer(site, lambda session: session.update(cart=[3])))
    assert (result.status, inner[0].status) == (200, 200)
    # The same ID: neither response sends a cookie, and neither change is lost.
    assert result.header_all("set-cookie") == inner[0].header_all("set-cookie") == []
    assert site.read(cookie) == {"user": "alice", "theme": "dark", "cart": [3]}


def test_a_key_deleted_while_another_is_written_both_stay(site: Site) -> None:
    cookie = started(site, user="alice", flash="saved")
    site.meanwhile(cookie, lambda session: session.pop("flash"))
    site.request(cookie, outer(site, lambda session: session.update(cart=[3])))
    assert site.read(cookie) == {"user": "alice", "cart": [3]}


def test_the_same_key_goes_to_the_last_writer(site: Site) -> None:
    cookie = started(site, theme="light")
    site.meanwhile(cookie, lambda session: session.update(theme="dark"))
    site.request(cookie, outer(site, lambda session: session.update(theme="blue")))
    assert site.read(cookie) == {"theme": "blue"}


def test_a_login_while_a_write_is_in_flight_does_not_sign_out(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    old = started(site, cart=[1])
    inner = site.meanwhile(old, login)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        in_flight = site.request(old, outer(site, lambda session: session.update(theme="dark")))
    new = cookie_of(inner[0])
    assert new is not None and new != old
    # The response of the request that was in flight neither deletes nor replaces the new
    # cookie; its change went to the new ID; the old ID reads empty and stays dead.
    assert in_flight.status == 200
    assert in_flight.header_all("set-cookie") == []
    assert site.read(new) == {"cart": [1], "user": "alice", "theme": "dark"}
    assert site.read(old) == {}
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert [level for level, _ in records] == [logging.INFO]
    assert records[0][1].startswith("Session was moved to a new ID by regenerate()")


def test_a_write_committed_during_a_login_moves_with_it(site: Site) -> None:
    old = started(site, cart=[1])
    site.meanwhile(old, lambda session: session.update(theme="dark"))
    new = cookie_of(site.request(old, outer(site, login)))
    assert new is not None and new != old
    assert site.read(new) == {"cart": [1], "theme": "dark", "user": "alice"}


def test_the_old_id_after_a_login_reads_empty_and_writes_nothing(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    old = started(site, cart=[1])
    new = cookie_of(site.request(old, login))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        late = site.request(old, lambda session: session.update(user="mallory"))
    assert late.header_all("set-cookie") == []
    assert site.read(new) == {"cart": [1], "user": "alice"}
    assert site.read(old) == {}
    ((level, message),) = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert level == logging.WARNING
    assert message.startswith("Session changes not saved: the session ID was replaced by")


def test_two_logins_at_once_the_first_one_stands(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    old = started(site, cart=[1])
    inner = site.meanwhile(old, login)

    def second_login(session: Any) -> None:
        session["user"] = "bob"
        session.regenerate()

    with caplog.at_level(logging.INFO, logger=LOGGER):
        second = site.request(old, outer(site, second_login))
    first = cookie_of(inner[0])
    assert second.header_all("set-cookie") == []
    assert site.read(first) == {"cart": [1], "user": "alice"}
    assert [r.levelno for r in caplog.records if r.name == LOGGER] == [logging.WARNING]


def test_a_logout_while_a_write_is_in_flight_stays_a_logout(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    cookie = started(site, user="alice")
    site.meanwhile(cookie, lambda session: session.clear())
    with caplog.at_level(logging.INFO, logger=LOGGER):
        result = site.request(cookie, outer(site, lambda session: session.update(cart=[3])))
    assert cookie_of(result) == "session=null"  # deleted, as the logout's was
    assert site.read(cookie) == {}
    assert [r.levelno for r in caplog.records if r.name == LOGGER] == [logging.INFO]

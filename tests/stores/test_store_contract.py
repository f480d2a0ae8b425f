"""What every store does, run against MemoryStore and a real Redis, through both faces.

The first tests pin each operation (add, update, touch, forward, delete). The rest play two
requests of one session against each other, as ``perform`` runs their writes: request A reads
the session, request B reads it too, then they commit in some order. Changes to different keys
never collide; the same key goes to the last writer; a ``regenerate()`` leaves a forwarding
record that a request still in flight follows (merged) or is refused by (dropped), never a
revived old ID and never a lost sign-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from middleware.core.session_store import (
    FORWARD_TTL,
    Changes,
    Members,
    Moved,
    Saved,
    StoreOps,
    WriteKind,
)
from middleware.stores import MemoryStore, RedisStore, Store
from middleware.stores._base import afetch, aperform, fetch, perform
from tests.cases.session_store import members
from tests.integration.redis_server import RedisServer

TTL = 600
USER: Members = {b'"user"': b'"alice"'}
NOTHING = Changes({}, ())


def written(**values: str) -> Changes:
    return Changes({f'"{k}"'.encode(): f'"{v}"'.encode() for k, v in values.items()}, ())


def deleted(*keys: str) -> Changes:
    return Changes({}, tuple(f'"{k}"'.encode() for k in keys))


class Face:
    """One store through its synchronous face (as WSGI) or its asynchronous one (as ASGI)."""

    def __init__(self, store: Store, asynchronous: bool) -> None:
        self.store = store
        self.asynchronous = asynchronous

    def _run(self, make: Any) -> Any:
        async def one() -> Any:
            try:
                return await make()
            finally:
                if isinstance(self.store, RedisStore):
                    await self.store.aclose()  # each asyncio.run is a new loop

        return asyncio.run(one())

    def fetch(self, key: str) -> Members | Moved | None:
        """The record under ``key``, its JSON object read back member by member."""
        if self.asynchronous:
            record = self._run(lambda: afetch(self.store, key))
        else:
            record = fetch(self.store, key)
        return members(record) if isinstance(record, bytes) else record

    def perform(self, ops: StoreOps) -> Any:
        if self.asynchronous:
            return self._run(lambda: aperform(self.store, ops))
        return perform(self.store, ops)

    def call(self, name: str, *args: Any) -> Any:
        """``store.name(*args)``, or ``await store.aname(*args)``; a record ``get`` reads is
        compared member by member."""
        if self.asynchronous:
            answer = self._run(lambda: getattr(self.store, "a" + name)(*args))
        else:
            answer = getattr(self.store, name)(*args)
        return members(answer) if isinstance(answer, bytes) else answer

    # What a response's store operations look like (see middleware.core.session_store).
    def new(self, key: str, members: Members) -> None:
        assert self.perform(StoreOps(WriteKind.ADD, key, Changes(members, ()), TTL)) is Saved.DONE

    def update(self, key: str, changes: Changes) -> Any:
        return self.perform(StoreOps(WriteKind.UPDATE, key, changes, TTL))

    def regenerate(self, old: str, new: str, changes: Changes = NOTHING) -> Any:
        return self.perform(StoreOps(WriteKind.MOVE, new, changes, TTL, source=old))

    def clear(self, key: str) -> Any:
        return self.perform(StoreOps(None, "", NOTHING, TTL, key))

    def touch(self, key: str) -> Any:
        return self.perform(StoreOps(WriteKind.TOUCH, key, NOTHING, TTL))


@pytest.fixture(scope="module")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest, kind: str) -> Iterator[Face]:
    if kind == "memory":
        yield Face(MemoryStore(), request.param == "async")
        return
    url = request.getfixturevalue("redis_url")
    redis.Redis.from_url(url).flushdb()
    store = RedisStore(url, prefix="contract:")
    yield Face(store, request.param == "async")
    store.close()


# -- each operation ------------------------------------------------------------------------------


def test_add_only_where_nothing_is(face: Face) -> None:
    assert face.call("get", "a") is None
    assert face.call("add", "a", USER, TTL) is True
    assert face.call("add", "a", {b'"x"': b"1"}, TTL) is False
    assert face.call("get", "a") == USER
    face.call("forward", "a", "b", TTL)
    assert face.call("add", "a", USER, TTL) is False  # a forwarding record is something


def test_update_applies_changes_and_says_what_is_left(face: Face) -> None:
    assert face.call("update", "a", written(x="1"), TTL) is None  # never creates
    assert face.call("get", "a") is None
    face.call("add", "a", USER, TTL)
    assert face.call("update", "a", written(theme="dark"), TTL) == 2
    assert face.call("update", "a", Changes({b'"n"': b"1"}, (b'"user"', b'"none"')), TTL) == 2
    assert face.call("get", "a") == {b'"theme"': b'"dark"', b'"n"': b"1"}
    assert face.call("update", "a", NOTHING, TTL) == 2  # only the time to live
    assert face.call("update", "a", deleted("theme", "n"), TTL) == 0
    assert face.call("get", "a") is None  # no member left: no record


def test_touch(face: Face) -> None:
    assert face.call("touch", "a", TTL) is False
    face.call("add", "a", USER, TTL)
    assert face.call("touch", "a", TTL) is True
    face.call("forward", "a", "b", TTL)
    assert face.call("touch", "a", TTL) == Moved("b")


def test_forward_hands_over_the_record_once(face: Face) -> None:
    assert face.call("forward", "a", "b", TTL) is None
    assert face.call("get", "a") is None  # nothing written over nothing
    face.call("add", "a", USER, TTL)
    assert face.call("forward", "a", "b", TTL) == USER
    assert face.call("get", "a") == Moved("b")
    assert face.call("forward", "a", "c", TTL) == Moved("b")  # the first move stands
    assert face.call("update", "a", written(x="1"), TTL) == Moved("b")
    assert face.call("get", "a") == Moved("b")  # unchanged by any of it


def test_delete_leaves_a_forwarding_record(face: Face) -> None:
    assert face.call("delete", "a") is None
    face.call("add", "a", USER, TTL)
    assert face.call("delete", "a") is None
    assert face.call("get", "a") is None
    face.call("add", "a", USER, TTL)
    face.call("forward", "a", "b", TTL)
    assert face.call("delete", "a") == Moved("b")
    assert face.call("get", "a") == Moved("b")


def test_values_are_bytes_as_written(face: Face) -> None:
    members = {b'"name"': b'"Zo\\u00eb"', b'"cart"': b'[1,{"q":2}]', b'"q\\"k"': b"null"}
    face.call("add", "a", members, TTL)
    assert face.call("get", "a") == members


# -- two requests of one session ----------------------------------------------------------------


def test_changes_to_different_keys_never_collide(face: Face) -> None:
    face.new("s", USER)
    # A and B both read {"user"}; A sets "cart", B sets "theme" and deletes "user".
    assert face.update("s", written(cart="[1]")) is Saved.DONE
    assert face.update("s", Changes(written(theme="dark").written, (b'"user"',))) is Saved.DONE
    assert face.fetch("s") == {b'"cart"': b'"[1]"', b'"theme"': b'"dark"'}


def test_the_same_key_goes_to_the_last_writer(face: Face) -> None:
    face.new("s", USER)
    assert face.update("s", written(user="bob")) is Saved.DONE
    assert face.update("s", written(user="carol")) is Saved.DONE
    assert face.fetch("s") == {b'"user"': b'"carol"'}


def test_emptying_a_session_another_request_wrote_to_keeps_its_write(face: Face) -> None:
    face.new("s", USER)
    assert face.update("s", written(cart="[1]")) is Saved.DONE  # B, while A ran
    assert face.update("s", deleted("user")) is Saved.DONE  # A popped every key it saw
    assert face.fetch("s") == {b'"cart"': b'"[1]"'}
    assert face.update("s", deleted("cart")) is Saved.EMPTIED
    assert face.fetch("s") is None


def test_a_logout_racing_a_write_is_not_undone(face: Face) -> None:
    face.new("s", USER)
    assert face.clear("s") is Saved.DONE
    assert face.update("s", written(cart="[1]")) is Saved.GONE
    assert face.touch("s") is Saved.GONE
    assert face.regenerate("s", "new") is Saved.GONE
    assert face.fetch("s") is None and face.fetch("new") is None


def test_regenerate_moves_the_record_and_forwards_the_old_id(face: Face) -> None:
    face.new("old", USER)
    assert face.regenerate("old", "new", written(role="admin")) is Saved.DONE
    assert face.fetch("new") == {**USER, b'"role"': b'"admin"'}
    assert face.fetch("old") == Moved("new")


def test_a_write_in_flight_during_regenerate_is_merged(face: Face) -> None:
    face.new("old", USER)
    assert face.regenerate("old", "new") is Saved.DONE  # A: the login
    assert face.update("old", written(cart="[1]")) is Saved.MERGED  # B read before it
    assert face.fetch("new") == {**USER, b'"cart"': b'"[1]"'}
    assert face.fetch("old") == Moved("new")  # never revived


def test_a_write_committed_before_the_move_is_carried_over(face: Face) -> None:
    face.new("old", USER)
    assert face.update("old", written(cart="[1]")) is Saved.DONE
    assert face.regenerate("old", "new", deleted("user")) is Saved.DONE
    assert face.fetch("new") == {b'"cart"': b'"[1]"'}


def test_a_second_regenerate_of_the_same_id_is_dropped(face: Face) -> None:
    face.new("old", USER)
    assert face.regenerate("old", "first") is Saved.DONE
    assert face.regenerate("old", "second", written(user="mallory")) is Saved.DROPPED
    assert face.fetch("first") == USER and face.fetch("second") is None


def test_a_write_following_to_a_session_gone_meanwhile_is_dropped(face: Face) -> None:
    face.new("old", USER)
    face.regenerate("old", "new")
    assert face.clear("new") is Saved.DONE  # logged out under the new ID
    assert face.update("old", written(cart="[1]")) is Saved.DROPPED
    assert face.fetch("new") is None  # not revived by the follower


def test_a_write_following_to_a_session_moved_again_is_dropped(face: Face) -> None:
    face.new("old", USER)
    face.regenerate("old", "new")
    face.regenerate("new", "newer")
    assert face.update("old", written(cart="[1]")) is Saved.DROPPED
    assert face.fetch("newer") == USER


def test_clear_and_touch_of_a_moved_id_leave_the_new_session(face: Face) -> None:
    face.new("old", USER)
    face.regenerate("old", "new")
    assert face.touch("old") is Saved.DROPPED
    assert face.clear("old") is Saved.DROPPED
    assert face.fetch("old") == Moved("new")  # still forwarding, for the others in flight
    assert face.fetch("new") == USER


def test_clear_then_write_on_a_moved_id_starts_its_own_session(face: Face) -> None:
    face.new("old", USER)
    face.regenerate("old", "new")
    ops = StoreOps(WriteKind.ADD, "mine", Changes(USER, ()), TTL, "old")
    assert face.perform(ops) is Saved.DONE
    assert face.fetch("mine") == USER and face.fetch("new") == USER


def test_regenerate_of_an_emptied_session(face: Face) -> None:
    face.new("old", USER)
    assert face.regenerate("old", "new", deleted("user")) is Saved.EMPTIED
    assert face.fetch("new") is None


def test_new_id_taken(face: Face) -> None:
    face.new("old", USER)
    face.new("new", USER)
    assert face.regenerate("old", "new") is Saved.TAKEN
    assert face.perform(StoreOps(WriteKind.ADD, "new", Changes(USER, ()), TTL)) is Saved.TAKEN


def test_the_forwarding_record_is_short_lived(face: Face, kind: str) -> None:
    face.new("old", USER)
    face.regenerate("old", "new")
    if kind == "redis":
        client = redis.Redis.from_url(face.store._url or "")  # type: ignore[attr-defined]
        assert 0 < client.ttl("contract:old") <= FORWARD_TTL
        assert TTL - 5 <= client.ttl("contract:new") <= TTL
        client.close()
    else:
        store: Any = face.store
        difference = store._records["old"][0] - store._records["new"][0]
        assert difference == pytest.approx(FORWARD_TTL - TTL, abs=1)

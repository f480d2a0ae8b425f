"""Store sessions without any protocol or store: the signed ID, the fetch, the decisions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from middleware.core.headers import Headers
from middleware.core.session_codec import BadCookie, UnserializableSession, dumps_name
from middleware.core.session_store import (
    ID_LENGTH,
    UNAVAILABLE,
    Changes,
    Members,
    Moved,
    Record,
    Saved,
    StoredSession,
    StoreError,
    StoreOps,
    WriteKind,
    is_session_id,
    merged,
    record_json,
)
from middleware.core.sessions import (
    DEFAULT_MAX_AGE,
    FAILURE,
    EventKind,
    Session,
    SessionConfig,
)
from tests.cases.sessions import ATTRIBUTES, DELETE, MAX_AGE, OLD_SECRET, OPTIONS, SECRET, sign
from tests.core.test_sessions import NOW, Clock, make_config

OLD_ID = "o" * ID_LENGTH
NEW_ID = "n" * ID_LENGTH
DATA = {"user": "alice", "cart": [1, 2]}
# A store reads a record out as its JSON object; it keeps it member by member.
RECORD = b'{"user":"alice","cart":[1,2]}'
MEMBERS: Members = {b'"user"': b'"alice"', b'"cart"': b"[1,2]"}
NO_CHANGES = Changes({}, ())


class Fetch:
    """A fake store read: records by ID, every call counted, failing on demand."""

    def __init__(self, records: dict[str, Record] | None = None) -> None:
        self.records = {OLD_ID: RECORD} if records is None else records
        self.calls: list[str] = []
        self.error: StoreError | None = None

    def __call__(self, session_id: str) -> Record:
        self.calls.append(session_id)
        if self.error is not None:
            raise self.error
        return self.records.get(session_id)


class FakeStore:
    """Has a store's methods: the core only checks that they are there."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: None


def config(clock: Clock | None = None, **options: Any) -> SessionConfig:
    return SessionConfig(
        **{**OPTIONS, **options},
        store=FakeStore(),
        clock=clock or Clock(),
        new_id=lambda: NEW_ID,
    )


def token(session_id: str = OLD_ID, *, age: int = 0, key: str = SECRET) -> str:
    return sign(session_id.encode(), now=NOW, age=age, key=key)


def header(session_id: str = OLD_ID, **kwargs: Any) -> bytes:
    return f"theme=dark; session={token(session_id, **kwargs)}".encode()


def session(
    cookie: bytes | Headers | None = None, fetch: Fetch | None = None, **options: Any
) -> StoredSession:
    return StoredSession(config(**options), cookie, fetch if fetch is not None else Fetch())


def new_id_in(commit: Any) -> str:
    prefix = b"session="
    value = commit.set_cookie
    assert value.startswith(prefix) and value.endswith(ATTRIBUTES.encode())
    return str(value[len(prefix) :].split(b".")[0].decode())


# -- the signed ID ------------------------------------------------------------------------


def test_ids_are_32_url_safe_characters() -> None:
    assert is_session_id(b"A" * 31 + b"_") and is_session_id(b"-" * 32)
    assert not is_session_id(b"A" * 31) and not is_session_id(b"A" * 33)
    assert not is_session_id(b"A" * 31 + b"=") and not is_session_id(b"A" * 31 + b".")
    assert not is_session_id(b"A" * 31 + b"\xe9")


@pytest.mark.parametrize(
    ("cookie", "reason"),
    [
        pytest.param(header(), "valid", id="valid"),
        pytest.param(header(key=OLD_SECRET), "valid", id="fallback-key"),
        pytest.param(None, None, id="no-cookie"),
        pytest.param(b"theme=dark", None, id="other-cookies"),
        pytest.param(header()[:-1] + b"A", BadCookie.BAD_SIGNATURE, id="tampered-signature"),
        pytest.param(
            b"session=" + NEW_ID.encode() + token().encode()[ID_LENGTH:],
            BadCookie.BAD_SIGNATURE,
            id="id-swapped",
        ),
        pytest.param(header(key="other"), BadCookie.BAD_SIGNATURE, id="unknown-key"),
        pytest.param(header(age=MAX_AGE + 1), BadCookie.EXPIRED, id="expired"),
        pytest.param(header(age=-3600), BadCookie.FUTURE, id="future"),
        pytest.param(b"session=" + OLD_ID.encode(), BadCookie.MALFORMED, id="bare-id"),
        pytest.param(
            f"session={sign(b'e30=', now=NOW)}".encode(), BadCookie.NOT_AN_ID, id="not-an-id"
        ),
        pytest.param(
            f"session={sign(b'A' * 31 + b'=', now=NOW)}".encode(),
            BadCookie.NOT_AN_ID,
            id="id-with-padding",
        ),
        pytest.param(header() + b"; " + header(NEW_ID)[12:], BadCookie.SEVERAL, id="several"),
    ],
)
def test_cookie_id(cookie: bytes | None, reason: BadCookie | str | None) -> None:
    fetch = Fetch()
    stored = session(cookie, fetch)
    expected = OLD_ID if reason == "valid" else None
    if reason == "valid":
        reason = None
    assert stored.cookie_id() == expected
    assert stored.cookie_id() == expected  # parsed once, same answer
    assert not stored.accessed
    assert fetch.calls == []
    dict(stored)
    # A tampered, forged or expired ID is never looked up.
    assert fetch.calls == ([OLD_ID] if expected else [])
    assert [event.reason for event in stored.close()] == ([] if reason is None else [reason])


def test_asgi_header_list_with_split_cookie_fields() -> None:
    headers: Headers = [(b"cookie", b"theme=dark"), (b"cookie", b"session=" + token().encode())]
    assert session(headers).cookie_id() == OLD_ID


# -- fetching ---------------------------------------------------------------------------


def test_untouched_session_fetches_nothing_and_decides_nothing() -> None:
    fetch = Fetch()
    stored = session(header(), fetch)
    assert stored.respond(200) is None
    assert stored.close() == ()
    assert fetch.calls == []


def test_first_touch_fetches_once() -> None:
    fetch = Fetch()
    stored = session(header(), fetch)
    assert stored["user"] == "alice"
    assert stored.get("cart") == [1, 2] and len(stored) == 2
    assert fetch.calls == [OLD_ID]


def test_write_before_any_read_fetches_first() -> None:
    # Writing blind could not tell which members changed: the record is read first.
    fetch = Fetch()
    stored = session(header(), fetch)
    stored["theme"] = "dark"
    assert fetch.calls == [OLD_ID]
    commit = stored.respond(200)
    assert commit is not None and commit.store is not None
    assert commit.store.changes == Changes({b'"theme"': b'"dark"'}, ())


def test_preloaded_record_is_used_without_fetch() -> None:
    stored = StoredSession(config(), header())
    assert stored.cookie_id() == OLD_ID
    stored.preload(RECORD)
    assert dict(stored) == DATA


def test_preloaded_absence_gives_an_empty_session() -> None:
    stored = StoredSession(config(), header())
    stored.preload(None)
    assert dict(stored) == {}


def test_without_fetch_or_preload_the_adapter_is_wrong() -> None:
    with pytest.raises(RuntimeError, match="neither a fetch function nor a preloaded record"):
        dict(StoredSession(config(), header()))


def test_unknown_id_starts_empty_and_is_never_reused() -> None:
    # The ID was signed by this server but its record is gone (expired, revoked): the data
    # written now goes under a new ID, so a planted ID never comes back to life.
    stored = session(header(), Fetch({}))
    stored["user"] = "mallory"
    commit = stored.respond(200)
    assert commit is not None
    added = Changes({b'"user"': b'"mallory"'}, ())
    assert commit.store == StoreOps(WriteKind.ADD, NEW_ID, added, MAX_AGE)
    assert new_id_in(commit) == NEW_ID


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(b'{"a":\x80 not json}', id="value-not-json"),
        pytest.param(b"{a:1}", id="name-not-a-json-string"),
        pytest.param(b'{"a":1,}', id="value-with-trailing-comma"),
        pytest.param(b"[1,2]", id="not-an-object"),
    ],
)
def test_unreadable_record_starts_empty_and_moves_to_a_new_id(record: bytes) -> None:
    stored = session(header(), Fetch({OLD_ID: record}))
    assert dict(stored) == {}
    stored["a"] = 1
    commit = stored.respond(200)
    assert commit is not None
    added = Changes({b'"a"': b"1"}, ())
    assert commit.store == StoreOps(WriteKind.ADD, NEW_ID, added, MAX_AGE, OLD_ID)
    assert [(e.kind, e.level) for e in commit.events] == [(EventKind.BAD_RECORD, 30)]


def test_unreadable_record_read_only_is_reported_at_close() -> None:
    stored = session(header(), Fetch({OLD_ID: b"[1, 2]"}))
    assert dict(stored) == {}
    stored.respond(200)
    assert stored.close() == ()
    stored = session(header(), Fetch({OLD_ID: b"[1, 2]"}))
    assert dict(stored) == {}
    assert [e.kind for e in stored.close()] == [EventKind.BAD_RECORD]


# -- records, member by member ---------------------------------------------------------------


def test_record_json_and_merged() -> None:
    assert record_json(MEMBERS) == RECORD
    assert record_json({}) == b"{}"
    changes = Changes({b'"theme"': b'"dark"', b'"user"': b'"bob"'}, (b'"cart"', b'"gone"'))
    result = merged(MEMBERS, changes)
    assert result == {b'"user"': b'"bob"', b'"theme"': b'"dark"'}
    assert MEMBERS == {b'"user"': b'"alice"', b'"cart"': b"[1,2]"}  # a new record


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("user", b'"user"'),
        ('quote"and\\back', b'"quote\\"and\\\\back"'),
        ("Zoë ✓", b'"Zo\\u00eb \\u2713"'),
        ("", b'""'),
        (1, b'"1"'),
        (1.5, b'"1.5"'),
        (True, b'"true"'),
        (None, b'"null"'),
    ],
)
def test_member_names_are_json_strings(key: object, name: bytes) -> None:
    # json's rules for keys: the record reads back as json.loads would read the whole object.
    assert dumps_name(key) == name
    assert json.loads(b"{" + name + b":0}") == {json.loads(name): 0}


def test_unserializable_member_name() -> None:
    with pytest.raises(UnserializableSession):
        dumps_name((1, 2))


def _commit_of(action: Any, records: dict[str, Record] | None = None, **kwargs: Any) -> Any:
    stored = session(header(**kwargs), Fetch(records))
    action(stored)
    commit = stored.respond(200)
    assert commit is not None
    return commit


@pytest.mark.parametrize(
    ("action", "changes"),
    [
        pytest.param(
            lambda s: s.update(theme="dark"), Changes({b'"theme"': b'"dark"'}, ()), id="add-key"
        ),
        pytest.param(
            lambda s: s.__setitem__("user", "bob"),
            Changes({b'"user"': b'"bob"'}, ()),
            id="replace-key",
        ),
        pytest.param(lambda s: s.pop("cart"), Changes({}, (b'"cart"',)), id="delete-key"),
        pytest.param(
            lambda s: s.__setitem__("user", "alice"),
            Changes({b'"user"': b'"alice"'}, ()),
            id="same-value-still-written",
        ),
        pytest.param(
            lambda s: (s["cart"].append(3), setattr(s, "modified", True)),
            Changes({b'"cart"': b"[1,2,3]"}, ()),
            id="in-place-change-marked-modified",
        ),
        pytest.param(
            lambda s: (s.pop("cart"), s.__setitem__("cart", [1, 2])),
            Changes({b'"cart"': b"[1,2]"}, ()),
            id="deleted-then-set-back",
        ),
        pytest.param(
            lambda s: s.popitem(), Changes({}, (b'"cart"',)), id="popitem-deletes-the-last"
        ),
    ],
)
def test_a_write_commits_only_the_members_it_changed(action: Any, changes: Changes) -> None:
    commit = _commit_of(action)
    assert commit.store == StoreOps(WriteKind.UPDATE, OLD_ID, changes, MAX_AGE)
    assert commit.set_cookie is None  # the same ID: the cookie is left alone


def test_keys_the_app_did_not_set_are_not_written() -> None:
    # The app set theme only: cart, stored with other spacing, is left as it is.
    spaced = b'{"cart": [1, 2], "user": "alice"}'
    commit = _commit_of(lambda s: s.update(theme="dark"), {OLD_ID: spaced})
    assert commit.store.changes == Changes({b'"theme"': b'"dark"'}, ())


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda s: setattr(s, "modified", True), id="modified-true"),
        pytest.param(lambda s: s.mark_modified(), id="mark-modified"),
    ],
)
def test_an_in_place_change_compares_every_key(action: Any) -> None:
    # The app changed something the dict could not see: every key is compared with the record
    # as it was read, and only those that differ are written.
    record = b'{"cart": [1, 2], "user": "alice", "gone": 1}'
    commit = _commit_of(lambda s: (s.pop("gone"), s["cart"].append(3), action(s)), {OLD_ID: record})
    assert commit.store.changes == Changes({b'"cart"': b"[1,2,3]"}, (b'"gone"',))


@pytest.mark.parametrize(
    ("action", "changes"),
    [
        pytest.param(
            lambda s: s.setdefault("theme", "dark"),
            Changes({b'"theme"': b'"dark"'}, ()),
            id="setdefault-absent",
        ),
        pytest.param(lambda s: s.setdefault("user", "bob"), None, id="setdefault-present"),
        pytest.param(lambda s: s.update(), None, id="update-nothing"),
        pytest.param(
            lambda s: s.update([("a", 1)], b=2),
            Changes({b'"a"': b"1", b'"b"': b"2"}, ()),
            id="update-pairs-and-keywords",
        ),
        pytest.param(lambda s: s.__ior__({"a": 1}), Changes({b'"a"': b"1"}, ()), id="in-place-or"),
        pytest.param(lambda s: s.pop("absent", None), None, id="pop-absent"),
        pytest.param(
            lambda s: (s.__setitem__("tmp", 1), s.pop("tmp")),
            Changes({}, (b'"tmp"',)),
            id="set-then-pop-deletes-nothing-there",
        ),
        pytest.param(
            lambda s: (s.__delitem__("cart"), s.__setitem__("cart", [3])),
            Changes({b'"cart"': b"[3]"}, ()),
            id="delete-then-set",
        ),
        pytest.param(
            lambda s: s.__setitem__(1, "one"), Changes({b'"1"': b'"one"'}, ()), id="int-key"
        ),
    ],
)
def test_which_keys_each_change_commits(action: Any, changes: Changes | None) -> None:
    stored = session(header(), Fetch())
    action(stored)
    commit = stored.respond(200)
    assert commit is not None
    if changes is None:
        assert commit.store is None
    else:
        assert commit.store == StoreOps(WriteKind.UPDATE, OLD_ID, changes, MAX_AGE)


# -- decisions -------------------------------------------------------------------------


def _decide(action: str, cookie: bytes | None, records: dict[str, Record]) -> Any:
    stored = session(cookie, Fetch(records))
    {
        "read": lambda: stored.get("user"),
        "write": lambda: stored.update(user="bob"),
        "regenerate": stored.regenerate,
        "write-regenerate": lambda: (stored.update(user="bob"), stored.regenerate()),
        "clear": stored.clear,
        "pop-all": lambda: [stored.pop(key) for key in list(stored)],
        "clear-then-write": lambda: (stored.clear(), stored.update(flash="bye")),
        "regenerate-then-clear": lambda: (stored.regenerate(), stored.clear()),
        "unset-modified": lambda: (stored.update(user="x"), setattr(stored, "modified", False)),
    }[action]()
    return stored.respond(200, b"Accept-Encoding")


BOB = Changes({b'"user"': b'"bob"'}, ())
EVERYTHING = Changes(RECORD, ())


KNOWN: dict[str, Record] = {OLD_ID: RECORD}


@pytest.mark.parametrize(
    ("action", "cookie", "ops", "set_cookie"),
    [
        pytest.param("read", header(), None, None, id="read-fresh"),
        pytest.param("read", None, None, None, id="read-no-cookie"),
        pytest.param(
            "read",
            header(age=MAX_AGE // 2 + 1),
            StoreOps(WriteKind.TOUCH, OLD_ID, NO_CHANGES, MAX_AGE),
            OLD_ID,
            id="read-past-half-age-touches",
        ),
        pytest.param("read", header(age=MAX_AGE // 2 - 1), None, None, id="read-before-half"),
        pytest.param(
            "write",
            header(),
            StoreOps(WriteKind.UPDATE, OLD_ID, BOB, MAX_AGE),
            None,
            id="write-updates-same-id-cookie-unchanged",
        ),
        pytest.param(
            "write",
            header(age=MAX_AGE // 2 + 1),
            StoreOps(WriteKind.UPDATE, OLD_ID, BOB, MAX_AGE),
            OLD_ID,
            id="write-past-half-age-re-signs",
        ),
        pytest.param(
            "write",
            None,
            StoreOps(WriteKind.ADD, NEW_ID, BOB, MAX_AGE),
            NEW_ID,
            id="write-new-visitor",
        ),
        pytest.param(
            "regenerate",
            header(),
            StoreOps(WriteKind.MOVE, NEW_ID, NO_CHANGES, MAX_AGE, source=OLD_ID),
            NEW_ID,
            id="regenerate-moves-the-record",
        ),
        pytest.param(
            "write-regenerate",
            header(),
            StoreOps(WriteKind.MOVE, NEW_ID, BOB, MAX_AGE, source=OLD_ID),
            NEW_ID,
            id="login-write-then-regenerate",
        ),
        pytest.param(
            "regenerate",
            None,
            None,
            None,
            id="regenerate-empty-session-saves-nothing",
        ),
        pytest.param(
            "clear",
            header(),
            StoreOps(None, "", NO_CHANGES, MAX_AGE, OLD_ID),
            "delete",
            id="clear-deletes-record",
        ),
        pytest.param(
            "regenerate-then-clear",
            header(),
            StoreOps(None, "", NO_CHANGES, MAX_AGE, OLD_ID),
            "delete",
            id="clear-wins-over-regenerate",
        ),
        pytest.param(
            "pop-all",
            header(),
            StoreOps(WriteKind.UPDATE, OLD_ID, Changes({}, (b'"user"', b'"cart"')), MAX_AGE),
            None,
            id="emptied-deletes-its-members",
        ),
        pytest.param("clear", header(NEW_ID), None, "delete", id="clear-unknown-id"),
        pytest.param(
            "clear-then-write",
            header(),
            StoreOps(WriteKind.ADD, NEW_ID, Changes({b'"flash"': b'"bye"'}, ()), MAX_AGE, OLD_ID),
            NEW_ID,
            id="clear-then-write-revokes-old-id",
        ),
        pytest.param("unset-modified", header(), None, None, id="modified-false"),
    ],
)
def test_decisions(action: str, cookie: bytes | None, ops: Any, set_cookie: Any) -> None:
    commit = _decide(action, cookie, KNOWN)
    assert commit is not None
    assert commit.vary == b"Accept-Encoding, Cookie"
    assert commit.store == ops
    if set_cookie is None:
        assert commit.set_cookie is None
    elif set_cookie == "delete":
        assert commit.set_cookie == DELETE.encode()
    else:
        assert new_id_in(commit) == set_cookie


def test_new_cookie_is_signed_now_with_the_current_key() -> None:
    clock = Clock()
    stored = StoredSession(config(clock), header(key=OLD_SECRET, age=MAX_AGE - 60), Fetch())
    stored["user"] = "bob"
    clock.now = NOW + 10
    commit = stored.respond(200)
    assert commit is not None and commit.set_cookie is not None
    value = commit.set_cookie.decode().split(";")[0].removeprefix("session=")
    assert value == sign(OLD_ID.encode(), now=NOW + 10)


@pytest.mark.parametrize(
    ("max_age", "ttl"), [(600, 600), (None, DEFAULT_MAX_AGE)], ids=["max-age", "browser-session"]
)
def test_records_live_as_long_as_the_signature(max_age: int | None, ttl: int) -> None:
    stored = session(None, max_age=max_age)
    stored["a"] = 1
    commit = stored.respond(200)
    assert commit is not None and commit.store is not None and commit.store.ttl == ttl


def test_5xx_saves_nothing() -> None:
    stored = session(header())
    stored.clear()
    commit = stored.respond(503)
    assert commit is not None and commit.store is None and commit.set_cookie is None
    assert [e.kind for e in commit.events] == [EventKind.DISCARDED]


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda s: s.__setitem__("when", {1j}), id="value"),
        pytest.param(lambda s: s.__setitem__((1, 2), "x"), id="key"),
        pytest.param(lambda s: (s.clear(), s.__setitem__("when", {1j})), id="new-record"),
    ],
)
def test_unserializable_fails_the_request(action: Any) -> None:
    stored = session(header())
    action(stored)
    commit = stored.respond(200)
    assert commit is not None and commit.answer is FAILURE and commit.store is None
    assert [e.kind for e in commit.events] == [EventKind.UNSERIALIZABLE]


def test_large_data_is_fine_in_a_store() -> None:
    stored = session(None)
    stored["blob"] = "x" * 100_000
    commit = stored.respond(200)
    assert commit is not None and commit.answer is None and commit.store is not None


def test_bad_cookie_is_reported_once() -> None:
    stored = session(header()[:-2] + b"xx")
    stored["a"] = 1
    commit = stored.respond(200)
    assert commit is not None and [e.kind for e in commit.events] == [EventKind.BAD_COOKIE]
    assert stored.close() == ()


def test_respond_runs_once() -> None:
    stored = session(header())
    stored["a"] = 1
    assert stored.respond(200) is not None
    assert stored.respond(200) is None


# -- the old ID of a regenerated session --------------------------------------------------------


FORWARDED: dict[str, Record] = {OLD_ID: Moved(NEW_ID)}


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda s: s.update(cart=[9]), id="write"),
        pytest.param(lambda s: s.clear(), id="clear"),
        pytest.param(lambda s: s.regenerate(), id="regenerate"),
    ],
)
def test_the_old_id_reads_empty_and_its_changes_are_dropped(action: Any) -> None:
    # A request that comes with the old cookie after the move (a late one, or whoever planted
    # the old ID) gets nothing, writes nothing, and leaves the new cookie alone.
    stored = session(header(age=MAX_AGE // 2 + 1), Fetch(FORWARDED))
    assert dict(stored) == {}
    action(stored)
    commit = stored.respond(200)
    assert commit is not None
    assert (commit.store, commit.set_cookie, commit.answer) == (None, None, None)
    ((event,),) = [commit.events]
    assert (event.kind, event.level) == (EventKind.DROPPED, 30)
    assert event.message == (
        "Session changes not saved: the session ID was replaced by regenerate() before this "
        "request read it. This response leaves the cookie alone."
    )


def test_the_old_id_only_read_is_not_refreshed() -> None:
    stored = session(header(age=MAX_AGE // 2 + 1), Fetch(FORWARDED))
    assert stored.get("user") is None
    commit = stored.respond(200)
    assert commit is not None and (commit.store, commit.set_cookie, commit.events) == (
        None,
        None,
        (),
    )


# -- settling what the store answered -------------------------------------------------------


def _written(action: str = "write", *, age: int = 0) -> tuple[StoredSession, Any]:
    stored = session(header(age=age))
    if action == "write":
        stored["user"] = "bob"
    elif action == "read":
        stored.get("user")
    elif action == "clear":
        stored.clear()
    else:
        stored.regenerate()
    commit = stored.respond(200)
    assert commit is not None and commit.store is not None
    return stored, commit


OLD = MAX_AGE // 2 + 1  # a cookie old enough to be re-signed


def test_settle_done_keeps_the_decision() -> None:
    stored, commit = _written()
    assert stored.settle(commit, Saved.DONE) is commit


@pytest.mark.parametrize(("action", "age"), [("write", 0), ("read", OLD), ("regenerate", 0)])
def test_record_deleted_meanwhile_stays_deleted(action: str, age: int) -> None:
    # A logout on another server deleted the record after this request fetched it: writing
    # it back (or moving it to a new ID) would undo the logout.
    stored, commit = _written(action, age=age)
    settled = stored.settle(commit, Saved.GONE)
    assert settled.store is None and settled.answer is None
    assert settled.set_cookie == DELETE.encode()
    ((event,),) = [settled.events]
    assert (event.kind, event.level) == (EventKind.GONE, 20)
    assert "logged out elsewhere" in event.message


@pytest.mark.parametrize("age", [0, OLD])
def test_emptied_record_deletes_the_cookie(age: int) -> None:
    stored = session(header(age=age))
    for key in list(stored):
        del stored[key]
    commit = stored.respond(200)
    assert commit is not None
    settled = stored.settle(commit, Saved.EMPTIED)
    assert (settled.set_cookie, settled.events, settled.store) == (DELETE.encode(), (), None)


@pytest.mark.parametrize("age", [0, OLD])
def test_merged_into_the_new_id_leaves_the_cookie_alone(age: int) -> None:
    # Another request regenerated the session while this one ran: the changes went to the new
    # ID, and the response must not replace (nor re-sign, nor delete) the new cookie.
    stored, commit = _written(age=age)
    settled = stored.settle(commit, Saved.MERGED)
    assert (settled.answer, settled.set_cookie, settled.store) == (None, None, None)
    ((event,),) = [settled.events]
    assert (event.kind, event.level) == (EventKind.MERGED, 20)
    assert "saved under the new ID" in event.message


@pytest.mark.parametrize("action", ["write", "clear", "regenerate"])
def test_dropped_changes_are_a_warning_and_leave_the_cookie_alone(action: str) -> None:
    stored, commit = _written(action)
    settled = stored.settle(commit, Saved.DROPPED)
    assert (settled.answer, settled.set_cookie, settled.store) == (None, None, None)
    ((event,),) = [settled.events]
    assert (event.kind, event.level) == (EventKind.DROPPED, 30)
    assert "moved the session to a new ID (regenerate())" in event.message


def test_a_refresh_of_a_moved_id_is_silent() -> None:
    stored, commit = _written("read", age=OLD)
    assert commit.store.write is WriteKind.TOUCH
    settled = stored.settle(commit, Saved.DROPPED)
    assert (settled.set_cookie, settled.events) == (None, ())


def test_taken_new_id_is_a_store_failure() -> None:
    stored, commit = _written("regenerate")
    settled = stored.settle(commit, Saved.TAKEN)
    assert settled.answer is UNAVAILABLE and settled.answer.status == 503


def test_store_error_on_write_answers_503() -> None:
    stored, commit = _written()
    settled = stored.settle(commit, StoreError("Redis at x: ConnectionError: refused"))
    assert settled.answer is not None and settled.set_cookie is None
    assert (settled.answer.status, settled.answer.body) == (503, b"Service Unavailable")
    ((event,),) = [settled.events]
    assert (event.kind, event.level) == (EventKind.STORE_FAILED, 40)
    assert event.message.startswith("Session store failed (Redis at x: ConnectionError")
    assert list(settled.answer.headers) == [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"19"),
    ]
    assert stored.close() == ()


# -- a failed fetch is never an empty session ---------------------------------------------------


def test_failed_fetch_raises_on_every_touch_and_answers_503() -> None:
    fetch = Fetch()
    fetch.error = StoreError("Redis at x: ConnectionError: refused")
    stored = session(header(), fetch)
    with pytest.raises(StoreError, match="refused"):
        stored.get("user")
    # The app caught it and tries again, or writes: still no empty session to overwrite with.
    with pytest.raises(StoreError, match="refused"):
        stored["user"] = "mallory"
    with pytest.raises(StoreError):
        len(stored)
    assert fetch.calls == [OLD_ID]
    assert stored.failure is fetch.error
    assert stored.touched and not stored.accessed  # respond has a 503 to decide
    commit = stored.respond(200)
    assert commit is not None
    assert (commit.answer, commit.store) == (UNAVAILABLE, None)
    assert [e.kind for e in commit.events] == [EventKind.STORE_FAILED]
    assert stored.close() == ()


def test_failed_preload_raises_on_touch() -> None:
    stored = StoredSession(config(), header())
    stored.fail(StoreError("down"))
    with pytest.raises(StoreError, match="down"):
        dict(stored)


def test_failed_preload_untouched_is_not_missed() -> None:
    # The app never needed the session (a static file, a health check): served as usual.
    stored = StoredSession(config(), header())
    stored.fail(StoreError("down"))
    assert stored.failure is None
    assert stored.respond(200) is None
    assert stored.close() == ()


def test_failed_preload_touched_answers_503() -> None:
    stored = StoredSession(config(), header())
    stored.fail(StoreError("down"))
    with pytest.raises(StoreError):
        stored.get("user")
    commit = stored.respond(200)
    assert commit is not None and commit.answer is UNAVAILABLE


def test_store_failed_tells_the_store_error_of_a_failed_touch_from_a_crash() -> None:
    fetch = Fetch()
    fetch.error = StoreError("down")
    stored = session(header(), fetch)
    # Before the app ran into the failure, a StoreError of its own is a crash (a 500).
    assert not stored.store_failed(StoreError("the app's own"))
    with pytest.raises(StoreError) as raised:
        stored.get("user")
    assert stored.store_failed(raised.value)
    assert not stored.store_failed(ValueError("a crash"))
    assert not stored.store_failed(None)


def test_a_cookie_session_has_no_store_to_fail_or_settle() -> None:
    cookie_session = Session(make_config(), None)
    assert not cookie_session.store_failed(StoreError("down"))
    cookie_session["user"] = "alice"
    commit = cookie_session.respond(200)
    assert commit is not None and commit.store is None
    assert cookie_session.settle(commit, Saved.DONE) is commit


def test_failure_after_the_headers_is_reported_at_close() -> None:
    fetch = Fetch()
    fetch.error = StoreError("down")
    stored = session(header(), fetch)
    assert stored.respond(200) is None  # untouched when the headers left
    with pytest.raises(StoreError):
        stored.get("user")
    (event,) = stored.close()
    assert (event.kind, event.level) == (EventKind.STORE_FAILED, 40)
    assert "after the response started" in event.message
    assert stored.close() == ()


# -- websockets ---------------------------------------------------------------------------------


def test_read_only_session_reads_and_reports_changes_as_lost() -> None:
    stored = StoredSession.read_only(config(), header())
    assert isinstance(stored, StoredSession)
    stored.preload(RECORD)
    assert stored["user"] == "alice"
    stored["user"] = "bob"
    assert stored.respond(200) is None
    assert [e.kind for e in stored.close()] == [EventKind.LOST]


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"store": object()}, "which has no get, add, update", id="not-a-store"),
        pytest.param({"store": FakeStore()}, "new_id must be a function", id="no-new-id"),
    ],
)
def test_bad_store_configuration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        SessionConfig(**OPTIONS, clock=Clock(), **options)

"""Cookie sessions without any protocol: the codec, the lazy session, the response decision."""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import dataclass
from typing import Any

import itsdangerous
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Secret

from middleware.core.headers import Headers, get_list
from middleware.core.session_codec import (
    BadCookie,
    Decoded,
    SessionCodec,
    UnserializableSession,
    dumps,
    loads,
)
from middleware.core.sessions import (
    FAILURE,
    MAX_COOKIE_SIZE,
    EventKind,
    Session,
    SessionCommit,
    SessionConfig,
    SessionEvent,
)
from tests.cases.sessions import (
    ACTIONS,
    ATTRIBUTES,
    BAD_COOKIES,
    CASES,
    DELETE,
    GOOD_COOKIES,
    MAX_AGE,
    OLD_SECRET,
    OPTIONS,
    SECRET,
    USER,
    BadCookieCase,
    Case,
    GoodCookieCase,
    cookie,
    issued_at,
    params,
    sign,
    unsign,
)

NOW = 1_800_000_000
APP_HEADERS: Headers = [(b"content-type", b"text/plain; charset=utf-8")]


class Clock:
    """A fake ``time.time`` that counts its calls (the laziness tests need that)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


def make_config(clock: Clock | None = None, **options: Any) -> SessionConfig:
    return SessionConfig(**{**OPTIONS, **options}, clock=clock or Clock())


def open_session(header: str | None, clock: Clock | None = None, **options: Any) -> Session:
    config = make_config(clock, **options)
    return Session(config, header.encode("latin-1") if header is not None else None)


@dataclass
class Answer:
    """A response after the session's decision: what ``respond`` and ``apply`` give."""

    status: int
    headers: Headers
    body: bytes | None
    events: tuple[SessionEvent, ...]


def finish(session: Session, status: int, headers: Headers) -> Answer | None:
    """What an adapter does when the response's headers leave."""
    commit = session.respond(status, get_list(headers, b"vary"))
    if commit is None:
        return None
    if commit.answer is not None:
        answer = commit.answer
        return Answer(answer.status, list(answer.headers), answer.body, commit.events)
    return Answer(status, commit.apply(headers), None, commit.events)


def set_cookies(commit: Answer | None) -> list[str]:
    if commit is None:
        return []
    return [value.decode("latin-1") for name, value in commit.headers if name == b"set-cookie"]


def token_of(set_cookie: str) -> str:
    name, _, rest = set_cookie.partition("=")
    assert name == "session"
    token, _, attributes = rest.partition(";")
    assert "; " + attributes.lstrip() == ATTRIBUTES
    return token


# -- the case tables ------------------------------------------------------------------------


@pytest.mark.parametrize("case", params(BAD_COOKIES))
def test_bad_cookie_gives_empty_session(case: BadCookieCase) -> None:
    clock = Clock()
    session = open_session(case.cookie(NOW), clock)
    assert dict(session) == {}
    commit = finish(session, 200, APP_HEADERS)
    assert commit is not None
    assert set_cookies(commit) == []
    (event,) = commit.events
    assert event.kind is EventKind.BAD_COOKIE
    assert event.level == 10  # logging.DEBUG
    assert event.reason is BadCookie[case.reason]
    assert event.message == (
        f"Ignored the 'session' cookie ({event.reason.value}); the session starts empty."
    )
    assert session.close() == ()  # reported once


@pytest.mark.parametrize("case", params(GOOD_COOKIES))
def test_good_cookie_is_read(case: GoodCookieCase) -> None:
    session = open_session(case.cookie(NOW))
    assert dict(session) == case.data
    commit = finish(session, 200, APP_HEADERS)
    assert commit is not None and commit.events == ()
    assert len(set_cookies(commit)) == case.refreshed


@pytest.mark.parametrize("case", params(CASES))
def test_response_decision(case: Case) -> None:
    clock = Clock()
    session = open_session(case.cookie(NOW) if case.cookie else None, clock, **case.options)
    ACTIONS[case.action](session)
    headers = list(APP_HEADERS)
    if case.app_vary is not None:
        headers.append((b"vary", case.app_vary.encode("latin-1")))
    before = list(headers)
    commit = finish(session, case.status, headers)
    assert headers == before  # never mutated
    kinds = [event.kind.name for event in commit.events] if commit else []
    assert kinds == list(case.events)
    if case.action == "nothing":
        assert commit is None
        assert clock.calls == 0
        return
    assert commit is not None
    if case.answered is not None:
        assert (commit.status, commit.headers, commit.body) == (
            case.answered,
            list(FAILURE.headers),
            FAILURE.body,
        )
        return
    assert commit.status == case.status and commit.body is None
    vary = [value for name, value in commit.headers if name == b"vary"]
    assert vary == ([case.vary.encode("latin-1")] if case.vary else [])
    cookies = set_cookies(commit)
    if case.set_cookie == "none":
        assert cookies == []
    elif case.set_cookie == "delete":
        assert cookies == [DELETE]
    else:
        (value,) = cookies
        token = token_of(value)
        assert unsign(token, now=NOW) == case.data
        assert issued_at(token) == NOW
    # The rest of the app's headers are kept, in order.
    assert commit.headers[: len(APP_HEADERS)] == APP_HEADERS


# -- the codec -----------------------------------------------------------------------------


def test_token_is_itsdangerous_timestamp_signer_format() -> None:
    codec = SessionCodec(SECRET)
    token = codec.encode(USER, now=NOW).decode("ascii")
    # What Starlette's SessionMiddleware does with a cookie.
    assert unsign(token, now=NOW) == USER
    assert issued_at(token) == NOW
    expected = sign(dumps(USER), now=NOW)
    assert token == expected


def test_token_reads_starlette_cookie() -> None:
    codec = SessionCodec(SECRET)
    token = cookie()(NOW).split("; ")[1].removeprefix("session=")
    decoded = codec.decode(token.encode("ascii"), now=NOW, max_age=MAX_AGE)
    assert isinstance(decoded, Decoded)
    assert decoded.data == USER and decoded.issued_at == NOW
    assert decoded.payload == token.rsplit(".", 2)[0].encode("ascii")


def test_codec_payload_is_compact_ascii_json() -> None:
    import base64

    raw = base64.b64decode(dumps({"a": [1, 2], "b": "\u00e9"}))
    assert raw == b'{"a":[1,2],"b":"\\u00e9"}'
    assert loads(dumps({"a": 1})) == {"a": 1}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"when": {1}}, id="set"),
        pytest.param({(1, 2): "tuple key"}, id="tuple-key"),
        pytest.param({"obj": object()}, id="object"),
    ],
)
def test_dumps_rejects_non_json(data: dict[str, Any]) -> None:
    with pytest.raises(UnserializableSession, match="TypeError"):
        dumps(data)


def test_dumps_rejects_cycles() -> None:
    data: dict[str, Any] = {}
    data["self"] = data
    with pytest.raises(UnserializableSession, match="RecursionError"):
        dumps(data)


def test_fallback_keys_verify_but_never_sign() -> None:
    codec = SessionCodec(SECRET, [OLD_SECRET, "older"])
    for key in (SECRET, OLD_SECRET, "older"):
        token = sign(dumps(USER), now=NOW, key=key).encode("ascii")
        assert codec.decode(token, now=NOW, max_age=60) != BadCookie.BAD_SIGNATURE
    token = codec.encode(USER, now=NOW).decode("ascii")
    assert unsign(token, now=NOW) == USER
    with pytest.raises(itsdangerous.BadSignature):
        unsign(token, now=NOW, key=OLD_SECRET)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(SECRET, id="str"),
        pytest.param(SECRET.encode(), id="bytes"),
        pytest.param(Secret(SECRET), id="starlette-secret"),
    ],
)
def test_secret_key_types(key: object) -> None:
    token = SessionCodec(key).encode(USER, now=NOW).decode("ascii")
    assert unsign(token, now=NOW) == USER


def test_expiry_boundaries() -> None:
    codec = SessionCodec(SECRET)
    token = codec.encode(USER, now=NOW)
    assert isinstance(codec.decode(token, now=NOW + 100, max_age=100), Decoded)
    assert codec.decode(token, now=NOW + 101, max_age=100) is BadCookie.EXPIRED
    assert isinstance(codec.decode(token, now=NOW - 60, max_age=100), Decoded)
    assert codec.decode(token, now=NOW - 61, max_age=100) is BadCookie.FUTURE


def test_codec_repr_hides_keys() -> None:
    assert SECRET not in repr(SessionCodec(SECRET, [OLD_SECRET]))
    assert OLD_SECRET not in repr(SessionCodec(SECRET, [OLD_SECRET]))


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"secret_key": ""}, ValueError, "secret_key must not be empty", id="empty"),
        pytest.param({"secret_key": None}, TypeError, "secret_key must be a str", id="none"),
        pytest.param(
            {"secret_key": ["old", "new"]},
            TypeError,
            "to rotate keys, pass the new key as secret_key",
            id="key-list",
        ),
        pytest.param(
            {"fallback_secret_keys": "old"},
            TypeError,
            "fallback_secret_keys must be a list or tuple of keys, got 'old'",
            id="fallback-str",
        ),
        pytest.param(
            {"fallback_secret_keys": [""]},
            ValueError,
            r"fallback_secret_keys\[\] must not be empty",
            id="fallback-empty",
        ),
        pytest.param(
            {"session_cookie": "my session"},
            ValueError,
            "session_cookie must be a cookie name .* got 'my session'",
            id="cookie-name",
        ),
        pytest.param({"max_age": 0}, ValueError, "max_age must be a positive", id="max-age-0"),
        pytest.param({"max_age": -1}, ValueError, "got -1", id="max-age-negative"),
        pytest.param({"max_age": 1.5}, ValueError, "got 1.5", id="max-age-float"),
        pytest.param({"max_age": True}, ValueError, "got True", id="max-age-bool"),
        pytest.param({"path": "admin"}, ValueError, "path must start with '/'", id="path-slash"),
        pytest.param({"path": "/a;b"}, ValueError, "without ';', got '/a;b'", id="path-semicolon"),
        pytest.param({"path": ""}, TypeError, "path must be a non-empty string", id="path-empty"),
        pytest.param({"domain": "a b.com"}, ValueError, "domain may only", id="domain-space"),
        pytest.param({"domain": 1}, TypeError, "domain must be a non-empty", id="domain-int"),
        pytest.param({"same_site": "loose"}, ValueError, "same_site must be", id="same-site"),
        pytest.param({"same_site": None}, ValueError, "same_site must be", id="same-site-none"),
        pytest.param(
            {"same_site": "none"}, ValueError, "needs https_only=True", id="same-site-none-http"
        ),
        pytest.param(
            {"partitioned": True}, ValueError, "needs https_only=True", id="partitioned-http"
        ),
        pytest.param({"https_only": "yes"}, TypeError, "https_only must be True", id="https"),
        pytest.param({"partitioned": 1}, TypeError, "partitioned must be True", id="partitioned"),
        pytest.param({"store": object()}, TypeError, "store must be a session store", id="store"),
        pytest.param({"clock": 5}, TypeError, "clock must be a function", id="clock"),
    ],
)
def test_bad_configuration_raises(options: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SessionConfig(**{**OPTIONS, "clock": Clock(), **options})


@pytest.mark.parametrize(
    ("options", "attributes", "deletion"),
    [
        pytest.param({}, ATTRIBUTES, "; path=/; EXPIRES; httponly; samesite=lax", id="defaults"),
        pytest.param(
            {"https_only": True},
            "; path=/; Max-Age=1209600; httponly; samesite=lax; secure",
            "; path=/; EXPIRES; httponly; samesite=lax; secure",
            id="secure",
        ),
        pytest.param(
            {"same_site": "Strict", "path": "/app", "domain": "example.com", "max_age": 60},
            "; path=/app; Max-Age=60; httponly; samesite=Strict; domain=example.com",
            "; path=/app; EXPIRES; httponly; samesite=Strict; domain=example.com",
            id="strict-path-domain",
        ),
        pytest.param(
            {"same_site": "none", "https_only": True, "partitioned": True},
            "; path=/; Max-Age=1209600; httponly; samesite=none; secure; partitioned",
            "; path=/; EXPIRES; httponly; samesite=none; secure; partitioned",
            id="cross-site-partitioned",
        ),
        pytest.param(
            {"max_age": None},
            "; path=/; httponly; samesite=lax",
            "; path=/; EXPIRES; httponly; samesite=lax",
            id="browser-session",
        ),
    ],
)
def test_cookie_attributes(options: dict[str, Any], attributes: str, deletion: str) -> None:
    # Spelled and ordered as Starlette's SessionMiddleware writes them (same_site as given).
    session = open_session(None, session_cookie="sid", **options)
    session["a"] = 1
    (value,) = set_cookies(finish(session, 200, []))
    name, _, rest = value.partition("=")
    token, _, tail = rest.partition(";")
    assert (name, ";" + tail) == ("sid", attributes)
    assert unsign(token, now=NOW) == {"a": 1}
    # The deletion carries the same path, domain and flags.
    session = open_session(f"sid={token}", session_cookie="sid", **options)
    session.clear()
    (deleted,) = set_cookies(finish(session, 200, []))
    expires = "expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert deleted == "sid=null" + deletion.replace("EXPIRES", expires)


def test_browser_session_still_expires_and_refreshes() -> None:
    clock = Clock()
    stale = cookie(age=MAX_AGE + 1)(NOW)
    assert dict(open_session(stale, clock, max_age=None)) == {}
    session = open_session(cookie(age=MAX_AGE // 2 + 1)(NOW), clock, max_age=None)
    assert session["user"] == "alice"
    (value,) = set_cookies(finish(session, 200, []))
    assert "Max-Age" not in value


def test_config_repr_hides_secrets() -> None:
    config = make_config()
    assert SECRET not in repr(config) and OLD_SECRET not in repr(config)
    assert config.fallback_secret_keys == (OLD_SECRET,)


# -- laziness ------------------------------------------------------------------------------


class ExplodingHeaders(list[tuple[bytes, bytes]]):
    """A header list that fails the test if anything looks inside it."""

    def __iter__(self) -> Any:
        raise AssertionError("the headers were read")


def test_untouched_session_reads_nothing() -> None:
    clock = Clock()
    session = Session(make_config(clock), ExplodingHeaders())
    assert session.accessed is False and session.modified is False
    assert finish(session, 200, APP_HEADERS) is None
    assert session.close() == ()
    assert clock.calls == 0


def test_asgi_header_list_is_searched_on_first_touch() -> None:
    # RFC 9113 §8.2.3: an HTTP/2 request may carry the cookies in several fields.
    token = cookie()(NOW).split("; ")[1]
    headers: Headers = [(b"cookie", b"a=1"), (b"host", b"x"), (b"cookie", token.encode())]
    session = Session(make_config(), headers)
    assert session["user"] == "alice"
    split: Headers = [(b"cookie", token.encode()), (b"cookie", token.encode())]
    assert dict(Session(make_config(), split)) == {}


def test_decoded_once() -> None:
    clock = Clock()
    session = open_session(cookie()(NOW), clock)
    session.get("user")
    session.get("cart")
    len(session)
    assert clock.calls == 1


READS = {
    "getitem": lambda s: s["user"],
    "get": lambda s: s.get("user"),
    "contains": lambda s: "user" in s,
    "len": len,
    "bool": bool,
    "iter": list,
    "reversed": lambda s: list(reversed(s)),
    "keys": lambda s: list(s.keys()),
    "values": lambda s: list(s.values()),
    "items": lambda s: list(s.items()),
    "copy": lambda s: s.copy(),
    "eq": lambda s: s == USER,
    "ne": lambda s: s != USER,
    "or": lambda s: s | {"x": 1},
    "ror": lambda s: {"x": 1} | s,
    "dict": dict,
    "unpack": lambda s: {**s},
    "copy.copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda s: pickle.loads(pickle.dumps(s)),
    "mark_accessed": lambda s: s.mark_accessed(),
}


@pytest.mark.parametrize("read", [pytest.param(fn, id=name) for name, fn in READS.items()])
def test_every_read_decodes_and_marks_accessed(read: Any) -> None:
    session = open_session(cookie()(NOW))
    read(session)
    assert session.accessed is True and session.modified is False
    # The dict's own storage now holds the data, so C-level readers see it too.
    assert json.dumps(session, sort_keys=True) == json.dumps(USER, sort_keys=True)
    assert dict.__len__(session) == 2
    commit = finish(session, 200, [])
    assert commit is not None and set_cookies(commit) == []


def test_repr_does_not_decode() -> None:
    session = open_session(cookie()(NOW))
    assert repr(session) == "<Session, not decoded yet>"
    assert repr({"session": session}) == "{'session': <Session, not decoded yet>}"
    assert session.accessed is False


def test_read_results() -> None:
    session = open_session(cookie()(NOW))
    assert session == USER and not (session != USER)
    assert repr(session) == "Session({'user': 'alice', 'cart': [1, 2]})"
    assert type(session.copy()) is dict and type(copy.copy(session)) is dict
    assert session | {"x": 1} == {**USER, "x": 1}
    assert {"user": "bob", "x": 1} | session == {"x": 1, **USER}
    assert list(reversed(session)) == ["cart", "user"]
    assert session.__ror__([("a", 1)]) is NotImplemented


WRITES = {  # name: (operation, the keys left)
    "setitem": (lambda s: s.__setitem__("x", 1), ["user", "cart", "x"]),
    "delitem": (lambda s: s.__delitem__("user"), ["cart"]),
    "clear": (lambda s: s.clear(), []),
    "pop": (lambda s: s.pop("user"), ["cart"]),
    "popitem": (lambda s: s.popitem(), ["user"]),
    "setdefault-absent": (lambda s: s.setdefault("x", 1), ["user", "cart", "x"]),
    "update": (lambda s: s.update(x=1), ["user", "cart", "x"]),
    "update-mapping": (lambda s: s.update({"x": 1}), ["user", "cart", "x"]),
    "ior": (lambda s: s.__ior__({"x": 1}), ["user", "cart", "x"]),
    "modified-true": (lambda s: setattr(s, "modified", True), ["user", "cart"]),
    "mark_modified": (lambda s: s.mark_modified(), ["user", "cart"]),
    "regenerate": (lambda s: s.regenerate(), ["user", "cart"]),
}


@pytest.mark.parametrize(
    ("write", "keys"), [pytest.param(*spec, id=name) for name, spec in WRITES.items()]
)
def test_every_write_loads_first_and_marks_modified(write: Any, keys: list[str]) -> None:
    session = open_session(cookie()(NOW))
    write(session)
    assert session.accessed is True and session.modified is True
    # The write applied to the cookie's data (it did not start from an empty session).
    assert list(session) == keys


NON_WRITES = {
    "pop-missing-default": lambda s: s.pop("missing", None),
    "setdefault-present": lambda s: s.setdefault("user", "bob"),
    "update-nothing": lambda s: s.update(),
}


@pytest.mark.parametrize("op", [pytest.param(fn, id=name) for name, fn in NON_WRITES.items()])
def test_operations_that_change_nothing(op: Any) -> None:
    session = open_session(cookie()(NOW))
    op(session)
    assert session.accessed is True and session.modified is False


@pytest.mark.parametrize(
    ("header", "op"),
    [
        pytest.param(cookie()(NOW), lambda s: s.__delitem__("missing"), id="del-missing"),
        pytest.param(cookie()(NOW), lambda s: s.pop("missing"), id="pop-missing"),
        pytest.param(None, lambda s: s.popitem(), id="popitem-empty"),
    ],
)
def test_failed_writes_raise_key_error_and_change_nothing(header: str | None, op: Any) -> None:
    session = open_session(header)
    with pytest.raises(KeyError):
        op(session)
    assert session.accessed is True and session.modified is False


def test_ior_returns_the_session() -> None:
    session = open_session(None)
    session |= {"a": 1}
    assert type(session) is Session and session.modified and dict(session) == {"a": 1}


def test_modified_false_forgets_changes() -> None:
    session = open_session(cookie()(NOW))
    session["x"] = 1
    session.modified = False
    assert session.modified is False and session.accessed is True


# -- the response decision -----------------------------------------------------------------


def test_refresh_signs_now_without_reencoding() -> None:
    clock = Clock()
    header = cookie(age=MAX_AGE // 2 + 1)(NOW)
    incoming = header.split("; ")[1].removeprefix("session=")
    session = open_session(header, clock)
    assert session["user"] == "alice"
    (value,) = set_cookies(finish(session, 200, []))
    token = token_of(value)
    assert token.split(".")[0] == incoming.split(".")[0]  # the same payload, as it came
    assert issued_at(token) == NOW
    assert unsign(token, now=NOW) == USER


@pytest.mark.parametrize(("age", "refreshed"), [(MAX_AGE // 2, False), (MAX_AGE // 2 + 1, True)])
def test_refresh_boundary(age: int, refreshed: bool) -> None:
    session = open_session(cookie(age=age)(NOW))
    session.get("user")
    assert len(set_cookies(finish(session, 200, []))) == refreshed


def test_oversize_boundary() -> None:
    # The largest session that fits is saved; one byte of JSON more fails the request.
    fits = None
    for size in range(2900, 3100):
        session = open_session(None)
        session["blob"] = "x" * size
        commit = finish(session, 200, [])
        assert commit is not None
        if commit.body is not None:
            break
        fits = size
        (value,) = set_cookies(commit)
        assert len(value) <= MAX_COOKIE_SIZE
    else:
        pytest.fail("no size in the range was too large")
    assert fits is not None and fits == size - 1
    (event,) = commit.events
    assert event.kind is EventKind.OVERSIZE and event.level == 40
    assert event.size is not None and MAX_COOKIE_SIZE < event.size <= MAX_COOKIE_SIZE + 4
    assert f"would be {event.size} bytes, over the 4096-byte limit" in event.message
    assert "store=" in event.message


def test_oversize_failure_replaces_the_response() -> None:
    session = open_session(cookie()(NOW))
    ACTIONS["write-4kb"](session)
    commit = finish(session, 201, [(b"x-app", b"1"), (b"vary", b"Accept")])
    assert commit is not None
    assert commit.status == 500 and commit.body == b"Internal Server Error"
    assert commit.headers == [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"21"),
    ]


def test_unserializable_message_names_the_problem() -> None:
    session = open_session(None)
    session["when"] = {1}
    commit = finish(session, 200, [])
    assert commit is not None and commit.status == 500
    (event,) = commit.events
    assert event.level == 40
    assert event.message.startswith(
        "Session data cannot be saved as JSON (TypeError: Object of type set is not JSON"
    )


def test_discarded_event() -> None:
    session = open_session(None)
    session["a"] = 1
    commit = finish(session, 502, [])
    assert commit is not None and set_cookies(commit) == []
    (event,) = commit.events
    assert (event.kind, event.level) == (EventKind.DISCARDED, 10)
    assert event.message == "Session changes not saved: the response status is 502."


def test_change_after_headers_is_lost_and_reported() -> None:
    session = open_session(cookie()(NOW))
    session.get("user")
    commit = finish(session, 200, [])
    assert commit is not None and set_cookies(commit) == []
    session["user"] = "bob"
    assert finish(session, 200, []) is None  # only one decision per response
    (event,) = session.close()
    assert (event.kind, event.level) == (EventKind.LOST, 30)
    assert event.message == (
        "Session changed after the response headers were sent; the change is lost."
    )
    assert session.close() == ()


@pytest.mark.parametrize("responded", [True, False], ids=["respond-called", "respond-skipped"])
def test_first_touch_after_headers_then_change_is_lost(responded: bool) -> None:
    # Adapters skip respond() for an untouched session; close() still sees the late change.
    session = open_session(cookie()(NOW))
    if responded:
        assert finish(session, 200, []) is None
    session["user"] = "bob"
    assert session.modified is True
    (event,) = session.close()
    assert event.kind is EventKind.LOST
    assert event.message.startswith("Session changed after the response headers were sent")
    assert session.close() == ()


def test_read_after_headers_is_not_an_event() -> None:
    session = open_session(cookie()(NOW))
    assert finish(session, 200, []) is None
    assert session["user"] == "alice"
    assert session.close() == ()


def test_bad_cookie_read_after_headers_reported_at_close() -> None:
    session = open_session("session=garbage")
    assert finish(session, 200, []) is None
    assert session.get("user") is None
    (event,) = session.close()
    assert event.kind is EventKind.BAD_COOKIE and event.reason is BadCookie.MALFORMED


def test_read_only_session_reports_every_change() -> None:
    config = make_config()
    session = Session.read_only(config, cookie()(NOW).encode())
    assert session["user"] == "alice"
    assert session.close() == ()
    session["user"] = "bob"
    assert finish(session, 200, []) is None
    (event,) = session.close()
    assert event.kind is EventKind.LOST
    assert event.message == (
        "Session changed on a connection that cannot set cookies (a websocket); "
        "the change is not saved."
    )


def test_vary_merged_once() -> None:
    session = open_session(None)
    session.get("a")
    headers: Headers = [(b"vary", b"Accept-Encoding"), (b"vary", b"Origin"), (b"x", b"1")]
    commit = finish(session, 200, headers)
    assert commit is not None
    # One Vary, in place of the first (as merge_vary puts it).
    assert commit.headers == [(b"vary", b"Accept-Encoding, Origin, Cookie"), (b"x", b"1")]


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        pytest.param(None, b"Cookie", id="absent"),
        pytest.param(b"Accept-Encoding", b"Accept-Encoding, Cookie", id="merged"),
        pytest.param(b"Origin, COOKIE", None, id="already-there"),
        pytest.param(b"*", None, id="star"),
    ],
)
def test_respond_vary_value(vary: bytes | None, expected: bytes | None) -> None:
    session = open_session(None)
    session.get("a")
    assert session.respond(200, vary) == SessionCommit(expected, None)


def test_apply_replaces_vary_in_place_and_appends_cookie() -> None:
    headers: Headers = [(b"vary", b"A"), (b"x", b"1"), (b"vary", b"B")]
    commit = SessionCommit(b"A, B, Cookie", b"session=x")
    assert commit.apply(headers) == [
        (b"vary", b"A, B, Cookie"),
        (b"x", b"1"),
        (b"set-cookie", b"session=x"),
    ]
    assert headers == [(b"vary", b"A"), (b"x", b"1"), (b"vary", b"B")]
    unchanged = SessionCommit(None, None)
    assert unchanged.apply(headers) == headers and unchanged.apply(headers) is not headers


def test_touched_is_a_read_or_a_change() -> None:
    session = open_session(cookie()(NOW))
    assert not session.touched and session.respond(200) is None
    session = open_session(cookie()(NOW))
    session.get("user")
    assert session.touched


@settings(max_examples=200, deadline=None)
@given(
    header=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.characters(max_codepoint=255), max_size=200).map(
            lambda value: b"session=" + value.encode("latin-1")
        ),
        st.text(alphabet="AZaz09+/=._-;", max_size=200).map(
            lambda value: b"session=" + value.encode()
        ),
    )
)
def test_any_cookie_header_gives_a_session_never_an_error(header: bytes) -> None:
    session = open_session(header.decode("latin-1"))
    assert dict(session) == {}  # nothing a client makes up verifies
    session["x"] = 1
    answer = finish(session, 200, [])
    assert answer is not None and answer.status == 200 and len(set_cookies(answer)) == 1

"""Session case tables: a request's session cookie, what the app does, the expected answer.

Plain data shared by ``tests/core/test_sessions.py`` (run against ``middleware.core.sessions``)
and the parity tests (run through the WSGI and ASGI classes). Every cookie is built here with
itsdangerous itself (the reference for the token format), at a time relative to ``now`` so the
same recipe works under the core tests' fake clock and the adapters' real one.

- ``BAD_COOKIES``: cookies that must give an empty session, no error, and the reason.
- ``GOOD_COOKIES``: cookies that must be read (Starlette's, a rotated key, a quoted value).
- ``CASES``: the response decision (Set-Cookie, deletion, Vary, 5xx, oversize, refresh).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import itsdangerous
import pytest

SECRET = "test-secret-key-0123456789abcdef"
OLD_SECRET = "old-secret-key-fedcba9876543210"
OPTIONS: dict[str, Any] = {"secret_key": SECRET, "fallback_secret_keys": [OLD_SECRET]}
MAX_AGE = 1_209_600
# The Set-Cookie attributes with the default options, and the deletion cookie, spelled and
# ordered as Starlette's SessionMiddleware writes them.
ATTRIBUTES = "; path=/; Max-Age=1209600; httponly; samesite=lax"
DELETE = "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
USER = {"user": "alice", "cart": [1, 2]}


def payload(data: Any) -> bytes:
    """Starlette's payload: standard base64 of ``json.dumps`` with its default separators."""
    return base64.b64encode(json.dumps(data).encode("utf-8"))


class _Signer(itsdangerous.TimestampSigner):
    def __init__(self, key: str, timestamp: int) -> None:
        super().__init__(key)
        self.timestamp = timestamp

    def get_timestamp(self) -> int:
        return self.timestamp


def sign(raw: bytes, *, now: int, age: int = 0, key: str = SECRET) -> str:
    """``raw`` signed by itsdangerous as if ``age`` seconds before ``now``."""
    return _Signer(key, now - age).sign(raw).decode("ascii")


def unsign(token: str, *, now: int, key: str = SECRET, max_age: int = MAX_AGE) -> Any:
    """The data in a token, read the way Starlette's SessionMiddleware reads it."""
    raw = _Signer(key, now).unsign(token, max_age=max_age)
    return json.loads(base64.b64decode(raw))


def issued_at(token: str) -> int:
    stamp = token.rsplit(".", 2)[1]
    return int.from_bytes(base64.urlsafe_b64decode(stamp + "=" * (-len(stamp) % 4)), "big")


# A cookie recipe: now -> the Cookie header's value.
Recipe = Callable[[int], str]


def cookie(data: Any = USER, *, age: int = 0, key: str = SECRET, name: str = "session") -> Recipe:
    """A valid session cookie (``data`` as JSON) among two unrelated ones."""
    return lambda now: f"theme=dark; {name}={sign(payload(data), now=now, age=age, key=key)}; x=1"


def raw_cookie(make: Callable[[int], str]) -> Recipe:
    """``session=<whatever make(now) returns>``."""
    return lambda now: f"session={make(now)}"


def _tamper_signature(now: int) -> str:
    token = sign(payload(USER), now=now)
    # Not the last character: its low bits are base64 padding, so changing it can decode to
    # the same signature bytes (the intermittent failure this replaced).
    swapped = "A" if token[-3] != "A" else "B"
    return token[:-3] + swapped + token[-2:]


def _tamper_payload(now: int) -> str:
    token = sign(payload(USER), now=now)
    forged = payload({"user": "admin", "cart": [1, 2]}).decode("ascii")
    return forged + token[token.index(".") :]


def _bad_timestamp(now: int) -> str:
    # A valid signature over a value whose timestamp segment is not base64.
    return itsdangerous.Signer(SECRET).sign(payload(USER) + b".@@").decode("ascii")


def _long_timestamp(now: int) -> str:
    stamp = base64.urlsafe_b64encode(b"\x01" * 9).rstrip(b"=")
    return itsdangerous.Signer(SECRET).sign(payload(USER) + b"." + stamp).decode("ascii")


@dataclass(frozen=True)
class BadCookieCase:
    id: str
    cookie: Recipe
    reason: str  # the BadCookie member's name
    headers: int = 1  # how many Cookie header lines carry it (HTTP/2 splits them)


BAD_COOKIES = [
    BadCookieCase("tampered-signature", raw_cookie(_tamper_signature), "BAD_SIGNATURE"),
    BadCookieCase("tampered-payload", raw_cookie(_tamper_payload), "BAD_SIGNATURE"),
    BadCookieCase("wrong-key", cookie(key="some-other-key"), "BAD_SIGNATURE"),
    BadCookieCase("expired", cookie(age=MAX_AGE + 1), "EXPIRED"),
    BadCookieCase("from-the-future", cookie(age=-3600), "FUTURE"),
    BadCookieCase(
        "truncated-signature",
        raw_cookie(lambda now: sign(payload(USER), now=now)[:-10]),
        "BAD_SIGNATURE",
    ),
    BadCookieCase(
        "truncated-to-payload-and-timestamp",
        raw_cookie(lambda now: sign(payload(USER), now=now).rsplit(".", 1)[0]),
        "MALFORMED",
    ),
    BadCookieCase(
        "truncated-to-payload",
        raw_cookie(lambda now: payload(USER).decode("ascii")),
        "MALFORMED",
    ),
    BadCookieCase("empty-value", raw_cookie(lambda now: ""), "MALFORMED"),
    BadCookieCase("no-separators", raw_cookie(lambda now: "garbage"), "MALFORMED"),
    BadCookieCase("bad-timestamp", raw_cookie(_bad_timestamp), "BAD_TIMESTAMP"),
    BadCookieCase("timestamp-over-8-bytes", raw_cookie(_long_timestamp), "BAD_TIMESTAMP"),
    BadCookieCase(
        "signed-not-base64", raw_cookie(lambda now: sign(b"@@@@", now=now)), "NOT_BASE64"
    ),
    BadCookieCase(
        "signed-base64-wrong-padding",
        raw_cookie(lambda now: sign(b"e30", now=now)),
        "NOT_BASE64",
    ),
    BadCookieCase(
        "signed-not-json",
        raw_cookie(lambda now: sign(base64.b64encode(b"not json"), now=now)),
        "NOT_JSON",
    ),
    BadCookieCase(
        "signed-not-utf8",
        raw_cookie(lambda now: sign(base64.b64encode(b'{"a":"\xff"}'), now=now)),
        "NOT_JSON",
    ),
    BadCookieCase(
        "signed-json-trailing-garbage",
        raw_cookie(lambda now: sign(base64.b64encode(b"{} {}"), now=now)),
        "NOT_JSON",
    ),
    BadCookieCase(
        "signed-json-array", raw_cookie(lambda now: sign(payload([1, 2]), now=now)), "NOT_OBJECT"
    ),
    BadCookieCase(
        "signed-json-string", raw_cookie(lambda now: sign(payload("x"), now=now)), "NOT_OBJECT"
    ),
    BadCookieCase(
        "signed-json-null", raw_cookie(lambda now: sign(payload(None), now=now)), "NOT_OBJECT"
    ),
    BadCookieCase("8kb-garbage", raw_cookie(lambda now: "A" * 8192), "TOO_LONG"),
    BadCookieCase(
        "8kb-validly-signed",
        raw_cookie(lambda now: sign(payload({"blob": "x" * 6000}), now=now)),
        "TOO_LONG",
    ),
    BadCookieCase(
        "non-ascii-bytes",
        raw_cookie(lambda now: sign(payload(USER), now=now)[:-3] + "\xe9\xff"),
        "BAD_SIGNATURE",
    ),
    BadCookieCase(
        "two-valid-session-cookies",
        lambda now: (
            f"session={sign(payload(USER), now=now)}; "
            f"session={sign(payload({'user': 'bob'}), now=now)}"
        ),
        "SEVERAL",
    ),
    BadCookieCase(
        "valid-and-garbage-session-cookies",
        lambda now: f"session={sign(payload(USER), now=now)}; session=garbage",
        "SEVERAL",
    ),
]


@dataclass(frozen=True)
class GoodCookieCase:
    id: str
    cookie: Recipe
    data: dict[str, Any]
    refreshed: bool = False  # read past half of max_age, so re-signed


GOOD_COOKIES = [
    GoodCookieCase("starlette-made", cookie(), USER),
    GoodCookieCase(
        "compact-json",
        raw_cookie(lambda now: sign(base64.b64encode(b'{"a":1}'), now=now)),
        {"a": 1},
    ),
    GoodCookieCase("fallback-key", cookie(key=OLD_SECRET), USER),
    GoodCookieCase("almost-expired", cookie(age=MAX_AGE - 5), USER, refreshed=True),
    GoodCookieCase("slightly-in-the-future", cookie(age=-30), USER),
    GoodCookieCase("quoted-value", lambda now: f'session="{sign(payload(USER), now=now)}"', USER),
    GoodCookieCase(
        "json-with-whitespace",
        lambda now: f"session={sign(base64.b64encode(b' {} '), now=now)}",
        {},
    ),
    GoodCookieCase(
        "unicode-data", cookie({"name": "Zo\u00eb \u2603"}), {"name": "Zo\u00eb \u2603"}
    ),
    GoodCookieCase(
        "similar-cookie-names", lambda now: "xsession=1; session_=2; " + cookie()(now), USER
    ),
]


# What the app does with its session, by name (the parity tests run these inside the app).
Action = Callable[[MutableMapping[str, Any]], object]


def _nested(session: MutableMapping[str, Any]) -> None:
    session["cart"].append(3)
    session.modified = True  # type: ignore[attr-defined]


def _unset_modified(session: MutableMapping[str, Any]) -> None:
    session["user"] = "mallory"
    session.modified = False  # type: ignore[attr-defined]


ACTIONS: dict[str, Action] = {
    "nothing": lambda session: None,
    "read": lambda session: session.get("user"),
    "contains": lambda session: "user" in session,
    "write": lambda session: session.update(user="bob"),
    "write-same": lambda session: session.__setitem__("user", session.get("user")),
    "add": lambda session: session.__setitem__("theme", "dark"),
    "clear": lambda session: session.clear(),
    "pop-all": lambda session: [session.pop(key) for key in list(session)],
    "pop-missing": lambda session: session.pop("missing", None),
    "regenerate": lambda session: session.regenerate(),  # type: ignore[attr-defined]
    "nested-then-modified": _nested,
    "write-then-unset-modified": _unset_modified,
    "write-4kb": lambda session: session.__setitem__("blob", "x" * 4000),
    "write-unserializable": lambda session: session.__setitem__("when", {1j}),
}


@dataclass(frozen=True, kw_only=True)
class Case:
    id: str
    cookie: Recipe | None = None
    action: str = "nothing"
    status: int = 200  # the app's status
    app_vary: str | None = None  # a Vary the app sets
    # Expected:
    answered: int | None = None  # the middleware answers with this status (oversize)
    set_cookie: str = "none"  # "none", "set" or "delete"
    data: dict[str, Any] | None = None  # the data in the new cookie
    vary: str | None = None  # the response's Vary
    events: tuple[str, ...] = ()  # the EventKind names, in order
    options: dict[str, Any] = field(default_factory=dict)


HALF = MAX_AGE // 2

CASES = [
    # Untouched sessions cost nothing and change nothing, whatever the cookie.
    Case(id="no-cookie-untouched"),
    Case(id="valid-cookie-untouched", cookie=cookie()),
    Case(id="garbage-cookie-untouched", cookie=raw_cookie(lambda now: "A" * 8192)),
    Case(id="old-cookie-untouched-not-refreshed", cookie=cookie(age=HALF + 10)),
    # Reads vary on Cookie and set nothing.
    Case(id="no-cookie-read", action="read", vary="Cookie"),
    Case(id="valid-cookie-read", cookie=cookie(), action="read", vary="Cookie"),
    Case(id="valid-cookie-contains", cookie=cookie(), action="contains", vary="Cookie"),
    Case(
        id="read-merges-app-vary",
        cookie=cookie(),
        action="read",
        app_vary="Accept-Encoding",
        vary="Accept-Encoding, Cookie",
    ),
    Case(
        id="read-keeps-app-vary-cookie",
        cookie=cookie(),
        action="read",
        app_vary="cookie",
        vary="cookie",
    ),
    Case(id="read-keeps-vary-star", cookie=cookie(), action="read", app_vary="*", vary="*"),
    Case(
        id="bad-cookie-read",
        cookie=raw_cookie(_tamper_signature),
        action="read",
        vary="Cookie",
        events=("BAD_COOKIE",),
    ),
    # Refresh: a read session older than half of max_age is re-signed, same data.
    Case(
        id="read-before-half-age-not-refreshed",
        cookie=cookie(age=HALF - 5),
        action="read",
        vary="Cookie",
    ),
    Case(
        id="read-past-half-age-refreshed",
        cookie=cookie(age=HALF + 1),
        action="read",
        set_cookie="set",
        data=USER,
        vary="Cookie",
    ),
    Case(
        id="fallback-key-refreshed-with-new-key",
        cookie=cookie(age=HALF + 1, key=OLD_SECRET),
        action="read",
        set_cookie="set",
        data=USER,
        vary="Cookie",
    ),
    Case(
        id="refresh-not-on-5xx",
        cookie=cookie(age=HALF + 1),
        action="read",
        status=500,
        vary="Cookie",
    ),
    # Changes are saved.
    Case(
        id="no-cookie-write",
        action="write",
        set_cookie="set",
        data={"user": "bob"},
        vary="Cookie",
    ),
    Case(
        id="valid-cookie-write",
        cookie=cookie(),
        action="write",
        set_cookie="set",
        data={"user": "bob", "cart": [1, 2]},
        vary="Cookie",
    ),
    Case(
        id="write-same-value-still-saved",
        cookie=cookie(),
        action="write-same",
        set_cookie="set",
        data=USER,
        vary="Cookie",
    ),
    Case(
        id="fallback-key-write-signed-with-new-key",
        cookie=cookie(key=OLD_SECRET),
        action="add",
        set_cookie="set",
        data={**USER, "theme": "dark"},
        vary="Cookie",
    ),
    Case(
        id="bad-cookie-write-starts-empty",
        cookie=raw_cookie(_tamper_payload),
        action="add",
        set_cookie="set",
        data={"theme": "dark"},
        vary="Cookie",
        events=("BAD_COOKIE",),
    ),
    Case(
        id="nested-change-with-modified",
        cookie=cookie(),
        action="nested-then-modified",
        set_cookie="set",
        data={"user": "alice", "cart": [1, 2, 3]},
        vary="Cookie",
    ),
    Case(
        id="modified-false-not-saved",
        cookie=cookie(),
        action="write-then-unset-modified",
        vary="Cookie",
    ),
    Case(
        id="regenerate-resigns",
        cookie=cookie(age=60),
        action="regenerate",
        set_cookie="set",
        data=USER,
        vary="Cookie",
    ),
    Case(id="pop-missing-is-no-change", cookie=cookie(), action="pop-missing", vary="Cookie"),
    # Emptied sessions delete the cookie, when there is one.
    Case(
        id="clear-deletes-cookie",
        cookie=cookie(),
        action="clear",
        set_cookie="delete",
        vary="Cookie",
    ),
    Case(
        id="pop-all-deletes-cookie",
        cookie=cookie(),
        action="pop-all",
        set_cookie="delete",
        vary="Cookie",
    ),
    Case(
        id="clear-deletes-bad-cookie",
        cookie=raw_cookie(lambda now: "garbage"),
        action="clear",
        set_cookie="delete",
        vary="Cookie",
        events=("BAD_COOKIE",),
    ),
    Case(id="clear-without-cookie-sends-nothing", action="clear", vary="Cookie"),
    # A failed response saves nothing.
    Case(
        id="write-on-500-discarded",
        cookie=cookie(),
        action="write",
        status=500,
        vary="Cookie",
        events=("DISCARDED",),
    ),
    Case(
        id="clear-on-503-discarded",
        cookie=cookie(),
        action="clear",
        status=503,
        vary="Cookie",
        events=("DISCARDED",),
    ),
    Case(
        id="write-on-404-saved",
        action="write",
        status=404,
        set_cookie="set",
        data={"user": "bob"},
        vary="Cookie",
    ),
    # Never silently dropped: too large, or not JSON, fails the request.
    Case(
        id="oversize-fails-request",
        cookie=cookie(),
        action="write-4kb",
        answered=500,
        events=("OVERSIZE",),
    ),
    Case(
        id="unserializable-fails-request",
        action="write-unserializable",
        answered=500,
        events=("UNSERIALIZABLE",),
    ),
]


def params(cases: list[Any]) -> list[Any]:
    """``pytest.param`` objects with the cases' ids."""
    return [pytest.param(case, id=case.id) for case in cases]

"""The cookie-session case tables (``tests/cases/sessions.py``), turned into store sessions.

A cookie session carries its data in the cookie; a store session carries a signed ID and keeps
the data in the store. ``store_cookie`` rewrites a case's Cookie header into its store twin:
every ``session=`` token whose payload is a cookie session's data gets a fresh session ID in
its place, the data goes into the store under that ID, and the token keeps its timestamp and
its signature's fate (re-signed with the same key when it was valid, left broken when it was
not). Tokens that are wrong in a way an ID would fix (over 4096 bytes) are left alone, as are
those with no payload to replace.

``STORE_EXPECTED`` lists the cases whose answer differs with a store: a 4 KB session fits in a
store, so it is saved rather than refused; a change to a session whose record exists keeps its
ID, so the cookie is not sent again (until its signature is older than half of ``max_age``):
the data is checked in the store instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

import itsdangerous

from middleware.core.session_codec import MAX_TOKEN_LENGTH, dumps_json, dumps_name
from middleware.core.session_store import Members, Moved, Record
from tests.cases.sessions import MAX_AGE, OLD_SECRET, SECRET, USER

KEYS = (SECRET, OLD_SECRET)


def new_id() -> str:
    return secrets.token_urlsafe(24)


def _signing_key(token: str) -> str | None:
    for key in KEYS:
        if itsdangerous.Signer(key).validate(token):
            return key
    return None


def _data(payload: str) -> bytes | None:
    """The JSON a cookie session's payload carries, if it is a JSON object."""
    try:
        raw = base64.b64decode(payload, validate=True)
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if isinstance(value, dict) else None


def members(record: bytes) -> Members:
    """A JSON object (a cookie session's data) as a store's record, member by member."""
    return {dumps_name(key): dumps_json(value) for key, value in json.loads(record).items()}


def data(record: Record) -> Any:
    """The session data a store's record holds (None when there is no record)."""
    if record is None:
        return None
    assert not isinstance(record, Moved), record
    return json.loads(record)


def store_token(token: str, seed: Any) -> str:
    """``token`` (a cookie session's) as a store session's; ``seed(id, record)`` stores the
    data (a JSON object's bytes)."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") < 2:
        return token
    value, _, signature = token.rpartition(".")
    payload, _, stamp = value.rpartition(".")
    record = _data(payload)
    if record is None:
        return token
    session_id = new_id()
    seed(session_id, record)
    value = f"{session_id}.{stamp}"
    key = _signing_key(token)
    if key is None:
        return f"{value}.{signature}"
    return itsdangerous.Signer(key).sign(value).decode("ascii")


def store_cookie(header: str, seed: Any) -> str:
    """A case's Cookie header with every ``session=`` token rewritten by ``store_token``."""
    parts = []
    for part in header.split("; "):
        name, sep, value = part.partition("=")
        if name == "session" and sep:
            quoted = value.startswith('"') and value.endswith('"') and len(value) > 1
            token = store_token(value[1:-1] if quoted else value, seed)
            value = f'"{token}"' if quoted else token
        parts.append(f"{name}{sep}{value}")
    return "; ".join(parts)


def session_id(token: str, *, max_age: int = MAX_AGE) -> str:
    """The session ID in a store session's token, read the way itsdangerous reads it."""
    return itsdangerous.TimestampSigner(SECRET).unsign(token, max_age=max_age).decode("ascii")


# Cases whose expected answer differs with a store: field -> value, over the cookie case's.
STORE_EXPECTED: dict[str, dict[str, Any]] = {
    "oversize-fails-request": {
        "answered": None,
        "set_cookie": "none",
        "data": {**USER, "blob": "x" * 4000},
        "vary": "Cookie",
        "events": (),
    },
    "valid-cookie-write": {"set_cookie": "none"},
    "write-same-value-still-saved": {"set_cookie": "none"},
    "fallback-key-write-signed-with-new-key": {"set_cookie": "none"},
    "nested-change-with-modified": {"set_cookie": "none"},
}

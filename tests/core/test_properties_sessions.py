"""Properties of the signed session cookie: any JSON session round-trips (through the codec,
through itsdangerous, and through a whole Set-Cookie / Cookie exchange), and any change to a
signed token, however small, is rejected without an exception."""

from __future__ import annotations

import itsdangerous
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from middleware.core.session_codec import (
    CLOCK_SKEW,
    MAX_TOKEN_LENGTH,
    BadCookie,
    Decoded,
    SessionCodec,
)
from middleware.core.session_store import StoredSession, is_session_id
from middleware.core.sessions import Session, SessionConfig
from tests.core.strategies import binary

SECRET = "property-secret"
OLD = "retired-secret"
NOW = 1_700_000_000
CODEC = SessionCodec(SECRET)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
SESSIONS = st.dictionaries(st.text(max_size=8), JSON, max_size=5)
# Where the data's shape does not matter (signatures, keys, cookies), a cheaper strategy.
FLAT = st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=10), max_size=3)


@settings(max_examples=40)
@given(SESSIONS, st.integers(1, 10**10), st.integers(-CLOCK_SKEW, 10**6))
def test_any_json_session_round_trips_within_its_lifetime(
    data: dict[str, object], issued: int, age: int
) -> None:
    token = CODEC.encode(data, now=issued)
    decoded = CODEC.decode(token, now=issued + age, max_age=max(age, 0))
    assert isinstance(decoded, Decoded)
    assert decoded.data == data and decoded.issued_at == issued


@settings(max_examples=50)
@given(FLAT, st.integers(1, 10**6), st.integers(1, 10**6))
def test_a_token_past_its_lifetime_or_from_the_future_is_refused(
    data: dict[str, object], max_age: int, beyond: int
) -> None:
    token = CODEC.encode(data, now=NOW)
    assert CODEC.decode(token, now=NOW + max_age + beyond, max_age=max_age) is BadCookie.EXPIRED
    future = CODEC.decode(token, now=NOW - CLOCK_SKEW - beyond, max_age=max_age)
    assert future is BadCookie.FUTURE


@st.composite
def mutations(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A signed token and a different byte string made from it by one edit."""
    token = CODEC.encode(draw(FLAT), now=NOW)
    spot = draw(st.integers(0, len(token) - 1))
    kind = draw(st.sampled_from(["flip", "replace", "insert", "delete", "cut", "append", "swap"]))
    if kind == "flip":
        changed = (
            token[:spot] + bytes([token[spot] ^ draw(st.integers(1, 255))]) + token[spot + 1 :]
        )
    elif kind == "replace":
        changed = token[:spot] + draw(binary(min_size=1, max_size=3)) + token[spot + 1 :]
    elif kind == "insert":
        changed = token[:spot] + draw(binary(min_size=1, max_size=3)) + token[spot:]
    elif kind == "delete":
        end = draw(st.integers(spot + 1, len(token)))
        changed = token[:spot] + token[end:]
    elif kind == "cut":
        changed = token[:spot]
    elif kind == "append":
        changed = token + draw(binary(min_size=1, max_size=3))
    else:
        # Another valid token's segment in place of this one's: signatures do not transplant.
        other = CODEC.encode({"admin": True}, now=NOW + draw(st.integers(0, 100)))
        segment = draw(st.integers(0, 2))
        parts, others = token.split(b"."), other.split(b".")
        parts[segment] = others[segment]
        changed = b".".join(parts)
    assume(changed != token)
    return token, changed


@settings(max_examples=120)
@given(mutations())
def test_any_change_to_a_signed_token_is_rejected(case: tuple[bytes, bytes]) -> None:
    _, changed = case
    result = CODEC.decode(changed, now=NOW, max_age=3600)
    assert isinstance(result, BadCookie)


@settings(max_examples=200)
@given(binary(max_size=MAX_TOKEN_LENGTH + 64))
def test_decoding_never_raises(token: bytes) -> None:
    result = CODEC.decode(token, now=NOW, max_age=3600)
    assert isinstance(result, BadCookie)
    if len(token) > MAX_TOKEN_LENGTH:
        assert result is BadCookie.TOO_LONG


@settings(max_examples=50)
@given(FLAT)
def test_tokens_are_itsdangerous_timestamp_signer_tokens(data: dict[str, object]) -> None:
    token = CODEC.encode(data, now=NOW)
    payload = itsdangerous.TimestampSigner(SECRET).unsign(token)
    assert payload == token.rsplit(b".", 2)[0]


@settings(max_examples=50)
@given(FLAT.filter(bool))
def test_rotated_keys_verify_old_tokens_and_sign_with_the_new_key(
    data: dict[str, object],
) -> None:
    old_token = SessionCodec(OLD).encode(data, now=NOW)
    rotated = SessionCodec(SECRET, [OLD])
    assert isinstance(rotated.decode(old_token, now=NOW, max_age=60), Decoded)
    assert CODEC.decode(old_token, now=NOW, max_age=60) is BadCookie.BAD_SIGNATURE
    new_token = rotated.encode(data, now=NOW)
    assert isinstance(CODEC.decode(new_token, now=NOW, max_age=60), Decoded)
    assert SessionCodec(OLD).decode(new_token, now=NOW, max_age=60) is BadCookie.BAD_SIGNATURE


CONFIG = SessionConfig(secret_key=SECRET, clock=lambda: NOW)


@settings(max_examples=60)
@given(FLAT.filter(bool), st.sampled_from([b"", b"a=1; ", b"theme=dark;"]))
def test_a_session_survives_the_set_cookie_and_cookie_exchange(
    data: dict[str, object], other_cookies: bytes
) -> None:
    first = Session(CONFIG, None)
    first.update(data)
    commit = first.respond(200)
    assert commit is not None and commit.set_cookie is not None
    pair = commit.set_cookie.split(b"; ")[0]
    second = Session(CONFIG, other_cookies + pair)
    assert dict(second.items()) == data


# --- with a server-side store: the cookie is a signed session ID -------------------------------

ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
IDS = st.text(alphabet=ID_ALPHABET, min_size=32, max_size=32)
# Bytes a cookie value may hold (RFC 6265 cookie-octets): an edit made of these changes the
# token itself, not where the Cookie header's ";" or whitespace end it.
OCTETS = st.lists(
    st.sampled_from([b for b in range(0x21, 0x7F) if b not in b'";,\\']), min_size=1, max_size=2
).map(bytes)


def _stored(cookie: bytes) -> tuple[StoredSession, list[str]]:
    from middleware.stores import MemoryStore, new_session_id

    config = SessionConfig(
        secret_key=SECRET, clock=lambda: NOW, store=MemoryStore(), new_id=new_session_id
    )
    asked: list[str] = []

    def fetch(session_id: str) -> bytes | None:
        asked.append(session_id)
        return b'{"user": "ada"}'

    return StoredSession(config, cookie, fetch=fetch), asked


@settings(max_examples=100)
@given(IDS, st.sampled_from(["flip", "insert", "cut", "append"]), st.data())
def test_only_a_validly_signed_session_id_reaches_the_store(
    session_id: str, edit: str, data: st.DataObject
) -> None:
    token = CODEC.sign(session_id.encode(), now=NOW)
    session, asked = _stored(b"session=" + token)
    assert session.get("user") == "ada" and asked == [session_id]

    spot = data.draw(st.integers(0, len(token) - 1))
    if edit == "flip":
        changed = token[:spot] + bytes([token[spot] ^ data.draw(st.integers(1, 255))])
        changed += token[spot + 1 :]
    elif edit == "insert":
        changed = token[:spot] + data.draw(OCTETS) + token[spot:]
    elif edit == "cut":
        changed = token[:spot]
    else:
        changed = token + data.draw(OCTETS)
    session, asked = _stored(b"session=" + changed)
    assert dict(session.items()) == {} and asked == []


@settings(max_examples=60)
@given(FLAT | binary(max_size=40))
def test_a_signed_payload_that_is_not_a_session_id_never_reaches_the_store(
    payload: dict[str, object] | bytes,
) -> None:
    # A validly signed value that is not an ID (a cookie session's token, after a switch to a
    # store) is not looked up: the session starts empty. (A cookie session whose base64 payload
    # happens to be 32 characters of the ID alphabet has an ID's shape, and is looked up.)
    if isinstance(payload, dict):
        token = CODEC.encode(payload, now=NOW)
    else:
        token = CODEC.sign(payload, now=NOW)
    assume(not is_session_id(token.rsplit(b".", 2)[0]))
    session, asked = _stored(b"session=" + token)
    assert session.get("user") is None and asked == []

"""The signed-cookie codec: JSON payloads under an itsdangerous timestamped signature.

    >>> codec = SessionCodec(secret_key="s3cret", fallback_secret_keys=["old"])
    >>> token = codec.encode({"user": 42}, now=1_700_000_000)
    >>> codec.decode(token, now=1_700_000_060, max_age=3600)
    Decoded(data={'user': 42}, payload=b'eyJ1c2VyIjo0Mn0=', issued_at=1700000000)
    >>> codec.decode(b"e30=" + token[16:], now=1_700_000_060, max_age=3600).name
    'BAD_SIGNATURE'

A token is ``base64(json) "." base64url(timestamp) "." base64url(HMAC-SHA1)``, byte for byte
what ``itsdangerous.TimestampSigner(secret_key).sign(b64encode(json))`` writes, so it is the
cookie Starlette's SessionMiddleware reads and writes: moving between the two keeps everyone
signed in. The payload is JSON (never pickle): a leaked key lets an attacker forge sessions, not
run code.

The keys are derived once, at construction, through itsdangerous itself (its salt and its
"django-concat" derivation), and the HMAC state of each key is kept and copied per token:
signing or verifying costs one HMAC over the token, not a key derivation plus an HMAC set-up.

Options:

- ``secret_key``: signs every new token and verifies old ones.
- ``fallback_secret_keys``: verify only, so a key can be rotated without signing everyone out:
  move the old key here and put the new one in ``secret_key``; drop it after ``max_age``.

``decode`` never raises on a client's token: every way a cookie can be wrong is a ``BadCookie``
member whose value is a sentence an adapter can log. Nothing here reads the clock; callers pass
``now`` (whole seconds since the epoch).
"""

from __future__ import annotations

import binascii
import hmac
import json
import json.encoder
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import itsdangerous

# RFC 6265 §6.1: user agents should provide at least 4096 bytes per cookie, "as measured by the
# sum of the length of the cookie's name, value, and attributes". A token longer than that was
# never written by this codec (the middleware refuses to send one), so it is rejected before
# any HMAC is computed.
MAX_TOKEN_LENGTH = 4096

# Servers behind one load balancer rarely agree on the second; a token stamped slightly in the
# future by a fast clock is still accepted.
CLOCK_SKEW = 60

_SEP = b"."
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"===", b"==", b"=")


class BadCookie(Enum):
    """Why a session cookie was ignored (the session then starts empty)."""

    SEVERAL = "several session cookies in one request, so none is trusted"
    TOO_LONG = "longer than any cookie this middleware signs"
    MALFORMED = "not a signed value (the timestamp or the signature is missing)"
    BAD_SIGNATURE = "the signature does not match (tampered, or signed with an unknown key)"
    BAD_TIMESTAMP = "the timestamp is malformed"
    EXPIRED = "the signature has expired"
    FUTURE = "the timestamp is in the future"
    NOT_BASE64 = "the payload is not base64"
    NOT_JSON = "the payload is not JSON"
    NOT_OBJECT = "the payload is JSON but not an object"
    NOT_AN_ID = "the signed value is not a session ID"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A verified token: its data, its payload segment (re-signed as is on refresh), its age."""

    data: dict[str, Any]
    payload: bytes
    issued_at: int


class UnserializableSession(ValueError):
    """The session holds something JSON cannot carry (an object, a tuple key, a cycle)."""


def _b64url(raw: bytes) -> bytes:
    # itsdangerous.encoding.base64_encode, without its str handling and per-call lookups.
    return binascii.b2a_base64(raw, newline=False).rstrip(b"=").translate(_TO_URLSAFE)


def _compact_encoder() -> Callable[..., Iterable[str]]:
    """json's C encoder for compact ASCII JSON, built once: ``JSONEncoder.encode`` builds one
    on every call, which costs about 0.5 µs, as much as encoding a typical session.

    Cycles are not tracked (``markers=None``); one recurses until RecursionError, reported as
    unserializable.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the accelerator
        return json.JSONEncoder(separators=(",", ":"), check_circular=False).iterencode
    return make(  # type: ignore[no-any-return]
        markers=None,
        default=json.JSONEncoder().default,
        encoder=json.encoder.encode_basestring_ascii,
        indent=None,
        key_separator=":",
        item_separator=",",
        sort_keys=False,
        skipkeys=False,
        allow_nan=True,
    )


_ENCODE = _compact_encoder()
_DECODER = json.JSONDecoder()


def dumps_json(data: Any) -> bytes:
    """``data`` as compact ASCII JSON (a cookie's payload, or one value of a store's record)."""
    try:
        text = "".join(_ENCODE(data, 0))
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnserializableSession(f"{type(exc).__name__}: {exc}") from None
    return text.encode("ascii")


def dumps_name(key: object) -> bytes:
    """``key`` as the JSON string that names it in an object (a store's record member).

    json's rules for keys apply: a string is quoted, 1 becomes ``"1"``, None ``"null"``; any
    other type is unserializable.
    """
    if type(key) is str:
        return dumps_json(key)
    # b'{"<name>":0}' without its first byte and its last three.
    return dumps_json({key: 0})[1:-3]


def dumps(data: dict[str, Any]) -> bytes:
    """The payload segment for ``data``: compact ASCII JSON, then standard base64."""
    return binascii.b2a_base64(dumps_json(data), newline=False)


def loads(payload: bytes) -> dict[str, Any] | BadCookie:
    """The session data in a verified payload segment, or why it is not a session."""
    try:
        raw = binascii.a2b_base64(payload, strict_mode=True)
    except binascii.Error:
        return BadCookie.NOT_BASE64
    return loads_json(raw)


def loads_json(raw: bytes) -> dict[str, Any] | BadCookie:
    """The session data in UTF-8 JSON (a cookie's payload or a store's record), or why not."""
    try:
        text = raw.decode("utf-8")
        try:
            value, end = _DECODER.raw_decode(text)
            if end != len(text):
                raise ValueError
        except ValueError:
            # raw_decode reads one document with nothing around it, as this codec writes it;
            # json.loads also allows surrounding whitespace and gives the definitive answer.
            value = json.loads(text)
    except (ValueError, RecursionError):
        return BadCookie.NOT_JSON
    if type(value) is not dict:
        return BadCookie.NOT_OBJECT
    return value


def _secret_bytes(name: str, key: object) -> bytes:
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, bytes):
        raw = key
    elif type(key).__module__.startswith("starlette."):
        # starlette.datastructures.Secret: Starlette's own SessionMiddleware takes str(key).
        raw = str(key).encode("utf-8")
    elif isinstance(key, (list, tuple)):
        raise TypeError(
            f"{name} must be one key (a str or bytes), got {key!r}; to rotate keys, pass the "
            "new key as secret_key and the old ones as fallback_secret_keys."
        )
    else:
        raise TypeError(f"{name} must be a str or bytes, got {key!r}.")
    if not raw:
        raise ValueError(f"{name} must not be empty, got {key!r}.")
    return raw


def _macs(secret_key: object, fallback_secret_keys: object) -> tuple[Any, ...]:
    if isinstance(fallback_secret_keys, (str, bytes)) or not isinstance(
        fallback_secret_keys, Sequence
    ):
        raise TypeError(
            f"fallback_secret_keys must be a list or tuple of keys, got {fallback_secret_keys!r}."
        )
    keys = [_secret_bytes("secret_key", secret_key)]
    keys += [_secret_bytes("fallback_secret_keys[]", key) for key in fallback_secret_keys]
    macs = []
    for key in keys:
        signer = itsdangerous.TimestampSigner(key)
        macs.append(hmac.new(signer.derive_key(), digestmod=signer.digest_method))
    return tuple(macs)


@dataclass(frozen=True, slots=True)
class SessionCodec:
    """Sign and verify session tokens with keys derived once (see the module docstring)."""

    secret_key: object = field(repr=False)
    fallback_secret_keys: Sequence[object] = field(default=(), repr=False)
    _macs: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_macs", _macs(self.secret_key, self.fallback_secret_keys))

    def sign(self, payload: bytes, *, now: int) -> bytes:
        """``payload`` with its timestamp and signature, signed with ``secret_key``."""
        value = payload + _SEP + _b64url(now.to_bytes((now.bit_length() + 7) // 8, "big"))
        mac = self._macs[0].copy()
        mac.update(value)
        return value + _SEP + _b64url(mac.digest())

    def unsign(self, token: bytes, *, now: int, max_age: int) -> tuple[bytes, int] | BadCookie:
        """The payload segment and timestamp of a valid token, or why it is not valid."""
        if len(token) > MAX_TOKEN_LENGTH:
            return BadCookie.TOO_LONG
        value, sep, signature = token.rpartition(_SEP)
        if not sep or _SEP not in value:
            return BadCookie.MALFORMED
        for mac in self._macs:
            mac = mac.copy()
            mac.update(value)
            if hmac.compare_digest(_b64url(mac.digest()), signature):
                break
        else:
            return BadCookie.BAD_SIGNATURE
        payload, _, stamp = value.rpartition(_SEP)
        try:
            raw = binascii.a2b_base64(
                stamp.translate(_FROM_URLSAFE) + _PADDING[len(stamp) % 4], strict_mode=True
            )
        except binascii.Error:
            return BadCookie.BAD_TIMESTAMP
        if not raw or len(raw) > 8:
            return BadCookie.BAD_TIMESTAMP
        issued_at = int.from_bytes(raw, "big")
        age = now - issued_at
        if age > max_age:
            return BadCookie.EXPIRED
        if age < -CLOCK_SKEW:
            return BadCookie.FUTURE
        return payload, issued_at

    def encode(self, data: dict[str, Any], *, now: int) -> bytes:
        """A signed token for ``data`` (raises UnserializableSession for non-JSON data)."""
        return self.sign(dumps(data), now=now)

    def decode(self, token: bytes, *, now: int, max_age: int) -> Decoded | BadCookie:
        """The data of a valid token, or why it was ignored; never raises."""
        verified = self.unsign(token, now=now, max_age=max_age)
        if isinstance(verified, BadCookie):
            return verified
        payload, issued_at = verified
        data = loads(payload)
        if isinstance(data, BadCookie):
            return data
        return Decoded(data=data, payload=payload, issued_at=issued_at)

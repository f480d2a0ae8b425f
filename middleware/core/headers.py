"""The header toolkit every feature shares.

One header type crosses the core boundary: ``Headers = list[tuple[bytes, bytes]]`` with
lower-case names, in wire order, duplicates kept. That is what ASGI already carries, so the ASGI
adapters pay nothing; the WSGI adapters pay one latin-1 encode/decode at their edge (measured in
docs/layout.md, "What crosses the core boundary").

    >>> headers = [(b"content-type", b"text/html"), (b"vary", b"Cookie")]
    >>> get(headers, b"content-type")
    b'text/html'
    >>> merge_vary(headers, (b"Accept-Encoding",))[-1]
    (b'vary', b'Cookie, Accept-Encoding')

Functions never mutate their input list; the ones that change headers return a new list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain

Headers = list[tuple[bytes, bytes]]

_QVALUE = re.compile(rb"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#                          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TCHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_token(value: bytes) -> bool:
    """Whether ``value`` is an RFC 9110 token (a header or parameter name)."""
    return bool(value) and all(byte in TCHARS for byte in value)


def get(headers: Headers, name: bytes) -> bytes | None:
    """The first value of ``name`` (lower-case), or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def get_all(headers: Headers, name: bytes) -> list[bytes]:
    """Every value of ``name`` (lower-case), in order."""
    return [value for key, value in headers if key == name]


def get_list(headers: Headers, name: bytes) -> bytes | None:
    """The field lines of a list-valued header joined with ``", "``, or None when absent.

    RFC 9110 §5.3: a recipient MAY combine multiple field lines with the same name into one
    field line by appending each value in order, separated by a comma.
    """
    values = [value for key, value in headers if key == name]
    if not values:
        return None
    return values[0] if len(values) == 1 else b", ".join(values)


def has(headers: Headers, name: bytes) -> bool:
    """Whether ``name`` (lower-case) is present."""
    return any(key == name for key, _ in headers)


def without(headers: Headers, *names: bytes) -> Headers:
    """A copy of ``headers`` with every field named in ``names`` removed."""
    return [(key, value) for key, value in headers if key not in names]


def replace(headers: Headers, name: bytes, value: bytes) -> Headers:
    """A copy of ``headers`` where ``name`` appears once, with ``value``, at its first place."""
    out: Headers = []
    placed = False
    for key, old in headers:
        if key == name:
            if not placed:
                out.append((name, value))
                placed = True
        else:
            out.append((key, old))
    if not placed:
        out.append((name, value))
    return out


def split_list(value: bytes) -> list[bytes]:
    """The non-empty members of a comma-separated header value, stripped of whitespace.

    RFC 9110 §5.6.1: a recipient MUST parse and ignore a reasonable number of empty list
    elements.
    """
    return [item for part in value.split(b",") if (item := part.strip(b" \t"))]


def merge_vary(headers: Headers, names: Iterable[bytes]) -> Headers:
    """``headers`` with each of ``names`` listed once in a single ``Vary`` field.

    RFC 9110 §12.5.5: a Vary field value of "*" signals that anything about the request might
    play a role; it is kept as it is. Field names compare case-insensitively, so
    ``Vary: accept-encoding`` already covers ``Accept-Encoding``. Existing Vary fields are
    coalesced into one, in place of the first.
    """
    current = get_all(headers, b"vary")
    members = [member for value in current for member in split_list(value)]
    seen = {member.lower() for member in members}
    if b"*" in seen:
        return headers
    added = False
    for name in names:
        folded = name.lower()
        if folded not in seen:
            seen.add(folded)
            members.append(name)
            added = True
    if not added and len(current) <= 1:
        # Nothing to add and nothing to coalesce: no empty Vary field appears.
        return headers
    return replace(headers, b"vary", b", ".join(members))


def parse_qlist(value: bytes) -> list[tuple[bytes, float]]:
    """Parse a weighted list (Accept-Encoding and friends) into ``(token, q)`` pairs.

    RFC 9110 §12.4.2: ``weight = OWS ";" OWS "q=" qvalue`` with
    ``qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )``. Tokens are lower-cased;
    members that are not tokens, or whose weight is not a valid qvalue, are dropped (a client's
    junk is ignored, not guessed at). Other parameters are ignored.
    """
    out: list[tuple[bytes, float]] = []
    for member in split_list(value):
        token, _, params = member.partition(b";")
        token = token.strip(b" \t").lower()
        if not is_token(token):
            continue
        q = 1.0
        valid = True
        for param in params.split(b";") if params else ():
            key, eq, raw = param.partition(b"=")
            if key.strip(b" \t").lower() != b"q":
                continue
            parsed = _qvalue(raw.strip(b" \t")) if eq else None
            if parsed is None:
                valid = False
                break
            q = parsed
        if valid:
            out.append((token, q))
    return out


def _qvalue(raw: bytes) -> float | None:
    return float(raw) if _QVALUE.fullmatch(raw) else None


def latin1(value: str) -> bytes:
    """Encode a native string for the wire, as PEP 3333 requires of header values."""
    return value.encode("latin-1")


# RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous
# [...] a recipient of CR, LF, or NUL within a field value MUST either reject the message or
# replace each of those characters with SP." Servers refuse such a response head (uvicorn
# closes the connection, hypercorn sends a bare 500), so the middleware must not report it as
# sent: the adapters answer it as an app crash.
def forbidden_field(headers: Headers) -> tuple[bytes, bytes] | None:
    """The first field whose name or value holds CR, LF or NUL, or None."""
    # One join for the whole head and three byte look-ups (memchr): about 0.25 µs for a small
    # head, checked once per response; almost every head is clean.
    joined = b"".join(chain.from_iterable(headers))
    if 13 not in joined and 10 not in joined and 0 not in joined:
        return None
    for name, value in headers:
        field = name + value
        if 13 in field or 10 in field or 0 in field:
            return name, value
    return None  # pragma: no cover - the join found one, so the loop does


def forbidden_native_field(headers: list[tuple[str, str]]) -> tuple[str, str] | None:
    """``forbidden_field`` for WSGI's native-string headers (no conversion to bytes)."""
    joined = "".join(chain.from_iterable(headers))
    if "\r" not in joined and "\n" not in joined and "\x00" not in joined:
        return None
    for name, value in headers:
        field = name + value
        if "\r" in field or "\n" in field or "\x00" in field:
            return name, value
    return None  # pragma: no cover - the join found one, so the loop does


def refused_head(name: str | bytes, value: str | bytes) -> str:
    """The message of the ValueError that answers a head with a forbidden field as a crash."""
    return (
        f"The app's response header {name[:100]!r} (value {value[:100]!r}) holds CR, LF or "
        "NUL, which a server must refuse; the response is answered as a crash (500)."
    )

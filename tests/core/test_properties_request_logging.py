"""Properties of request logging: request IDs, access-line escaping, JSON lines, client address.

For any value a client controls, a combined line stays one line of printable ASCII that splits
back into exactly its fields (so nothing can be forged into it), a JSON line parses back to the
record, the client's request ID is kept only when it is safe, and forwarded headers can never
name a client left of the first address that is not a trusted proxy.
"""

from __future__ import annotations

import json
import re
import uuid
from ipaddress import ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.forwarded import TrustedProxies, client_address, parse_node
from middleware.core.outcome import Outcome
from middleware.core.request_logging import (
    FIELDS,
    WEBSOCKET,
    AccessRecord,
    RequestLoggingPolicy,
    accept_request_id,
    escape,
    format_combined,
    format_json,
    new_request_id,
)
from tests.core.strategies import binary

# Any text a header, path or query could decode to, and more: every plane, lone surrogates.
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=()), max_size=30) | st.sampled_from(
    ['"', "\\", '" 200 1 "-" "x', "\n127.0.0.1 - - ", "\x1b[31m", "\u2028", "\ud800"]
)


def unescape(text: str) -> str:
    """The inverse of ``escape``: Apache's backslash escapes and Python's \\u/\\U forms."""
    out: list[str] = []
    names = {"b": "\b", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        kind = text[i + 1]
        if kind in names:
            out.append(names[kind])
            i += 2
        else:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
    return "".join(out)


@settings(max_examples=150)
@given(ANY_TEXT)
def test_escaping_is_printable_ascii_and_loses_nothing(value: str) -> None:
    escaped = escape(value)
    assert escaped.isascii() and escaped.isprintable()
    # Every quote is escaped, so a value can never close its field.
    assert re.search(r'(?<!\\)(\\\\)*"', escaped) is None
    assert unescape(escaped) == value


_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_COMBINED = re.compile(rf"(\S+) - - \[[^\]]+\] {_QUOTED} ([0-9]+) ([0-9]+|-) {_QUOTED} {_QUOTED}")
CLIENTS = st.sampled_from([None, "203.0.113.9", "2001:db8::1"])


@st.composite
def records(draw: st.DrawFn) -> AccessRecord:
    return AccessRecord(
        client=draw(CLIENTS),
        method=draw(ANY_TEXT),
        path=draw(ANY_TEXT),
        query=draw(ANY_TEXT),
        protocol=draw(st.sampled_from(["HTTP/1.1", "HTTP/2", WEBSOCKET]) | ANY_TEXT),
        status=draw(st.integers(100, 599)),
        bytes=draw(st.integers(0, 10**12)),
        duration_ms=draw(st.floats(0, 10**7, allow_nan=False)),
        user_agent=draw(st.none() | ANY_TEXT),
        referer=draw(st.none() | ANY_TEXT),
        request_id=draw(ANY_TEXT),
        outcome=draw(st.sampled_from(list(Outcome))),
        close_code=draw(st.none() | st.integers(-(2**16), 2**16)),
    )


@settings(max_examples=100)
@given(records())
def test_a_combined_line_splits_back_into_exactly_its_fields(record: AccessRecord) -> None:
    line = format_combined(record, 1_700_000_000.0)
    assert line.isascii() and line.isprintable()
    match = _COMBINED.fullmatch(line)
    assert match is not None, line
    client, request, status, size, referer, user_agent = match.groups()
    assert client == (record.client or "-")
    target = record.path + "?" + record.query if record.query else record.path
    # A websocket's request line is its handshake's (RFC 6455 §4.1).
    protocol = "HTTP/1.1" if record.protocol == WEBSOCKET else record.protocol
    assert unescape(request) == f"{record.method} {target} {protocol}"
    assert int(status) == record.status
    assert size == (str(record.bytes) if record.bytes else "-")
    assert unescape(referer) == (record.referer or "-")
    assert unescape(user_agent) == (record.user_agent or "-")


@settings(max_examples=100)
@given(records())
def test_a_json_line_is_one_printable_line_that_parses_back_to_the_record(
    record: AccessRecord,
) -> None:
    line = format_json(record)
    assert line.isascii() and line.isprintable()
    parsed = json.loads(line)
    assert list(parsed) == list(FIELDS)
    assert parsed == {**record.as_dict(), "outcome": str(record.outcome)}


POLICIES = {
    name: RequestLoggingPolicy.build(format=name, trusted_proxies=["10.0.0.0/8"])
    for name in ("combined", "json")
}


@settings(max_examples=100)
@given(
    st.sampled_from(["combined", "json"]),
    st.one_of(binary(max_size=30), ANY_TEXT),
    binary(max_size=20),
    st.sampled_from(["GET", "POST", "M-SEARCH", "PROPFIND"]),
    st.lists(st.one_of(st.none(), binary(max_size=30)), min_size=5, max_size=5),
    st.sampled_from([None, "10.0.0.1", "198.51.100.7", "junk"]),
)
def test_any_request_gives_a_safe_line(
    form: str,
    path: bytes | str,
    query: bytes,
    method: str,
    values: list[bytes | None],
    peer: str | None,
) -> None:
    names = (b"user-agent", b"referer", b"forwarded", b"x-forwarded-for", b"x-request-id")
    pairs = zip(names, values, strict=True)
    headers = [(name, value) for name, value in pairs if value is not None]
    log = POLICIES[form].begin(
        method=method,
        path=path,
        query=query,
        protocol="HTTP/1.1",
        headers=headers,
        peer=peer,
        now=1.0,
    )
    log.sent = 5
    log.ended(Outcome.COMPLETED, 1.25)
    entry = log.end(now=1.5, wall=1_700_000_000.0)
    assert entry is not None
    fields, line = entry
    record = AccessRecord(**fields)
    assert line.isascii() and line.isprintable()
    # The logged path is the ASCII request target: no space, quote or control character.
    assert record.path.isascii() and re.fullmatch(r"[!#-~]*", record.path)
    # The request ID is safe to send back: visible ASCII only.
    assert re.fullmatch(r"[!-~]{1,200}", record.request_id)
    if form == "json":
        assert json.loads(line) == {**fields, "outcome": "completed"}


_SAFE = re.compile(r"[\x21-\x7e]{1,200}")
_LIST_WHITESPACE = re.compile(r"[ \t]*,[ \t]*")


@settings(max_examples=150)
@given(
    st.none()
    | ANY_TEXT
    | st.text(alphabet="ab-_.", min_size=195, max_size=205)
    | st.text(alphabet="ab, \t", max_size=12)  # repeated lines joined by "," or ", "
    | st.text(alphabet="a, ", min_size=195, max_size=215),
    st.booleans(),
)
def test_a_request_id_is_kept_exactly_when_trusted_and_safe(
    incoming: str | None, trust: bool
) -> None:
    fresh = "generated"
    chosen = accept_request_id(incoming, trust=trust, generate=lambda: fresh)
    # Whitespace beside a comma is list syntax (repeated lines joined by ", "), not the ID's.
    value = None if incoming is None else _LIST_WHITESPACE.sub(",", incoming)
    keep = trust and value is not None and _SAFE.fullmatch(value) is not None
    assert chosen == (value if keep else fresh)


def test_new_request_ids_are_random_uuid4_hex() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", value)
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


TRUSTED = TrustedProxies.build(["10.0.0.0/8", "fd00::/8"])
HOPS = st.sampled_from(
    ["203.0.113.9", "198.51.100.7:4711", "[2001:db8::5]:80", "10.0.0.2", "10.1.2.3", "fd00::1",
     "[fd00::2]", "unknown", "_hidden", "", " ", "not-an-ip", "1.2.3.4.5", "::ffff:10.0.0.9"]
)  # fmt: skip


def _hops_text(hops: list[str], forwarded: bool) -> str:
    return ", ".join(f'for="{hop}"' if forwarded else hop for hop in hops)


@settings(max_examples=150)
@given(st.lists(HOPS, max_size=6), st.booleans(), st.sampled_from(["10.0.0.1", "192.0.2.1", None]))
def test_the_client_is_the_peer_or_the_rightmost_untrusted_hop(
    hops: list[str], forwarded: bool, peer: str | None
) -> None:
    text = _hops_text(hops, forwarded)
    result = client_address(
        peer,
        trusted=TRUSTED,
        forwarded=text if forwarded else None,
        x_forwarded_for=None if forwarded else text,
    )
    if peer is None or not TRUSTED.trusts_peer(peer):
        assert result == peer
        return
    # The model: walk right to left over the hops (an empty X-Forwarded-For member is no hop;
    # an empty Forwarded for="" is a hop that is not an address).
    expected: str | None = peer
    last = None
    for hop in reversed([hop for hop in hops if forwarded or hop.strip()]):
        address = parse_node(hop)
        if address is None:
            expected = peer
            break
        last = address
        if not TRUSTED.trusts(address):
            expected = str(address)
            break
    else:
        expected = peer if last is None else str(last)
    assert result == expected


@settings(max_examples=100)
@given(
    st.lists(st.text(max_size=20), max_size=4), st.sampled_from(["203.0.113.9", "[2001:db8::5]"])
)
def test_whatever_a_client_prepends_it_cannot_choose_its_address(
    spoofed: list[str], real: str
) -> None:
    # The client sent any X-Forwarded-For; the trusted proxy appended the address it saw.
    text = ", ".join([*spoofed, real])
    result = client_address("10.0.0.1", trusted=TRUSTED, x_forwarded_for=text)
    assert result == str(ip_address(real.strip("[]")))


@given(ANY_TEXT)
def test_parse_node_never_raises(text: str) -> None:
    address = parse_node(text)
    assert address is None or str(address)

"""Properties of the shared toolkit, for any input: never raises, idempotent, round-trips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core import headers as h
from middleware.core.cookies import build_set_cookie, parse_cookies
from middleware.core.timing import entry

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~",
    min_size=1,
    max_size=20,
)
COOKIE_VALUE = st.text(
    alphabet=[
        chr(c)
        for c in [
            0x21,
            *range(0x23, 0x2C),
            *range(0x2D, 0x3B),
            *range(0x3C, 0x5C),
            *range(0x5D, 0x7F),
        ]
    ],
    max_size=40,
)
HEADERS = st.lists(
    st.tuples(st.binary(max_size=12).map(bytes.lower), st.binary(max_size=40)), max_size=8
)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_parse_qlist_never_raises_and_is_well_formed(value: bytes) -> None:
    for token, q in h.parse_qlist(value):
        assert h.is_token(token) and token == token.lower()
        assert 0.0 <= q <= 1.0


@given(
    st.lists(
        st.tuples(TOKEN, st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=0.001"])), max_size=8
    )
)
def test_parse_qlist_reads_back_what_was_written(members: list[tuple[str, str]]) -> None:
    value = ", ".join(token + weight for token, weight in members).encode()
    parsed = h.parse_qlist(value)
    assert [t for t, _ in parsed] == [t.lower().encode() for t, _ in members]
    assert [q for _, q in parsed] == [float(w[3:]) if w else 1.0 for _, w in members]


@given(HEADERS, st.lists(TOKEN.map(str.encode), max_size=4))
def test_merge_vary_is_idempotent_and_never_duplicates(
    headers: h.Headers, names: list[bytes]
) -> None:
    once = h.merge_vary(headers, names)
    assert h.merge_vary(once, names) == once
    vary = h.get_all(once, b"vary")
    members = [m.lower() for v in vary for m in h.split_list(v)]
    if b"*" not in members:
        for name in names:
            assert members.count(name.lower()) >= 1
        added = [m for m in members if m in {n.lower() for n in names}]
        old = [m.lower() for v in h.get_all(headers, b"vary") for m in h.split_list(v)]
        assert all(added.count(m) == 1 for m in added if m not in old)
    # Other fields are untouched, in order.
    assert [f for f in once if f[0] != b"vary"] == [f for f in headers if f[0] != b"vary"]


@given(st.binary(max_size=400))
def test_parse_cookies_never_raises(header: bytes) -> None:
    for name, _value in parse_cookies(header):
        assert name and "=" not in name and ";" not in name


@given(st.lists(st.tuples(TOKEN, COOKIE_VALUE), max_size=6))
def test_cookie_round_trip(pairs: list[tuple[str, str]]) -> None:
    header = "; ".join(
        build_set_cookie(n, v, path=None, http_only=False).decode() for n, v in pairs
    )
    expected = [(n, v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v) for n, v in pairs]
    assert parse_cookies(header.encode()) == expected


@given(TOKEN.filter(str.isascii), st.floats(min_value=0, max_value=1e9), st.text(max_size=50))
def test_timing_entry_is_always_a_valid_latin1_header(name: str, ms: float, desc: str) -> None:
    value = entry(name, ms, desc)
    encoded = value.encode("latin-1")
    assert not any(byte < 0x20 and byte != 0x09 or byte == 0x7F for byte in encoded)
    assert value.startswith(f"{name};dur=")

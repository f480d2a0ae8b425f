"""The shared header toolkit: look-ups, weighted lists, Vary merging, cookies."""

from __future__ import annotations

import pytest

from middleware.core import headers as h
from middleware.core.cookies import (
    build_delete_cookie,
    build_set_cookie,
    check_cookie_name,
    cookie_values,
    normalize_same_site,
    parse_cookies,
)
from tests.cases.response_heads import HEAD_CASES, HeadCase
from tests.cases.response_heads import params as head_params

SAMPLE = [(b"content-type", b"text/html"), (b"vary", b"Cookie"), (b"vary", b"Origin")]


def test_lookups() -> None:
    assert h.get(SAMPLE, b"vary") == b"Cookie"
    assert h.get(SAMPLE, b"etag") is None
    assert h.get_all(SAMPLE, b"vary") == [b"Cookie", b"Origin"]
    assert h.get_list(SAMPLE, b"vary") == b"Cookie, Origin"
    assert h.get_list(SAMPLE, b"content-type") == b"text/html"
    assert h.get_list(SAMPLE, b"etag") is None
    assert h.has(SAMPLE, b"vary") and not h.has(SAMPLE, b"etag")


def test_without_and_replace_do_not_mutate() -> None:
    original = list(SAMPLE)
    assert h.without(SAMPLE, b"vary") == [(b"content-type", b"text/html")]
    assert h.replace(SAMPLE, b"vary", b"*") == [(b"content-type", b"text/html"), (b"vary", b"*")]
    assert h.replace(SAMPLE, b"etag", b'"x"')[-1] == (b"etag", b'"x"')
    assert SAMPLE == original


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"gzip", [(b"gzip", 1.0)], id="bare"),
        pytest.param(b"GZip;Q=0.5", [(b"gzip", 0.5)], id="case-insensitive"),
        pytest.param(b" br ; q=0.8 ,\tgzip", [(b"br", 0.8), (b"gzip", 1.0)], id="whitespace"),
        pytest.param(b"*;q=0, identity;q=1.000", [(b"*", 0.0), (b"identity", 1.0)], id="star"),
        pytest.param(b"gzip;q=abc, br", [(b"br", 1.0)], id="q-junk-dropped"),
        pytest.param(b"gzip;q=2, br;q=1.1", [], id="q-above-one-dropped"),
        pytest.param(b"gzip;q=, br;q", [], id="q-empty-dropped"),
        pytest.param(b"gzip;q=0.1234", [], id="q-four-decimals-dropped"),
        pytest.param(b"gzip;q=-1", [], id="q-negative-dropped"),
        pytest.param(b"gzip;level=1;q=0.2", [(b"gzip", 0.2)], id="other-params-ignored"),
        pytest.param(b",,, ,gzip,,", [(b"gzip", 1.0)], id="empty-members"),
        pytest.param(b"g zip, \xff\xfe, br", [(b"br", 1.0)], id="non-tokens-dropped"),
        pytest.param(b"", [], id="empty"),
    ],
)
def test_parse_qlist(value: bytes, expected: list[tuple[bytes, float]]) -> None:
    assert h.parse_qlist(value) == expected


def test_parse_qlist_absurd_length_is_bounded_work() -> None:
    value = b"x" * 10_000 + b", gzip;q=0.5"
    assert h.parse_qlist(value) == [(b"x" * 10_000, 1.0), (b"gzip", 0.5)]


@pytest.mark.parametrize(
    ("before", "names", "after"),
    [
        pytest.param([], [b"Accept-Encoding"], [(b"vary", b"Accept-Encoding")], id="added"),
        pytest.param(
            [(b"vary", b"accept-encoding")],
            [b"Accept-Encoding"],
            [(b"vary", b"accept-encoding")],
            id="case-insensitive-no-duplicate",
        ),
        pytest.param([(b"vary", b"*")], [b"Origin"], [(b"vary", b"*")], id="star-kept"),
        pytest.param(
            [(b"vary", b"Cookie"), (b"x", b"1"), (b"vary", b"Origin")],
            [b"Origin", b"Accept-Encoding"],
            [(b"vary", b"Cookie, Origin, Accept-Encoding"), (b"x", b"1")],
            id="coalesced",
        ),
        pytest.param(
            [(b"vary", b"Cookie, , Cookie")],
            [b"Origin"],
            [(b"vary", b"Cookie, Cookie, Origin")],
            id="existing-kept-as-is",
        ),
    ],
)
def test_merge_vary(before: h.Headers, names: list[bytes], after: h.Headers) -> None:
    assert h.merge_vary(before, names) == after


def test_merge_vary_is_idempotent_and_returns_same_list_when_nothing_changes() -> None:
    once = h.merge_vary([], [b"Origin"])
    assert h.merge_vary(once, [b"origin"]) is once


def test_is_token() -> None:
    assert h.is_token(b"Server-Timing") and h.is_token(b"a!#$%&'*+-.^_`|~9")
    assert not h.is_token(b"") and not h.is_token(b"a b") and not h.is_token(b"a;b")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(b"a=1; b=2", [("a", "1"), ("b", "2")], id="simple"),
        pytest.param(b"a=1;a=2", [("a", "1"), ("a", "2")], id="duplicates-kept"),
        pytest.param(b'a="q v"', [("a", "q v")], id="dquotes-removed"),
        pytest.param(b"junk; =x; a=b=c;;", [("a", "b=c")], id="malformed-skipped"),
        pytest.param(b"a=\xff\x00", [("a", "\xff\x00")], id="bytes-never-raise"),
        pytest.param(b"", [], id="empty"),
    ],
)
def test_parse_cookies(header: bytes, expected: list[tuple[str, str]]) -> None:
    assert parse_cookies(header) == expected


def test_cookie_values() -> None:
    assert cookie_values(b"x=1; session=a; session=b", "session") == ["a", "b"]
    assert cookie_values(b"x=1", "session") == []
    assert cookie_values(None, "session") == []


def test_build_set_cookie_every_attribute() -> None:
    value = build_set_cookie(
        "s",
        "v",
        max_age=60,
        path="/app",
        domain="example.com",
        secure=True,
        same_site="none",
        partitioned=True,
    )
    assert value == (
        b"s=v; Max-Age=60; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=None; "
        b"Partitioned"
    )
    assert build_set_cookie("s", "v", path=None, http_only=False) == b"s=v"


def test_build_delete_cookie() -> None:
    assert build_delete_cookie("s", path="/", same_site="lax") == (
        b"s=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("bad name", "v"), ("", "v"), ("ok", "has space"), ("ok", "semi;colon"), ("ok", "é")],
)
def test_build_set_cookie_rejects_invalid(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="cookie"):
        build_set_cookie(name, value)


def test_same_site_normalised_or_rejected() -> None:
    assert normalize_same_site("LAX") == "Lax"
    with pytest.raises(ValueError, match="same_site must be 'lax', 'strict' or 'none', got 'x'"):
        normalize_same_site("x")
    assert check_cookie_name("session") == "session"


@pytest.mark.parametrize("case", head_params(HEAD_CASES))
def test_forbidden_field(case: HeadCase) -> None:
    native = [(name, value) for name, value in case.headers]
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in native]
    if case.refused is None:
        assert h.forbidden_native_field(native) is None
        assert h.forbidden_field(raw) is None
    else:
        name, value = case.refused
        assert h.forbidden_native_field(native) == (name, value)
        assert h.forbidden_field(raw) == (name.lower().encode("latin-1"), value.encode("latin-1"))


def test_refused_head_names_the_field_briefly() -> None:
    message = h.refused_head(b"x-note", b"a\r\n" + b"x" * 500)
    assert message.startswith("The app's response header b'x-note' (value b'a\\r\\nxxx")
    assert "CR, LF or NUL" in message and len(message) < 300

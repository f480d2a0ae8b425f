"""Properties of Cookie and Set-Cookie beyond tests/core/test_properties.py: building refuses
exactly what RFC 6265 refuses and never writes a broken header; lookups agree with parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.cookies import (
    build_delete_cookie,
    build_set_cookie,
    check_cookie_name,
    cookie_values,
    normalize_same_site,
    parse_cookies,
)
from middleware.core.headers import is_token
from tests.core.strategies import binary

OCTETS = frozenset(
    chr(c) for c in [0x21, *range(0x23, 0x2C), *range(0x2D, 0x3B), *range(0x3C, 0x5C)]
) | frozenset(chr(c) for c in range(0x5D, 0x7F))
TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~",
    min_size=1,
    max_size=12,
)
ANY_TEXT = st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=16)
ATTRIBUTES = st.fixed_dictionaries(
    {},
    optional={
        "max_age": st.integers(-10, 10**9),
        "path": st.sampled_from(["/", "/app", None]),
        "domain": st.sampled_from(["example.com", None]),
        "secure": st.booleans(),
        "http_only": st.booleans(),
        "same_site": st.sampled_from(["lax", "Strict", "NONE", None]),
        "partitioned": st.booleans(),
    },
)
KNOWN = {"Max-Age", "Expires", "Path", "Domain", "Secure", "HttpOnly", "SameSite", "Partitioned"}


@settings(max_examples=100)
@given(TOKEN, ANY_TEXT, ATTRIBUTES)
def test_set_cookie_is_built_only_from_cookie_octets(
    name: str, value: str, attributes: dict[str, object]
) -> None:
    if not set(value) <= OCTETS:
        with pytest.raises(ValueError, match="cookie-octets"):
            build_set_cookie(name, value, **attributes)  # type: ignore[arg-type]
        return
    header = build_set_cookie(name, value, **attributes)  # type: ignore[arg-type]
    assert all(0x20 <= byte < 0x7F for byte in header)
    first, *rest = header.decode("ascii").split("; ")
    assert first == f"{name}={value}"
    assert {part.partition("=")[0] for part in rest} <= KNOWN
    # The value holds no ";", space or DQUOTE, so a browser sends back exactly this pair.
    assert parse_cookies(first.encode()) == [(name, value)]


@given(ANY_TEXT)
def test_only_tokens_are_cookie_names(name: str) -> None:
    valid = name.isascii() and is_token(name.encode("ascii"))
    if valid:
        assert check_cookie_name(name) == name
    else:
        with pytest.raises(ValueError, match="cookie name"):
            check_cookie_name(name)


@given(TOKEN, ATTRIBUTES)
def test_a_deletion_expires_the_same_cookie_at_once(
    name: str, attributes: dict[str, object]
) -> None:
    attributes.pop("max_age", None)
    header = build_delete_cookie(name, **attributes).decode("ascii")
    parts = header.split("; ")
    assert parts[0] == f"{name}="
    assert "Max-Age=0" in parts and "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in parts
    for key, text in (("path", "Path"), ("domain", "Domain")):
        value = attributes.get(key, "/" if key == "path" else None)
        assert (f"{text}={value}" in parts) is (value is not None)


@settings(max_examples=100)
@given(
    st.one_of(
        binary(max_size=120),
        st.lists(
            st.tuples(st.sampled_from(["session", "a", "Session", " session", "sess"]), TOKEN),
            max_size=5,
        ).map(lambda pairs: "; ".join(f"{n}={v}" for n, v in pairs).encode()),
    ),
    st.sampled_from(["session", "a", "Session", "x"]),
)
def test_cookie_values_agrees_with_parsing(header: bytes, name: str) -> None:
    expected = [value for key, value in parse_cookies(header) if key == name]
    assert cookie_values(header, name) == expected


@given(st.text(max_size=8))
def test_same_site_accepts_the_three_values_in_any_case(value: str) -> None:
    if value.lower() in ("lax", "strict", "none"):
        assert normalize_same_site(value) == value.capitalize()
    else:
        with pytest.raises(ValueError, match="same_site"):
            normalize_same_site(value)

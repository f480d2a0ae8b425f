"""Properties of Cookie and Set-Cookie beyond tests/core/test_properties.py: building refuses
exactly what RFC 6265 refuses and never writes a broken header; Starlette's spelling tells a
browser the same as RFC 6265's; lookups agree with parsing."""

from __future__ import annotations

import re
from typing import Any

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
    starlette_delete_cookie,
    starlette_set_cookie,
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


SESSION_ATTRIBUTES = st.fixed_dictionaries(
    {
        "path": st.sampled_from(["/", "/app", "/a/b"]),
        "same_site": st.sampled_from(["lax", "Strict", "NONE", "none"]),
    },
    optional={
        "domain": st.sampled_from(["example.com", ".example.com"]),
        "secure": st.booleans(),
        "partitioned": st.booleans(),
    },
)


def read_as_a_browser(header: bytes) -> tuple[tuple[str, str], dict[str, str]]:
    """The pair and the attributes of a Set-Cookie value as RFC 6265 §5.2 reads them: names
    case-insensitive (keyed lower-case), SameSite's value case-insensitive too."""
    first, *rest = header.decode("ascii").split("; ")
    name, _, value = first.partition("=")
    attributes = {}
    for part in rest:
        key, _, text = part.partition("=")
        key = key.lower()
        attributes[key] = text.lower() if key == "samesite" else text
    assert len(attributes) == len(rest), header  # no attribute twice
    return (name, value), attributes


@given(TOKEN, st.text(alphabet=sorted(OCTETS), max_size=12), SESSION_ATTRIBUTES, st.booleans())
def test_starlettes_spelling_says_what_rfc_6265s_says(
    name: str, value: str, attributes: dict[str, Any], browser_session: bool
) -> None:
    max_age = None if browser_session else 600
    header = starlette_set_cookie(name, value, max_age=max_age, **attributes)
    assert header.startswith(f"{name}={value}; path={attributes['path']}; ".encode())
    assert read_as_a_browser(header) == read_as_a_browser(
        build_set_cookie(name, value, max_age=max_age, **attributes)
    )
    # The deletion names the same cookie (path, domain) with the same flags, expired.
    deletion = starlette_delete_cookie(name, **attributes)
    pair, deleted = read_as_a_browser(deletion)
    _, kept = read_as_a_browser(header)
    kept.pop("max-age", None)
    assert pair == (name, "null")
    assert deleted == {**kept, "expires": "Thu, 01 Jan 1970 00:00:00 GMT"}


@given(ANY_TEXT, ANY_TEXT)
def test_starlettes_spelling_refuses_what_rfc_6265_refuses(name: str, value: str) -> None:
    try:
        expected = build_set_cookie(name, value)
    except ValueError as error:
        with pytest.raises(ValueError, match=re.escape(str(error))):
            starlette_set_cookie(name, value, path="/", max_age=None, same_site="lax")
        return
    assert expected.startswith(
        starlette_set_cookie(name, value, path="/", max_age=None, same_site="lax").split(b";")[0]
    )


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

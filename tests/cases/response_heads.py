"""Response heads a server must refuse, and near misses it must not: one table for the core
tests (``tests/core/test_headers.py``) and the parity tests (``tests/parity/test_bad_headers.py``).

SPEC (Request logging): a head with CR, LF or NUL in a header name or value set by the app is
treated as a crash (plain 500) on both protocols, so the access record never says 200 for a
response the server refused. Header pairs are latin-1 text, as a WSGI app gives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

Pairs = tuple[tuple[str, str], ...]

TEXT = ("Content-Type", "text/plain; charset=utf-8")


@dataclass(frozen=True, kw_only=True)
class HeadCase:
    """The app's response headers; ``refused`` is the offending field, None when valid."""

    id: str
    headers: Pairs
    refused: tuple[str, str] | None
    # wsgiref.validate refuses every control character, HTAB included (stricter than RFC 9110):
    # the parity test's server side then runs without it.
    validator_refuses: bool = False


def params(cases: list[HeadCase]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in cases]


HEAD_CASES = [
    HeadCase(
        id="crlf-injection-in-value-refused",
        headers=(TEXT, ("X-Note", "a\r\nSet-Cookie: admin=1")),
        refused=("X-Note", "a\r\nSet-Cookie: admin=1"),
    ),
    HeadCase(
        id="cr-in-value-refused", headers=(TEXT, ("X-Note", "a\rb")), refused=("X-Note", "a\rb")
    ),
    HeadCase(
        id="lf-in-value-refused", headers=(("X-Note", "a\nb"), TEXT), refused=("X-Note", "a\nb")
    ),
    HeadCase(
        id="nul-in-value-refused",
        headers=(TEXT, ("X-Note", "a\x00b")),
        refused=("X-Note", "a\x00b"),
    ),
    HeadCase(
        id="lf-in-name-refused",
        headers=(TEXT, ("X-Evil\nName", "v")),
        refused=("X-Evil\nName", "v"),
    ),
    HeadCase(
        id="nul-in-name-refused", headers=(TEXT, ("X-Evil\x00", "v")), refused=("X-Evil\x00", "v")
    ),
    HeadCase(
        id="trailing-lf-refused",
        headers=(TEXT, ("Location", "/next\n")),
        refused=("Location", "/next\n"),
    ),
    HeadCase(
        id="first-of-two-bad-fields-named",
        headers=(TEXT, ("X-One", "1\r"), ("X-Two", "2\n")),
        refused=("X-One", "1\r"),
    ),
    # RFC 9110 §5.5 allows HTAB, SP and obs-text (0x80-0xFF) in a field value.
    HeadCase(
        id="tab-and-space-kept",
        headers=(TEXT, ("X-Note", "a\tb c")),
        refused=None,
        validator_refuses=True,
    ),
    HeadCase(id="obs-text-kept", headers=(TEXT, ("X-Note", "caf\xe9")), refused=None),
    HeadCase(id="plain-head-kept", headers=(TEXT,), refused=None),
]

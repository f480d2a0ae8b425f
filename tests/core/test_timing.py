"""Server-Timing formatting and the timing policy, without any protocol."""

from __future__ import annotations

import pytest

from middleware.core.timing import TimingPolicy, check_name, entry, header_value


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(("db", 12.5), "db;dur=12.500", id="plain"),
        pytest.param(("db", 3.0), "db;dur=3.000", id="integral"),
        pytest.param(("db", 0.00049), "db;dur=0.000", id="below-resolution"),
        pytest.param(("db", 1.23456), "db;dur=1.235", id="three-decimals"),
        pytest.param(("db", 1, "a b"), 'db;dur=1.000;desc="a b"', id="desc"),
        pytest.param(("db", 1, 'x"y\\z'), 'db;dur=1.000;desc="x\\"y\\\\z"', id="desc-escaped"),
        pytest.param(("db", 1, "a\r\nb\x1b"), 'db;dur=1.000;desc="a??b?"', id="desc-controls"),
        pytest.param(
            ("db", 1, "caf\u00e9 \u2603"), 'db;dur=1.000;desc="caf\u00e9 ?"', id="desc-non-latin1"
        ),
    ],
)
def test_entry(args: tuple[object, ...], expected: str) -> None:
    assert entry(*args) == expected  # type: ignore[arg-type]


def test_header_value_latin1_encodable() -> None:
    value = header_value("app", 2.5, [("db", 1, "caf\u00e9"), ("c", 0.5, None)])
    assert value == 'app;dur=2.500, db;dur=1.000;desc="caf\u00e9", c;dur=0.500'.encode("latin-1")
    assert header_value("app", 1, None) == b"app;dur=1.000"


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a,b", "caf\u00e9", 'q"'])
def test_invalid_names_raise(name: str) -> None:
    with pytest.raises(ValueError, match="must be an RFC 9110 token"):
        check_name(name)


def test_policy_precomputes() -> None:
    policy = TimingPolicy.build(
        metric="app",
        header="Server-Timing",
        timing_allow_origin=("https://a", "https://b"),
        on_complete=None,
    )
    assert policy.header == b"server-timing"
    assert policy.allow_origin == b"https://a, https://b"

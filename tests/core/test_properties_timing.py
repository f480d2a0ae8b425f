"""Properties of Server-Timing beyond tests/core/test_properties.py: for any metrics, the
header is printable latin-1 and parses back (per the W3C grammar) into the same names,
durations and descriptions; only tokens are metric names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.headers import is_token
from middleware.core.timing import Metric, TimingPolicy, check_name, header_value

TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~",
    min_size=1,
    max_size=12,
)
DURATIONS = st.floats(min_value=0, max_value=1e9, allow_nan=False)
DESCRIPTIONS = st.none() | st.text(max_size=20) | st.sampled_from(['"', "\\", '", x;dur=1', "\t"])
METRICS = st.lists(st.tuples(TOKEN, DURATIONS, DESCRIPTIONS), max_size=5)


def parse(value: str) -> list[tuple[str, dict[str, str]]]:
    """A Server-Timing value as (name, params), reading quoted-strings per RFC 9110 §5.6.4."""
    entries: list[tuple[str, dict[str, str]]] = []
    i = 0

    def token() -> str:
        nonlocal i
        start = i
        while i < len(value) and value[i] not in ';,="\\ ':
            i += 1
        return value[start:i]

    while i < len(value):
        name = token()
        params: dict[str, str] = {}
        while i < len(value) and value[i] == ";":
            i += 1
            key = token()
            assert value[i] == "="
            i += 1
            if value[i] == '"':
                i += 1
                chars = []
                while value[i] != '"':
                    if value[i] == "\\":
                        i += 1
                    chars.append(value[i])
                    i += 1
                i += 1
                params[key] = "".join(chars)
            else:
                params[key] = token()
        entries.append((name, params))
        if i < len(value):
            assert value[i : i + 2] == ", "
            i += 2
    return entries


def _shown(description: str) -> str:
    """What a description becomes in the header: tab as space, the unsendable as "?"."""
    return "".join(
        " " if c == "\t" else c if 0x20 <= ord(c) <= 0x7E or 0x80 <= ord(c) <= 0xFF else "?"
        for c in description
    )


@settings(max_examples=100)
@given(DURATIONS, METRICS)
def test_the_header_parses_back_into_its_metrics(app_ms: float, metrics: list[Metric]) -> None:
    value = header_value("app", app_ms, metrics)
    assert not any(byte < 0x20 or byte == 0x7F for byte in value)
    text = value.decode("latin-1")
    parsed = parse(text)
    assert [name for name, _ in parsed] == ["app", *(name for name, _, _ in metrics)]
    expected = [(app_ms, None), *((ms, desc) for _, ms, desc in metrics)]
    for (_, params), (ms, description) in zip(parsed, expected, strict=True):
        assert float(params["dur"]) == pytest.approx(ms, abs=0.0005)
        if description is None:
            assert "desc" not in params
        else:
            assert params["desc"] == _shown(description)


@settings(max_examples=100)
@given(TOKEN, DURATIONS, st.none() | METRICS)
def test_the_policy_adds_what_the_formatter_writes(
    metric: str, app_ms: float, metrics: list[Metric] | None
) -> None:
    policy = TimingPolicy.build(
        metric=metric, header="Server-Timing", timing_allow_origin=None, on_complete=None
    )
    request = policy.begin(10.0)
    request.metrics = metrics
    fields = request.start(10.0 + app_ms / 1000)
    assert request.app_ms is not None
    assert fields == [(b"server-timing", header_value(metric, request.app_ms, metrics))]


@given(st.text(max_size=12))
def test_only_tokens_are_metric_names(name: str) -> None:
    if name.isascii() and is_token(name.encode()):
        assert check_name(name) == name
    else:
        with pytest.raises(ValueError, match="metric name"):
            check_name(name)

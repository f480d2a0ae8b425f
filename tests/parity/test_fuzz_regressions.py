"""Inputs the fuzzer (bench/fuzz.py) found, kept as tests on both protocols."""

from __future__ import annotations

import re
from typing import Any

from middleware import timing
from tests.parity.vectors import Reply


def _tab_description(ctx: Any) -> None:
    timing.record("db", 1.0, "rows\tfrom cache")


def test_a_tab_in_a_timing_description_keeps_the_header_valid(serve: Any) -> None:
    # wsgiref.validate refuses any control character in a header value, HTAB included; the
    # description's tab used to reach the header and turn the response into a crash answer.
    result = serve(lambda m, app: m.TimingMiddleware(app), reply=Reply(before=_tab_description))
    assert result.status == 200
    value = result.header("server-timing")
    assert value is not None
    assert re.fullmatch(r'app;dur=[0-9.]+, db;dur=1\.000;desc="rows from cache"', value)

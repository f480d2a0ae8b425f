"""Inputs the fuzzer (bench/fuzz.py) found, kept as tests on both protocols."""

from __future__ import annotations

import re
from typing import Any

from middleware import timing
from tests.parity.vectors import Reply, Request


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


def _read_body(ctx: Any) -> None:
    if ctx.protocol == "wsgi":
        environ = ctx.raw
        length = int(environ.get("CONTENT_LENGTH") or 0)
        ctx.raw["test.body"] = environ["wsgi.input"].read(length)


def test_a_one_byte_empty_brotli_stream_is_an_empty_body(serve: Any) -> None:
    # b"?" is a complete brotli stream for an empty body: decoded, not refused as corrupt.
    result = serve(
        lambda m, app: m.CompressionMiddleware(app, decompress_requests=True),
        request=Request(method="POST", headers=[("content-encoding", "br")], body=b"?"),
        reply=Reply(before=_read_body),
    )
    assert result.status == 200


def test_repeated_request_id_lines_are_treated_alike_on_both_protocols(serve: Any) -> None:
    # Two X-Request-ID lines reach the rule as one value joined by ",", on both protocols (a
    # WSGI server joins them so; the ASGI adapter does the same): "abc,def" is visible ASCII,
    # so both keep it. The fuzzer found the protocols answering differently.
    result = serve(
        lambda m, app: m.RequestLoggingMiddleware(app),
        request=Request(headers=[("x-request-id", "abc"), ("x-request-id", "def")]),
    )
    assert result.header_all("x-request-id") == ["abc,def"]

"""CompressionMiddleware and GZipMiddleware: every behaviour of SPEC's Compression section,
through both protocols, from the case tables in ``tests/cases/compression.py``."""

from __future__ import annotations

import time
from typing import Any

import pytest
import zstandard

from middleware.asgi.compression import CompressionMiddleware as AsgiCompression
from middleware.asgi.compression import GZipMiddleware as AsgiGZip
from middleware.wsgi.compression import CompressionMiddleware as WsgiCompression
from middleware.wsgi.compression import GZipMiddleware as WsgiGZip
from tests.cases.compression import (
    BOMB_CASES,
    BOMB_SECONDS,
    CASES,
    ENCODED_LENGTH,
    HTML,
    HTML_HEADERS,
    NDJSON,
    REQUEST_CASES,
    SSE,
    ZSTD_WINDOW,
    BombCase,
    Case,
    RequestCase,
    decode,
)
from tests.core.test_compression import _Client
from tests.drivers import Result, call_asgi, call_wsgi
from tests.parity.vectors import Reply, Request

CLASSES = {
    ("wsgi", False): WsgiCompression,
    ("wsgi", True): WsgiGZip,
    ("asgi", False): AsgiCompression,
    ("asgi", True): AsgiGZip,
}


def _middleware(protocol: str, case: Case) -> Any:
    cls = CLASSES[protocol, case.gzip_middleware]
    return lambda m, app: cls(app, **case.options)


def _valid_wsgi(case: Case) -> bool:
    """wsgiref.validate (on both sides of every WSGI layer) requires a Content-Type on every
    response but 204 and 304, and forbids it on those two; such cases stay in the core and
    ASGI tests."""
    has_type = any(name == "content-type" for name, _ in case.app_headers)
    return has_type != (case.status in (204, 304))


PARITY_CASES = [param for param in CASES if _valid_wsgi(param.values[0])]


@pytest.mark.parametrize("case", PARITY_CASES)
def test_compression_parity(serve: Any, case: Case) -> None:
    result = serve(
        _middleware(serve.protocol, case),
        request=Request(method=case.method, path=case.path, headers=list(case.request_headers)),
        reply=Reply(status=case.status, headers=case.app_headers, chunks=case.chunks),
    )
    assert result.error is None
    assert result.status == case.status
    expected = [
        (name, str(len(result.body)) if value == ENCODED_LENGTH else value)
        for name, value in case.response_headers
    ]
    assert result.headers == expected
    if case.encoding is None:
        assert result.body == (b"" if case.method == "HEAD" else case.expected_body)
    else:
        assert decode(case.encoding, result.body) == case.expected_body
    assert serve.probe.closed == (1 if serve.protocol == "wsgi" else 0)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize(
    ("content_type", "chunks"),
    [
        pytest.param("text/event-stream", SSE, id="sse"),
        pytest.param("application/x-ndjson", NDJSON, id="ndjson"),
        pytest.param("text/html", (HTML[:300], HTML[300:900], HTML[900:]), id="html-stream"),
    ],
)
def test_each_chunk_leaves_decodable(
    serve: Any, coding: str, content_type: str, chunks: Any
) -> None:
    cls = AsgiCompression if serve.protocol == "asgi" else WsgiCompression
    result = serve(
        lambda m, app: cls(app),
        request=Request(headers=[("accept-encoding", coding)]),
        reply=Reply(headers=(("content-type", content_type),), chunks=chunks),
    )
    assert result.header("content-encoding") == coding
    assert result.header("content-length") is None
    client = _Client(coding)
    # One wire chunk per app chunk (WSGI adds the encoder's tail after the last one): each
    # decodes to its app chunk as soon as it arrives.
    for index, chunk in enumerate(chunks):
        assert client.feed(result.chunks[index]) == chunk
    for tail in result.chunks[len(chunks) :]:
        assert client.feed(tail) == b""
    assert client.finished()


@pytest.mark.parametrize("level", [19, 20, 22])
@pytest.mark.parametrize("whole", [False, True], ids=["stream", "whole-9-mb"])
def test_zstd_frames_fit_an_8_mb_window(serve: Any, level: int, whole: bool) -> None:
    # SPEC: frames respect RFC 9659 (window <= 8 MB) at every level zstd has; 20-22 are capped.
    body = HTML * (9 * 1024 * 1024 // len(HTML) + 1) if whole else HTML
    chunks = (body,) if whole else (HTML[:600], HTML[600:])
    headers = (HTML_HEADERS[0], ("content-length", str(len(body)))) if whole else HTML_HEADERS[:1]
    cls = AsgiCompression if serve.protocol == "asgi" else WsgiCompression
    result = serve(
        lambda m, app: cls(app, zstd_level=level),
        request=Request(headers=[("accept-encoding", "zstd")]),
        reply=Reply(headers=headers, chunks=chunks),
    )
    assert result.header("content-encoding") == "zstd"
    assert (result.header("content-length") is not None) == whole
    assert zstandard.get_frame_parameters(result.body).window_size <= ZSTD_WINDOW
    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW).decompressobj()
    assert decoder.decompress(result.body) == body


# --- Request bodies -----------------------------------------------------------------------------


def _echo_wsgi(environ: dict[str, Any], start_response: Any) -> Any:
    length = environ.get("CONTENT_LENGTH") or "0"
    body = environ["wsgi.input"].read(int(length))
    seen = [
        ("Content-Type", "application/octet-stream"),
        ("X-Content-Length", length),
        ("X-Content-Encoding", environ.get("HTTP_CONTENT_ENCODING", "-")),
    ]
    start_response("200 OK", seen)
    return [body]


async def _echo_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    headers = dict(scope["headers"])
    seen = [
        (b"content-type", b"application/octet-stream"),
        (b"x-content-length", headers.get(b"content-length", b"0")),
        (b"x-content-encoding", headers.get(b"content-encoding", b"-")),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": seen})
    await send({"type": "http.response.body", "body": body})


def _post(protocol: str, case: RequestCase, pieces: int = 1) -> Result:
    headers = list(case.request_headers)
    if protocol == "wsgi":
        return call_wsgi(
            WsgiCompression(_echo_wsgi, **case.options), "POST", "/", "", headers, case.body
        )
    size = max(1, -(-len(case.body) // pieces))
    body_chunks = [case.body[i : i + size] for i in range(0, len(case.body), size)] or [b""]
    return call_asgi(
        AsgiCompression(_echo_asgi, **case.options),
        "POST",
        "/",
        "",
        headers,
        body_chunks=body_chunks,
    )


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_decoding_parity(protocol: str, case: RequestCase) -> None:
    result = _post(protocol, case, pieces=3)
    assert result.status == case.status
    if case.status != 200:
        assert result.body == case.answer
        assert result.header("content-type") == "text/plain; charset=utf-8"
        assert result.header("content-length") == str(len(case.answer))
        return
    assert result.body == case.app_body
    assert result.header("x-content-length") == str(len(result.body))
    assert result.header("x-content-encoding") == (case.app_content_encoding or "-")


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
@pytest.mark.parametrize("case", BOMB_CASES)
def test_decoding_bomb_parity(protocol: str, case: BombCase) -> None:
    # The same answer on both protocols, quickly: ASGI gets the body in ~64 KiB messages, as
    # servers deliver it; WSGI reads wsgi.input in its own blocks. The bound is on this
    # process's CPU time, what a bomb burns: other work on a shared machine does not count.
    request = case.request_case()
    started = time.process_time()
    result = _post(protocol, request, pieces=max(1, len(request.body) // 65_536))
    elapsed = time.process_time() - started
    assert result.status == request.status
    if request.status == 200:
        assert result.body == request.app_body
    else:
        assert result.body == request.answer
        assert result.header("content-length") == str(len(request.answer))
    assert elapsed < BOMB_SECONDS, f"{elapsed:.2f} s"


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_unsupported_request_coding_lists_ours(protocol: str) -> None:
    case = RequestCase(content_encoding="lzma", body=b"x")
    result = _post(protocol, case)
    assert result.status == 415
    assert result.header("accept-encoding") == "gzip, deflate, br, zstd"


def test_parity_table_keeps_most_cases() -> None:
    # Out: 204, 304 and three without a Content-Type (the Starlette drop-in tests run GZip's
    # through WSGI without the validator).
    assert len(PARITY_CASES) >= len(CASES) - 5


@pytest.mark.parametrize("held", [False, True], ids=["before-start", "start-held"])
def test_crash_answer_is_the_same_on_both_protocols(held: bool, caplog: Any) -> None:
    # The plain 500 goes through this layer's own rules on both protocols (Vary merged: its
    # type, text/plain, is compressible), whether or not the app's own start was held.
    headers = [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(HTML))]

    def wsgi_app(environ: Any, start_response: Any) -> Any:
        if held:
            return _FailFirst(start_response, headers)
        raise RuntimeError("crashed on purpose")

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        if held:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise RuntimeError("crashed on purpose")

    caplog.set_level("CRITICAL", logger="middleware.errors")
    wsgi = call_wsgi(WsgiCompression(wsgi_app), headers=[("accept-encoding", "gzip")])
    asgi = call_asgi(AsgiCompression(asgi_app), headers=[("accept-encoding", "gzip")])
    assert isinstance(asgi.error, RuntimeError)
    assert (wsgi.status, wsgi.body) == (asgi.status, asgi.body) == (500, b"Internal Server Error")
    assert wsgi.headers == asgi.headers
    assert ("vary", "Accept-Encoding") in asgi.headers


class _FailFirst:
    """A WSGI response that starts (held: its body decides), then fails producing the body."""

    def __init__(self, start_response: Any, headers: list[tuple[bytes, bytes]]) -> None:
        start_response("200 OK", [(n.decode(), v.decode()) for n, v in headers])

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        raise RuntimeError("crashed on purpose")


def _body_before_start_wsgi(environ: Any, start_response: Any) -> Any:
    yield b"too early"  # a generator app that forgot start_response before its first chunk
    start_response("200 OK", [("Content-Type", "text/plain")])


async def _body_before_start_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.body", "body": b"too early", "more_body": False})


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_a_body_before_the_start_is_answered_as_a_crash(protocol: str) -> None:
    # An app bug, caught before anything left: the client gets the plain 500 (with this
    # layer's Vary), never the early bytes under headers nobody decided.
    if protocol == "wsgi":
        result = call_wsgi(
            WsgiCompression(_body_before_start_wsgi), headers=[("accept-encoding", "gzip")]
        )
    else:
        result = call_asgi(
            AsgiCompression(_body_before_start_asgi), headers=[("accept-encoding", "gzip")]
        )
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert result.header("vary") == "Accept-Encoding"

"""CompressionPolicy: the case tables, negotiation, streaming, codecs, request decoding, config."""

from __future__ import annotations

import gzip
import re
import time
import tracemalloc
import zlib
from typing import Any

import brotli
import pytest
import zstandard

from middleware.core import codecs
from middleware.core.codecs import Coding, brotli_window, decoder_for
from middleware.core.compression import (
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionPolicy,
    Phase,
    RequestDecoder,
    ResponseCompression,
    choose_coding,
    decoded_request_headers,
)
from middleware.core.headers import Headers
from middleware.core.responses import Response
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
    BombCase,
    Case,
    Pairs,
    RequestCase,
    decode,
)


def _raw(pairs: Pairs) -> Headers:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def _policy(case: Case) -> CompressionPolicy:
    if case.gzip_middleware:
        return CompressionPolicy.for_gzip(**case.options)
    return CompressionPolicy.from_options(**case.options)


def _start(
    policy: CompressionPolicy,
    headers: Headers,
    accept: bytes | None,
    *,
    status: int = 200,
    method: str = "GET",
    trailers: bool = False,
) -> tuple[Headers | None, ResponseCompression | None]:
    """What the adapters do with a response start: the headers to send now (None: held) and
    the response, or None when its body goes out as it is."""
    request_headers = [] if accept is None else [(b"accept-encoding", accept)]
    response = policy.begin(request_headers, head_request=method == "HEAD")
    sent = response.start(status, headers, trailers=trailers)
    if response.phase is Phase.IDENTITY:
        assert sent is not Phase.HELD
        return sent, None
    return (None if sent is Phase.HELD else sent), response


def _compressor(policy: CompressionPolicy, headers: Headers, accept: bytes) -> ResponseCompression:
    _, response = _start(policy, headers, accept)
    assert response is not None
    return response


def _run(case: Case, style: str) -> tuple[Headers, bytes]:
    """What the adapters do: ``messages`` marks the last chunk (ASGI's more_body=False);
    ``iterable`` learns the end only after the last chunk (a WSGI iterable)."""
    app_headers = _raw(case.app_headers)
    policy = _policy(case)
    if policy.filters_paths and policy.excludes(case.path):
        return app_headers, b"".join(case.chunks)
    response = policy.begin(_raw(case.request_headers), head_request=case.method == "HEAD")
    started = response.start(case.status, app_headers)
    if response.phase is Phase.IDENTITY:
        assert started is not Phase.HELD
        return started, b"".join(case.chunks)
    sent = None if started is Phase.HELD else started
    wire: list[bytes] = []
    last = len(case.chunks) - 1
    for index, chunk in enumerate(case.chunks):
        wire.append(response.body(chunk, more=style == "iterable" or index < last))
        if sent is None:
            sent = response.headers
    if style == "iterable":
        wire.append(response.body(b"", more=False))
    assert response.phase is Phase.DONE
    assert sent is not None and response.headers == sent
    return sent, b"".join(wire)


def _expected(case: Case, wire: bytes) -> Headers:
    pairs = tuple(
        (name, str(len(wire)) if value == ENCODED_LENGTH else value)
        for name, value in case.response_headers
    )
    return _raw(pairs)


@pytest.mark.parametrize("style", ["messages", "iterable"])
@pytest.mark.parametrize("case", CASES)
def test_compression_case(case: Case, style: str) -> None:
    headers, wire = _run(case, style)
    assert headers == _expected(case, wire)
    if case.encoding is None:
        assert wire == case.expected_body
    else:
        assert wire != case.expected_body
        assert decode(case.encoding, wire) == case.expected_body


def test_untouched_response_keeps_the_header_list() -> None:
    png = [(b"content-type", b"image/png")]
    sent, response = _start(CompressionPolicy.from_options(), png, b"gzip")
    assert sent is png and response is None


def test_interim_status_untouched() -> None:
    headers = [(b"content-type", b"text/html")]
    assert _start(CompressionPolicy.from_options(), headers, None, status=103)[0] is headers


def test_app_header_list_not_mutated() -> None:
    app_headers = _raw((*HTML_HEADERS, ("etag", '"v"'), ("accept-ranges", "bytes")))
    before = list(app_headers)
    for accept in (None, b"gzip"):
        sent, response = _start(CompressionPolicy.from_options(), app_headers, accept)
        if response is not None:
            response.body(HTML, more=False)
            sent = response.headers
        assert sent is not app_headers
    assert app_headers == before


def test_conflicting_content_lengths_mean_an_unknown_length() -> None:
    fields = (("content-type", "text/html"), *(("content-length", n) for n in ("9", "13", "9")))
    sent, response = _start(CompressionPolicy.from_options(minimum_size=10), _raw(fields), b"gzip")
    # Not "known to be small" (one of them says 9): the first body piece decides instead.
    assert sent is None and response is not None
    wire = response.body(HTML, more=False)
    assert gzip.decompress(wire) == HTML


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            [(b"content-type", b"text/plain"), (b"content-length", b"13")],
            [
                (b"content-type", b"text/plain"),
                (b"content-length", b"13"),
                (b"vary", b"Accept-Encoding"),
            ],
            id="small",
        ),
        pytest.param(
            [(b"content-type", b"text/plain"), (b"vary", b"Cookie"), (b"content-length", b"13")],
            [
                (b"content-type", b"text/plain"),
                (b"vary", b"Cookie, Accept-Encoding"),
                (b"content-length", b"13"),
            ],
            id="vary-merged",
        ),
        pytest.param(
            [
                (b"content-type", b"text/html"),
                (b"cache-control", b"public"),
                (b"cache-control", b"No-Transform"),
            ],
            [
                (b"content-type", b"text/html"),
                (b"cache-control", b"public"),
                (b"cache-control", b"No-Transform"),
                (b"vary", b"Accept-Encoding"),
            ],
            id="no-transform-over-two-fields",
        ),
        pytest.param(
            [
                (b"content-type", b"text/html"),
                (b"content-length", "\u00b2\u00b3".encode("latin-1")),
            ],
            None,
            id="non-ascii-digits-are-no-length",
        ),
    ],
)
def test_a_head_left_as_it_is_gains_only_vary(headers: Headers, expected: Headers | None) -> None:
    # The app's fields come back unchanged, in order, with Vary appended after them (or merged
    # into the app's own): the WSGI adapter then appends that field to its native list.
    sent, response = _start(CompressionPolicy.from_options(), headers, b"gzip")
    if expected is None:
        assert sent is None and response is not None  # the length is unknown: the body decides
        body = HTML * 2
        wire = response.body(body, more=False)
        assert response.headers is not None
        assert (b"content-encoding", b"gzip") in response.headers
        assert gzip.decompress(wire) == body
    else:
        assert response is None and sent == expected


# --- Streaming: every piece decodes at once with a real decoder --------------------------------


class _Client:
    """A client's incremental decoder for one coding."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "br":
            self._brotli = brotli.Decompressor()
        else:
            self._zstd = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.coding == "gzip":
            return self._zlib.decompress(data)
        if self.coding == "br":
            return self._brotli.process(data)  # type: ignore[no-any-return]
        return self._zstd.decompress(data)  # type: ignore[no-any-return]

    def finished(self) -> bool:
        if self.coding == "gzip":
            return self._zlib.eof
        if self.coding == "br":
            return self._brotli.is_finished()  # type: ignore[no-any-return]
        return self._zstd.eof  # type: ignore[no-any-return]


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize(
    ("content_type", "chunks"),
    [
        pytest.param("text/event-stream", SSE, id="sse"),
        pytest.param("application/x-ndjson", NDJSON, id="ndjson"),
        pytest.param("text/html", (HTML[:300], HTML[300:900], HTML[900:]), id="html-stream"),
    ],
)
def test_each_chunk_decodes_at_once(coding: str, content_type: str, chunks: Any) -> None:
    headers, response = _start(
        CompressionPolicy.from_options(),
        [(b"content-type", content_type.encode())],
        coding.encode(),
    )
    assert response is not None
    if content_type != "text/html":
        # Streams by nature: the head leaves before the first event is produced.
        assert headers is not None and (b"content-encoding", coding.encode()) in headers
    client = _Client(coding)
    for chunk in chunks:
        assert client.feed(response.body(chunk, more=True)) == chunk
    assert client.feed(response.body(b"", more=False)) == b""
    assert client.finished()


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_empty_pieces_add_no_bytes(coding: str) -> None:
    response = _compressor(
        CompressionPolicy.from_options(), [(b"content-type", b"text/event-stream")], coding.encode()
    )
    response.body(b"data: 1\n\n", more=True)
    assert response.body(b"", more=True) == b""


def test_stream_memory_bounded_by_chunk() -> None:
    # 16 MB through gzip in 64 KB chunks: nothing accumulates between chunks.
    response = _compressor(
        CompressionPolicy.from_options(encodings=("gzip",)),
        [(b"content-type", b"text/plain")],
        b"gzip",
    )
    chunk = (b"0123456789abcdef" * 4096)[:65536]
    response.body(chunk, more=True)
    tracemalloc.start()
    try:
        for _ in range(256):
            response.body(chunk, more=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    response.body(b"", more=False)


def test_content_length_first_piece_is_the_whole_body() -> None:
    # A WSGI iterable cannot say "last", but a first piece of exactly Content-Length bytes is
    # the whole body: it gets an exact Content-Length.
    sent, response = _start(CompressionPolicy.from_options(), _raw(HTML_HEADERS), b"br")
    assert sent is None and response is not None
    wire = response.body(HTML, more=True)
    assert response.headers is not None
    assert (b"content-length", str(len(wire)).encode()) in response.headers
    assert response.body(b"", more=False) == b""
    assert brotli.decompress(wire) == HTML
    with pytest.raises(RuntimeError, match="after its response ended"):
        response.body(b"extra", more=False)


def test_trailers_mean_no_exact_length() -> None:
    sent, response = _start(
        CompressionPolicy.from_options(), _raw(HTML_HEADERS), b"br", trailers=True
    )
    assert sent is None and response is not None
    wire = response.body(HTML, more=False)
    assert response.headers == _raw(
        (HTML_HEADERS[0], ("content-encoding", "br"), ("vary", "Accept-Encoding"))
    )
    assert brotli.decompress(wire) == HTML


@pytest.mark.parametrize("coding", [b"gzip", b"br", b"zstd"])
def test_head_with_its_body_gets_the_get_head(coding: bytes) -> None:
    # RFC 9110 §9.3.2: the GET's fields, its exact Content-Length included, and no body. (A
    # head without a length is also what makes uWSGI's router chunk a bodiless answer: F2.)
    policy = CompressionPolicy.from_options()
    get, head = (
        policy.begin([(b"accept-encoding", coding)], head_request=h) for h in (False, True)
    )
    assert get.start(200, _raw(HTML_HEADERS)) is head.start(200, _raw(HTML_HEADERS)) is Phase.HELD
    wire = get.body(HTML, more=False)
    assert head.body(HTML, more=False) == b""
    assert head.headers == get.headers
    assert (b"content-length", str(len(wire)).encode()) in head.headers
    assert head.phase is Phase.DONE


@pytest.mark.parametrize(
    ("app_headers", "pieces"),
    [
        pytest.param(HTML_HEADERS, [(b"", False)], id="length-declared-no-body"),
        pytest.param(HTML_HEADERS[:1], [(b"", False)], id="no-length-no-body"),
        pytest.param(HTML_HEADERS[:1], [(HTML[:600], True), (HTML[600:], False)], id="streamed"),
        pytest.param(HTML_HEADERS, [(b"", True), (b"", False)], id="empty-pieces"),
    ],
)
def test_head_without_a_known_body_is_answered_as_a_stream(
    app_headers: Pairs, pieces: list[tuple[bytes, bool]]
) -> None:
    # The app may leave a HEAD's body out (Werkzeug, Starlette's FileResponse): the GET's
    # encoded length is then unknown, so no Content-Length is sent rather than a wrong one.
    sent, response = _start(
        CompressionPolicy.from_options(), _raw(app_headers), b"br", method="HEAD"
    )
    assert sent is None and response is not None
    assert [response.body(data, more) for data, more in pieces] == [b""] * len(pieces)
    assert response.headers == _raw(
        (HTML_HEADERS[0], ("content-encoding", "br"), ("vary", "Accept-Encoding"))
    )
    assert response.phase is Phase.DONE and response._encoder is None


def test_head_of_a_stream_type_leaves_at_once_without_an_encoder() -> None:
    sent, response = _start(
        CompressionPolicy.from_options(), [(b"content-type", b"text/event-stream")], b"gzip",
        method="HEAD",
    )  # fmt: skip
    assert response is not None and response._encoder is None
    assert sent == [
        (b"content-type", b"text/event-stream"),
        (b"content-encoding", b"gzip"),
        (b"vary", b"Accept-Encoding"),
    ]
    assert response.body(b"", more=False) == b""


@pytest.mark.parametrize(
    ("accept", "pieces", "vary"),
    [
        pytest.param(b"identity", [(b"OK", False)], False, id="identity-small-whole"),
        pytest.param(None, [(b"OK", False)], False, id="no-accept-encoding-small-whole"),
        pytest.param(b"identity", [(HTML, False)], True, id="identity-large-whole"),
        pytest.param(b"identity", [(b"OK", True), (b"", False)], True, id="identity-stream"),
        pytest.param(b"gzip", [(b"OK", False)], False, id="gzip-small-whole"),
    ],
)
def test_gzip_policy_decides_vary_by_the_body_as_starlette(
    accept: bytes | None, pieces: list[tuple[bytes, bool]], vary: bool
) -> None:
    # Starlette's GZipMiddleware adds Vary when the body could have been compressed: a body
    # of unknown length holds the start until its first piece says how large it is.
    headers = [(b"content-type", b"text/plain")]
    sent, response = _start(CompressionPolicy.for_gzip(), headers, accept)
    assert sent is None and response is not None
    assert [response.body(data, more) for data, more in pieces] == [data for data, _ in pieces]
    assert response.headers == headers + [(b"vary", b"Accept-Encoding")] * vary
    assert response.phase is Phase.DONE


def test_gzip_policy_head_without_its_body_varies() -> None:
    # The GET's size is unknown: it may be large enough to vary.
    sent, response = _start(
        CompressionPolicy.for_gzip(), [(b"content-type", b"text/plain")], b"identity",
        method="HEAD",
    )  # fmt: skip
    assert sent is None and response is not None
    assert response.body(b"", more=False) == b""
    assert response.headers == [(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding")]


def test_misuse_raises() -> None:
    policy = CompressionPolicy.from_options()
    response = policy.begin([(b"accept-encoding", b"gzip")], head_request=False)
    with pytest.raises(RuntimeError, match="before the response start"):
        response.body(b"x", more=False)
    assert response.start(200, _raw(HTML_HEADERS)) is Phase.HELD
    with pytest.raises(RuntimeError, match="already started"):
        response.start(200, _raw(HTML_HEADERS))


def test_a_head_that_must_leave_now_streams_its_body() -> None:
    # hold=False: a WSGI replacement start after the server already had one.
    response = CompressionPolicy.from_options().begin(
        [(b"accept-encoding", b"gzip")], head_request=False
    )
    sent = response.start(200, _raw(HTML_HEADERS), hold=False)
    assert sent == _raw(
        (HTML_HEADERS[0], ("content-encoding", "gzip"), ("vary", "Accept-Encoding"))
    )
    wire = response.body(HTML, more=True) + response.body(b"", more=False)
    assert gzip.decompress(wire) == HTML


def test_interim_and_untyped_heads_are_left_as_they_are() -> None:
    policy = CompressionPolicy.from_options()
    for status, headers in [(103, _raw(HTML_HEADERS)), (200, _raw(HTML_HEADERS[1:]))]:
        response = policy.begin([(b"accept-encoding", b"gzip")], head_request=False)
        assert response.start(status, headers) is headers
        assert response.phase is Phase.IDENTITY
        assert response.body(b"as it is", more=False) == b"as it is"
        assert response.phase is Phase.DONE


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_end_frees_the_encoder(coding: str) -> None:
    policy = CompressionPolicy.from_options()
    response = _compressor(policy, [(b"content-type", b"text/event-stream")], coding.encode())
    response.body(b"data: 1\n\n", more=True)
    response.end()
    response.end()
    assert response.phase is Phase.DONE
    assert response.body(b"", more=False) == b""


def test_zstd_contexts_are_reused() -> None:
    policy = CompressionPolicy.from_options(encodings=("zstd",))
    codec = policy.codecs[0]
    assert isinstance(codec, codecs.ZstdCodec)

    def stream(abandon: bool) -> None:
        response = _compressor(policy, [(b"content-type", b"text/event-stream")], b"zstd")
        client = _Client("zstd")
        assert client.feed(response.body(b"data: 1\n\n", more=True)) == b"data: 1\n\n"
        if abandon:
            response.end()
        else:
            client.feed(response.body(b"", more=False))
            assert client.finished()

    stream(abandon=True)
    assert len(codec._pool) == 1
    context = codec._pool[0]
    stream(abandon=False)  # starts a fresh frame on the abandoned stream's context
    assert codec._pool == [context]


# --- zstd window (RFC 9659) and brotli window -------------------------------------------------


@pytest.mark.parametrize("level", [-5, 3, 19, 20, 21, 22])
def test_zstd_window_within_8_mb(level: int) -> None:
    policy = CompressionPolicy.from_options(encodings=("zstd",), zstd_level=level)
    encoder = policy.codecs[0].encoder(None)
    frame = encoder.compress(b"data: 1\n\n")
    assert zstandard.get_frame_parameters(frame).window_size <= 8 * 1024 * 1024
    frame += encoder.finish()
    assert (
        zstandard.ZstdDecompressor(max_window_size=1 << 23).decompress(frame, max_output_size=100)
        == b"data: 1\n\n"
    )


@pytest.mark.parametrize("level", [20, 22])
def test_zstd_ultra_level_whole_body_over_8_mb(level: int) -> None:
    # A known size would let zstd open a 16 MB window for 9 MB; the cap holds there too.
    body = HTML * (9 * 1024 * 1024 // len(HTML) + 1)
    policy = CompressionPolicy.from_options(encodings=("zstd",), zstd_level=level)
    frame = policy.codecs[0].compress_whole(body)
    assert zstandard.get_frame_parameters(frame).window_size == 8 * 1024 * 1024
    decoder = zstandard.ZstdDecompressor(max_window_size=1 << 23)
    assert decoder.decompress(frame) == body


def test_zstd_ultra_level_tables_fit_the_window() -> None:
    # zstd sizes its tables to the window only for a body of known size; a stream at level 22
    # would otherwise allocate about 640 MB of them.
    options = codecs._zstd_options(22)
    parameters = options["compression_params"]
    assert (parameters.window_log, parameters.hash_log, parameters.chain_log) == (23, 24, 24)
    assert parameters.estimated_compression_context_size() < 160 * 1024 * 1024
    assert codecs._zstd_options(19) == {"level": 19}


def test_zstd_whole_body_records_its_size() -> None:
    frame = CompressionPolicy.from_options(encodings=("zstd",)).codecs[0].compress_whole(HTML)
    parameters = zstandard.get_frame_parameters(frame)
    assert parameters.content_size == len(HTML)
    assert parameters.window_size <= 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("size", "lgwin"),
    [(None, 22), (0, 10), (1000, 10), (1008, 10), (1009, 11), (50_000, 16), (10**9, 22)],
)
def test_brotli_window_sized_to_the_body(size: int | None, lgwin: int) -> None:
    assert brotli_window(size) == lgwin
    if size is not None and size <= 50_000:
        assert (1 << lgwin) - 16 >= size


# --- Negotiation --------------------------------------------------------------------------------

OFFER = (Coding.ZSTD, Coding.BR, Coding.GZIP)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        pytest.param(b"gzip, deflate, br, zstd", Coding.ZSTD, id="browser"),
        pytest.param(b"gzip;q=1.0, br;q=0.999", Coding.GZIP, id="three-decimals"),
        pytest.param(b"br;q=0.001", Coding.BR, id="lowest-weight-still-acceptable"),
        pytest.param(b"br;q=0.001, identity;q=0.002", None, id="identity-heavier"),
        pytest.param(b"br;q=0.5, *;q=0.5", Coding.ZSTD, id="wildcard-ties-server-order"),
        pytest.param(b"*;q=0.5, identity", None, id="identity-over-wildcard"),
        pytest.param(b"*;q=0.5, identity;q=0.5", Coding.ZSTD, id="identity-loses-ties"),
        pytest.param(b"gzip;q=0, gzip", None, id="first-mention-counts"),
        pytest.param(b"gzip;level=1;q=0.5, br;q=0.4", Coding.GZIP, id="other-parameters"),
        pytest.param(b"gzip;q=0.5;q=0", None, id="repeated-q-last-wins"),
        pytest.param(b"identity", None, id="identity-only"),
        pytest.param(b"\xff\xfe", None, id="binary"),
        pytest.param(b"gzip\x00", None, id="nul"),
        pytest.param(b"br;q=0.5,,,gzip;q=0.4,", Coding.BR, id="empty-members"),
    ],
)
def test_choose_coding(accept: bytes, chosen: Coding | None) -> None:
    assert choose_coding(accept, OFFER) is chosen


def test_negotiation_cache_is_bounded() -> None:
    policy = CompressionPolicy.from_options()
    for n in range(2000):
        policy.negotiate(b"gzip;q=0.%03d" % (n % 1000) + b", br" * (n // 1000))
    assert 0 < len(policy._negotiated) <= 256


def test_long_accept_encoding_not_parsed_or_cached() -> None:
    policy = CompressionPolicy.from_options()
    long_value = b"gzip;q=0.5, " * 850 + b"br"
    assert len(long_value) > 10_000
    assert policy.negotiate(long_value) is None
    assert long_value not in policy._negotiated


def test_media_type_cache_is_bounded() -> None:
    policy = CompressionPolicy.from_options()
    for n in range(1000):
        response = policy.begin([], head_request=False)
        response.start(200, [(b"content-type", b"multipart/mixed; boundary=%d" % n)])
    assert 0 < len(policy._media) <= 256


def test_zstd_skipped_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codecs, "_zstandard", None)
    policy = CompressionPolicy.from_options()
    assert [codec.coding for codec in policy.codecs] == [Coding.BR, Coding.GZIP]
    assert policy.negotiate(b"zstd, gzip") is policy.codecs[1]
    assert policy.negotiate(b"zstd") is None
    assert CompressionPolicy.from_options(encodings=("zstd",)).codecs == ()
    decoding = CompressionPolicy.from_options(decompress_requests=True).request(
        [(b"content-encoding", b"zstd")]
    )
    assert decoding is not None and decoding.done
    assert decoding.rejection is not None and decoding.rejection.status == 415
    assert codecs.decodable_tokens() == (b"gzip", b"deflate", b"br")


# --- Request bodies -----------------------------------------------------------------------------


def _decode_request(case: RequestCase, piece: int) -> tuple[int, Headers, bytes]:
    """What the adapters do: ask the policy, take the body in pieces, answer or call the app."""
    policy = CompressionPolicy.from_options(**case.options)
    headers = _raw(case.request_headers)
    decoding = policy.request(headers)
    if decoding is None:
        return 200, headers, case.body
    pieces = iter(range(0, len(case.body), piece) or [0])
    while not decoding.done:
        start = next(pieces)
        decoding.take(case.body[start : start + piece], more=start + piece < len(case.body))
    if decoding.rejection is not None:
        rejection = decoding.rejection
        return rejection.status, list(rejection.headers), rejection.body
    body = decoding.body()
    return 200, decoded_request_headers(headers, len(body)), body


@pytest.mark.parametrize("piece", [7, 1000, 1 << 30], ids=["7-bytes", "1000-bytes", "whole"])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_case(case: RequestCase, piece: int) -> None:
    status, headers, body = _decode_request(case, piece)
    assert status == case.status
    if status != 200:
        assert body == case.answer
        assert (b"content-length", str(len(body)).encode()) in headers
        return
    assert body == case.app_body
    content_encoding = [value for name, value in headers if name == b"content-encoding"]
    expected = case.app_content_encoding
    assert content_encoding == ([expected.encode()] if expected else [])
    assert (b"content-length", str(len(body)).encode()) in headers


def test_declared_length_over_limit_rejected_before_reading() -> None:
    policy = CompressionPolicy.from_options(decompress_requests=True, max_request_size=100)
    decoding = policy.request([(b"content-encoding", b"gzip"), (b"content-length", b"101")])
    assert decoding is not None and decoding.done
    assert decoding.rejection is not None and decoding.rejection.status == 413


def test_encoded_bytes_count_toward_the_limit() -> None:
    # Empty gzip members decode to nothing; a stream of them still ends at the limit.
    empty = gzip.compress(b"")
    policy = CompressionPolicy.from_options(decompress_requests=True, max_request_size=1000)
    decoding = policy.request([(b"content-encoding", b"gzip")])
    assert isinstance(decoding, RequestDecoder)
    results = [decoding.feed(empty, more=True) for _ in range(60)]
    assert results[0] == b""
    assert isinstance(results[-1], Response) and results[-1].status == 413
    assert decoding.feed(b"", more=False) is results[-1]


@pytest.mark.parametrize(
    ("coding", "bomb"),
    [
        ("gzip", lambda data: zlib.compress(data, 9, wbits=31)),
        ("br", lambda data: brotli.compress(data, quality=5)),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_bomb_never_expands_in_memory(coding: str, bomb: Any) -> None:
    limit = 1_000_000
    body = bomb(b"\0" * 20_000_000)  # 20 MB from at most 20 KB
    assert len(body) * 1000 <= 20_000_000
    policy = CompressionPolicy.from_options(decompress_requests=True, max_request_size=limit)
    decoding = policy.request([(b"content-encoding", coding.encode())])
    assert isinstance(decoding, RequestDecoder)
    tracemalloc.start()
    try:
        result = decoding.feed(body, more=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, Response) and result.status == 413
    assert peak < 5 * limit


def test_decoders_reject_data_after_a_deflate_stream() -> None:
    decoder = decoder_for(b"deflate")
    assert decoder is not None
    with pytest.raises(codecs.DecodeError):
        decoder.feed(zlib.compress(b"abc") + b"x", 100)


def test_zstd_frames_concatenated() -> None:
    frames = zstandard.ZstdCompressor().compress(b"one ") + zstandard.ZstdCompressor().compress(
        b"two"
    )
    decoder = decoder_for(b"zstd")
    assert decoder is not None
    assert decoder.feed(frames, 100) == b"one two"
    decoder.end()


@pytest.mark.parametrize("piece", [65_536, 1 << 30], ids=["64-KiB", "whole"])
@pytest.mark.parametrize("case", BOMB_CASES)
def test_decoding_bomb_answered_in_bounded_work(case: BombCase, piece: int) -> None:
    # Issue 16: 41 bytes ("gzip, br") cost minutes of CPU. Every shape now gets its documented
    # answer in a small fraction of the budget, whether the body arrives whole or as a server
    # hands it over.
    request = case.request_case()
    started = time.perf_counter()
    status, headers, body = _decode_request(request, piece)
    elapsed = time.perf_counter() - started
    assert status == request.status
    assert body == (request.app_body if status == 200 else request.answer)
    assert elapsed < BOMB_SECONDS, f"{elapsed:.2f} s"


@pytest.mark.parametrize("coding", [b"gzip", b"zstd"])
def test_members_are_counted_across_feeds(coding: bytes) -> None:
    empty = gzip.compress(b"") if coding == b"gzip" else zstandard.ZstdCompressor().compress(b"")
    decoder = decoder_for(coding)
    assert decoder is not None
    for _ in range(codecs.MAX_MEMBERS):
        assert decoder.feed(empty, 100) == b""
    decoder.end()
    with pytest.raises(codecs.TooManyMembers):
        decoder.feed(empty, 100)


def test_decoders_take_their_input_in_bounded_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a decoder is handed at once (a chain's whole intermediate stream) reaches zlib and
    # brotli in slices, so nothing past a slice is ever copied for a member's unused data.
    seen: list[int] = []

    class Spy:
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def __getattr__(self, name: str) -> Any:
            return getattr(self._stream, name)

        def decompress(self, data: Any, *args: Any) -> Any:
            seen.append(len(data))
            return self._stream.decompress(data, *args)

        def process(self, data: Any, **kwargs: Any) -> Any:
            seen.append(len(data))
            return self._stream.process(data, **kwargs)

    real_zlib = zlib.decompressobj
    monkeypatch.setattr(codecs.zlib, "decompressobj", lambda wbits: Spy(real_zlib(wbits)))
    real_brotli = brotli.Decompressor
    monkeypatch.setattr(codecs.brotli, "Decompressor", lambda: Spy(real_brotli()))
    body = bytes(range(256)) * 4096  # 1 MiB, incompressible enough to stay large
    for coding, encoded in [(b"gzip", gzip.compress(body)), (b"br", brotli.compress(body))]:
        seen.clear()
        decoder = decoder_for(coding)
        assert decoder is not None
        assert decoder.feed(encoded, len(body)) == body
        assert seen and max(seen) <= codecs.DECODE_SLICE


def test_decoded_request_headers() -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-encoding", b"gzip"),
        (b"content-length", b"42"),
        (b"x-other", b"1"),
    ]
    assert decoded_request_headers(headers, 1000) == [
        (b"content-type", b"application/json"),
        (b"x-other", b"1"),
        (b"content-length", b"1000"),
    ]


# --- Configuration ------------------------------------------------------------------------------


def bad(id: str, options: dict[str, Any], error: type[Exception], message: str) -> Any:
    return pytest.param(options, error, message, id=id)


BAD_OPTIONS = [
    bad("minimum-size-negative", {"minimum_size": -1}, ValueError,
        "minimum_size must be at least 0, got -1."),
    bad("minimum-size-str", {"minimum_size": "500"}, TypeError,
        "minimum_size must be an integer number of bytes, got '500'."),
    bad("minimum-size-bool", {"minimum_size": True}, TypeError,
        "minimum_size must be an integer number of bytes, got True."),
    bad("encodings-str", {"encodings": "gzip"}, TypeError,
        "encodings must be a list or tuple of strings, got 'gzip'."),
    bad("encodings-empty", {"encodings": ()}, ValueError,
        "encodings must name at least one of 'zstd', 'br', 'gzip', got ()."),
    bad("encodings-unknown", {"encodings": ("gzip", "deflate")}, ValueError,
        "encodings entries must be 'zstd', 'br' or 'gzip', got 'deflate'."),
    bad("encodings-twice", {"encodings": ("gzip", "gzip")}, ValueError,
        "encodings lists 'gzip' twice."),
    bad("encodings-bytes", {"encodings": (b"gzip",)}, TypeError,
        "encodings must contain only strings, got b'gzip'."),
    bad("gzip-level-range", {"gzip_level": 10}, ValueError,
        "gzip_level must be from -1 to 9, got 10."),
    bad("gzip-level-float", {"gzip_level": 6.0}, TypeError,
        "gzip_level must be an integer, got 6.0."),
    bad("brotli-quality-range", {"brotli_quality": 12}, ValueError,
        "brotli_quality must be from 0 to 11, got 12."),
    bad("zstd-level-high", {"zstd_level": 23}, ValueError,
        "zstd_level must be from -131072 to 22, got 23."),
    bad("zstd-level-low", {"zstd_level": -131073}, ValueError,
        "zstd_level must be from -131072 to 22, got -131073."),
    bad("zstd-level-str", {"zstd_level": "3"}, TypeError,
        "zstd_level must be an integer, got '3'."),
    bad("types-str", {"compressible_types": "text/html"}, TypeError,
        "compressible_types must be a list or tuple of strings, got 'text/html'."),
    bad("types-no-slash", {"compressible_types": ("json",)}, ValueError,
        "compressible_types entries must be media types such as 'text/html', 'text/*' or "
        "'*/*+json', got 'json'."),
    bad("types-star-inside", {"compressible_types": ("text/*html",)}, ValueError,
        "compressible_types entries must be media types such as 'text/html', 'text/*' or "
        "'*/*+json', got 'text/*html'."),
    bad("types-space", {"compressible_types": ("te xt/html",)}, ValueError,
        "compressible_types entries must be media types such as 'text/html', 'text/*' or "
        "'*/*+json', got 'te xt/html'."),
    bad("types-star-type-named-subtype", {"compressible_types": ("*/html",)}, ValueError,
        "compressible_types entries must be media types such as 'text/html', 'text/*' or "
        "'*/*+json', got '*/html'."),
    bad("exclude-paths-relative", {"exclude_paths": ("static/",)}, ValueError,
        "exclude_paths entries must start with '/', got 'static/'."),
    bad("exclude-paths-none", {"exclude_paths": None}, TypeError,
        "exclude_paths must be a list or tuple of strings, got None."),
    bad("decompress-requests-int", {"decompress_requests": 1}, TypeError,
        "decompress_requests must be True or False, got 1."),
    bad("max-request-size-zero", {"max_request_size": 0}, ValueError,
        "max_request_size must be at least 1, got 0."),
]  # fmt: skip

BAD_GZIP_OPTIONS = [
    bad("compresslevel-range", {"compresslevel": 42}, ValueError,
        "compresslevel must be from -1 to 9, got 42."),
    bad("thread-minimum-size-negative", {"thread_minimum_size": -1}, ValueError,
        "thread_minimum_size must be at least 0, got -1."),
    bad("exclude-content-types-no-slash", {"exclude_content_types": ("video",)}, ValueError,
        "exclude_content_types entries must be media types such as 'text/html', 'text/*' or "
        "'*/*+json', got 'video'."),
]  # fmt: skip


@pytest.mark.parametrize(("options", "error", "message"), BAD_OPTIONS)
def test_bad_options(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=_literal(message)):
        CompressionPolicy.from_options(**options)


@pytest.mark.parametrize(("options", "error", "message"), BAD_GZIP_OPTIONS)
def test_bad_gzip_options(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=_literal(message)):
        CompressionPolicy.for_gzip(**options)


def _literal(message: str) -> str:
    return "^" + re.escape(message) + "$"


def test_options_accept_any_iterable() -> None:
    policy = CompressionPolicy.from_options(
        encodings=["gzip", "br"],
        compressible_types=iter(["TEXT/HTML; charset=utf-8", "application/*+json"]),
        exclude_paths=["/a", "/b/"],
    )
    assert [codec.coding for codec in policy.codecs] == [Coding.GZIP, Coding.BR]
    assert policy.compressible.patterns == frozenset({b"text/html", b"application/*+json"})
    assert policy.exact_paths == frozenset({"/a"}) and policy.path_prefixes == ("/b/",)


def test_gzip_policy_defaults() -> None:
    policy = CompressionPolicy.for_gzip()
    assert [codec.coding for codec in policy.codecs] == [Coding.GZIP]
    assert policy.minimum_size == 500
    assert policy.thread_minimum_size == 131_072
    assert policy.excluded.patterns == frozenset(
        entry.encode() for entry in DEFAULT_EXCLUDED_CONTENT_TYPES
    )
    assert len(DEFAULT_EXCLUDED_CONTENT_TYPES) == 14
    gzip_codec = policy.codecs[0]
    assert isinstance(gzip_codec, codecs.GzipCodec) and gzip_codec.level == 9


def test_policy_is_frozen() -> None:
    policy = CompressionPolicy.from_options()
    assert "ZstdCodec(level=3), BrotliCodec(quality=4), GzipCodec(level=6)" in repr(policy)
    with pytest.raises(AttributeError):
        policy.minimum_size = 1  # type: ignore[misc]


def test_excluded_paths() -> None:
    policy = CompressionPolicy.from_options(exclude_paths=("/x", "/static/"))
    assert policy.filters_paths
    assert policy.excludes("/x") and policy.excludes("/static/app.js")
    assert not policy.excludes("/x/y") and not policy.excludes("/static")
    assert not CompressionPolicy.from_options().filters_paths


def test_capitalised_header_names_are_read_and_lower_cased() -> None:
    # Django's ASGI handler keeps HttpResponse's capitalisation (b"Content-Type").
    app_headers = [
        (b"Content-Type", b"text/html"),
        (b"Content-Length", str(len(HTML)).encode()),
        (b"ETag", b'"v"'),
        (b"Vary", b"Cookie"),
        (b"X-Frame-Options", b"DENY"),
    ]
    sent, response = _start(CompressionPolicy.from_options(), app_headers, b"br")
    assert sent is None and response is not None
    wire = response.body(HTML, more=False)
    assert response.headers == [
        (b"content-type", b"text/html"),
        (b"etag", b'W/"v"'),
        (b"vary", b"Cookie, Accept-Encoding"),
        (b"x-frame-options", b"DENY"),
        (b"content-encoding", b"br"),
        (b"content-length", str(len(wire)).encode()),
    ]


@pytest.mark.parametrize(
    "name",
    [b"Content-Encoding", b"CONTENT-ENCODING", b"content-Encoding"],
    ids=["title", "upper", "mixed"],
)
def test_capitalised_content_encoding_still_blocks(name: bytes) -> None:
    headers, response = _start(
        CompressionPolicy.from_options(), [(b"content-type", b"text/html"), (name, b"gzip")], b"br"
    )
    assert headers == [
        (b"content-type", b"text/html"),
        (b"content-encoding", b"gzip"),
        (b"vary", b"Accept-Encoding"),
    ]
    assert response is None  # the body goes out as the app sent it


def test_capitalised_identity_vary_not_duplicated() -> None:
    headers, _ = _start(
        CompressionPolicy.from_options(),
        [(b"Content-Type", b"text/html"), (b"Vary", b"Accept-Encoding")],
        None,
    )
    assert headers == [(b"content-type", b"text/html"), (b"vary", b"Accept-Encoding")]


@pytest.mark.parametrize("engine", ["zlib-ng", "zlib"], ids=["zlib-ng", "stdlib-zlib"])
def test_gzip_streams_decode_with_the_stdlib_whichever_engine_wrote_them(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine == "zlib":
        # A platform without zlib-ng wheels encodes with the stdlib's zlib.
        monkeypatch.setattr(codecs, "_deflate", zlib)
    else:
        assert codecs._deflate is not zlib, "zlib-ng is a dependency: it should be in use"
    codec = codecs.GzipCodec(level=6)
    encoder = codec.encoder(None)
    pieces = [b"data: one\n\n", b"", b"data: two\n\n" * 50]
    wire = [encoder.compress(piece) for piece in pieces]
    # Each flushed piece decodes on its own: a client sees it before the next is written.
    live = zlib.decompressobj(31)
    assert [live.decompress(chunk) for chunk in wire] == pieces
    tail = encoder.finish()
    assert gzip.decompress(b"".join(wire) + tail) == b"".join(pieces)
    whole = codec.compress_whole(b"x" * 10_000)
    assert gzip.decompress(whole) == b"x" * 10_000 and len(whole) < 100

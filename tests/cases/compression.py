"""Compression case tables: one request, one app response, the exact expected answer.

Plain data shared by ``tests/core/test_compression.py`` (run against ``CompressionPolicy``) and
the parity tests (run through the WSGI and ASGI classes). Headers are native-string pairs with
lower-case names, as the test drivers use them; the core tests encode them as latin-1.

A response with one chunk is sent whole (one ASGI message, one WSGI item); several chunks are a
stream. Whole bodies carry a Content-Length, as Flask, Django and Starlette set one, so both
protocols know their size. ``ENCODED_LENGTH`` in an expected header stands for the length of the
encoded body actually sent.

``CASES``: negotiation, every skip rule and every header rule of SPEC's Compression section.
``REQUEST_CASES``: request bodies under ``decompress_requests``.
``BOMB_CASES``: request bodies built to make the decoders work (issue 16), 10 MiB each, built
when a test asks for them.
"""

from __future__ import annotations

import gzip
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

import brotli
import pytest
import zstandard

from middleware.core.codecs import MAX_MEMBERS
from tests.cases.decoding_bombs import SHAPES, MiB, in_br, zstd_skippable_frames

Pairs = tuple[tuple[str, str], ...]

ENCODED_LENGTH = "<length of the encoded body>"

HTML = b"<p>" + b"Hello, compression! " * 60 + b"</p>"  # 1207 bytes, compresses well
HTML_HEADERS: Pairs = (
    ("content-type", "text/html; charset=utf-8"),
    ("content-length", str(len(HTML))),
)
ALL = "gzip, deflate, br, zstd"  # what browsers send
ZSTD_WINDOW = 8 * 1024 * 1024  # RFC 9659: the most a zstd frame in HTTP may ask a client for
VARY = ("vary", "Accept-Encoding")


def encoded(coding: str, *before: tuple[str, str]) -> Pairs:
    """HTML's headers once compressed whole: the app's fields (``before`` replaces them), then
    Content-Encoding, the exact encoded length, Vary."""
    fields = before or HTML_HEADERS[:1]
    return (*fields, ("content-encoding", coding), ("content-length", ENCODED_LENGTH), VARY)


def streamed(coding: str, content_type: str) -> Pairs:
    return (("content-type", content_type), ("content-encoding", coding), VARY)


IDENTITY: Pairs = (*HTML_HEADERS, VARY)  # left as it is, but it varies by Accept-Encoding


@dataclass(frozen=True, kw_only=True)
class Case:
    options: dict[str, Any] = field(default_factory=dict)
    gzip_middleware: bool = False  # GZipMiddleware (``options`` are its) instead
    method: str = "GET"
    path: str = "/"
    accept_encoding: str | None = ALL
    status: int = 200
    app_headers: Pairs = HTML_HEADERS
    chunks: tuple[bytes, ...] = (HTML,)
    # Expected: the response head and the coding of the body (None: the body as the app sent
    # it); the body decodes to ``body`` (the app's chunks joined unless given).
    response_headers: Pairs = IDENTITY
    encoding: str | None = None
    body: bytes | None = None

    @property
    def request_headers(self) -> Pairs:
        if self.accept_encoding is None:
            return ()
        return (("accept-encoding", self.accept_encoding),)

    @property
    def expected_body(self) -> bytes:
        return b"".join(self.chunks) if self.body is None else self.body


def case(id: str, **kw: Any) -> Any:
    return pytest.param(Case(**kw), id=id)


def gets(id: str, accept_encoding: str | None, coding: str | None, **kw: Any) -> Any:
    """HTML for ``accept_encoding``: compressed with ``coding``, or sent as it is."""
    if coding is None:
        return case(id, accept_encoding=accept_encoding, **kw)
    return case(
        id, accept_encoding=accept_encoding, response_headers=encoded(coding), encoding=coding, **kw
    )


SSE = (b"data: one\n\n", b"data: two\n\n", b"data: three\n\n")
NDJSON = (b'{"n": 1}\n', b'{"n": 2}\n', b'{"n": 3}\n')
PNG: Pairs = (("content-type", "image/png"), ("content-length", str(len(HTML))))
GZIPPED = gzip.compress(HTML)
NOISE = random.Random(3).randbytes(2000)  # labelled text, but encoding would only add bytes
# What the GET of HTML gets at the default zstd level: its HEAD must say the same length.
ZSTD_HTML_LENGTH = str(len(zstandard.ZstdCompressor(level=3).compress(HTML)))

CASES = [
    # --- Negotiation (RFC 9110 §12.5.3): the client's weights first, then the server's order.
    gets("all-codings-zstd-first", ALL, "zstd"),
    gets("gzip-only", "gzip", "gzip"),
    gets("br-only", "br", "br"),
    gets("zstd-only", "zstd", "zstd"),
    gets("client-weights-win", "zstd;q=0.1, br;q=0.5, gzip;q=1", "gzip"),
    gets("equal-weights-server-order", "gzip;q=0.8, br;q=0.8", "br"),
    gets("server-order-option", "br, gzip", "gzip", options={"encodings": ("gzip", "br")}),
    gets("uppercase-tokens", "GZIP, BR;Q=0.5", "gzip"),
    gets("whitespace", "  gzip ;  q=0.2 ,\tbr ; q=0.9  ", "br"),
    gets("x-gzip-is-gzip", "x-gzip", "gzip"),
    gets("gzip-q0-refused", "gzip;q=0", None),
    gets("gzip-q0-br-allowed", "gzip;q=0, br", "br"),
    gets("wildcard-any", "*", "zstd"),
    gets("wildcard-minus-refused", "zstd;q=0, br;q=0, *", "gzip"),
    gets("wildcard-q0", "*;q=0", None),
    gets("identity-preferred", "gzip;q=0.5, identity", None),
    gets("identity-q0-alone-no-406", "identity;q=0", None),
    gets("nothing-acceptable-no-406", "*;q=0, identity;q=0", None),
    gets("deflate-only-not-offered", "deflate", None),
    gets("unknown-coding", "compress, lzma", None),
    gets("no-accept-encoding", None, None),
    gets("empty-accept-encoding", "", None),
    gets("encodings-br-only-client-gzip", "gzip", None, options={"encodings": ("br",)}),
    # Junk: a member with an invalid weight is dropped, the rest still counts.
    gets("q-not-a-number", "gzip;q=abc", None),
    gets("q-not-a-number-others-count", "gzip;q=abc, br", "br"),
    gets("q-above-one", "br;q=2, gzip", "gzip"),
    gets("q-empty", "gzip;q=", None),
    gets("q-four-decimals", "gzip;q=0.5000", None),
    gets("non-ascii-token", "gz\xefp, br", "br"),
    gets("only-commas", ",,, ,", None),
    gets("long-accept-encoding-ignored", "gzip;q=0.5, " * 850 + "br", None),
    # --- Skipped, with Vary (the type is compressible, so the answer varies by Accept-Encoding).
    case(
        "status-204",
        status=204,
        app_headers=HTML_HEADERS[:1],
        chunks=(b"",),
        response_headers=(*HTML_HEADERS[:1], VARY),
    ),
    case(
        "status-205",
        status=205,
        app_headers=HTML_HEADERS[:1],
        chunks=(b"",),
        response_headers=(*HTML_HEADERS[:1], VARY),
    ),
    case("status-304", status=304, chunks=(b"",)),
    case(
        "status-206-partial",
        status=206,
        app_headers=(*HTML_HEADERS, ("content-range", f"bytes 0-{len(HTML) - 1}/5000")),
        response_headers=(*HTML_HEADERS, ("content-range", f"bytes 0-{len(HTML) - 1}/5000"), VARY),
    ),
    case(
        "content-range-on-200",
        app_headers=(*HTML_HEADERS, ("content-range", "bytes */5000")),
        response_headers=(*HTML_HEADERS, ("content-range", "bytes */5000"), VARY),
    ),
    case(
        "app-content-encoding-kept",
        app_headers=(
            ("content-type", "text/html"),
            ("content-encoding", "gzip"),
            ("content-length", str(len(GZIPPED))),
        ),
        chunks=(GZIPPED,),
        response_headers=(
            ("content-type", "text/html"),
            ("content-encoding", "gzip"),
            ("content-length", str(len(GZIPPED))),
            VARY,
        ),
    ),
    case(
        "app-content-encoding-identity-kept",
        app_headers=(*HTML_HEADERS, ("content-encoding", "identity")),
        response_headers=(*HTML_HEADERS, ("content-encoding", "identity"), VARY),
    ),
    case(
        "cache-control-no-transform",
        app_headers=(*HTML_HEADERS, ("cache-control", "public, No-Transform")),
        response_headers=(*HTML_HEADERS, ("cache-control", "public, No-Transform"), VARY),
    ),
    case(
        "small-by-content-length",
        app_headers=(HTML_HEADERS[0], ("content-length", "499")),
        chunks=(HTML[:499],),
        response_headers=(HTML_HEADERS[0], ("content-length", "499"), VARY),
    ),
    case(
        # Conflicting lengths say nothing of the size (RFC 9112 §6.3): the small last one
        # does not make the body small, and both go (a stream, so no exact length either).
        "conflicting-content-lengths-are-unknown",
        app_headers=(HTML_HEADERS[0], ("content-length", str(len(HTML))), ("content-length", "10")),
        chunks=(HTML[:600], HTML[600:]),
        response_headers=streamed("zstd", HTML_HEADERS[0][1]),
        encoding="zstd",
    ),
    case(
        "minimum-size-reached",
        app_headers=(HTML_HEADERS[0], ("content-length", "500")),
        chunks=(HTML[:500],),
        response_headers=encoded("zstd"),
        encoding="zstd",
    ),
    case(
        "minimum-size-option",
        options={"minimum_size": 2000},
        response_headers=IDENTITY,
    ),
    case(
        "empty-body",
        options={"minimum_size": 0},
        app_headers=(HTML_HEADERS[0], ("content-length", "0")),
        chunks=(b"",),
        response_headers=(HTML_HEADERS[0], ("content-length", "0"), VARY),
    ),
    case(
        "incompressible-body-sent-as-is",
        app_headers=(HTML_HEADERS[0], ("content-length", str(len(NOISE)))),
        chunks=(NOISE,),
        response_headers=(HTML_HEADERS[0], ("content-length", str(len(NOISE))), VARY),
    ),
    # --- Skipped without Vary: not a compressible type, or the path is excluded.
    case("image-not-compressible", app_headers=PNG, response_headers=PNG),
    case(
        "no-content-type",
        app_headers=HTML_HEADERS[1:],
        response_headers=HTML_HEADERS[1:],
    ),
    case(
        "compressible-types-replaced",
        options={"compressible_types": ("application/json",)},
        response_headers=HTML_HEADERS,
    ),
    case(
        "exclude-paths-exact",
        options={"exclude_paths": ("/download",)},
        path="/download",
        response_headers=HTML_HEADERS,
    ),
    case(
        "exclude-paths-prefix",
        options={"exclude_paths": ("/files/",)},
        path="/files/report.html",
        response_headers=HTML_HEADERS,
    ),
    gets(
        "exclude-paths-other-path",
        ALL,
        "zstd",
        options={"exclude_paths": ("/files/",)},
        path="/filesystem",
    ),
    # --- Types: allow-list patterns, suffixes, parameters, case.
    case(
        "json-api-suffix",
        app_headers=(("content-type", "application/vnd.api+json"), HTML_HEADERS[1]),
        response_headers=encoded("zstd", ("content-type", "application/vnd.api+json")),
        encoding="zstd",
    ),
    case(
        "svg",
        app_headers=(("content-type", "image/svg+xml"), HTML_HEADERS[1]),
        response_headers=encoded("zstd", ("content-type", "image/svg+xml")),
        encoding="zstd",
    ),
    case(
        "content-type-uppercase-with-parameters",
        app_headers=(("content-type", "Text/HTML ; Charset=UTF-8"), HTML_HEADERS[1]),
        response_headers=encoded("zstd", ("content-type", "Text/HTML ; Charset=UTF-8")),
        encoding="zstd",
    ),
    # --- Header rules when compressing.
    case(
        "strong-etag-made-weak",
        app_headers=(*HTML_HEADERS, ("etag", '"v1"')),
        response_headers=encoded("zstd", HTML_HEADERS[0], ("etag", 'W/"v1"')),
        encoding="zstd",
    ),
    case(
        "weak-etag-kept",
        app_headers=(*HTML_HEADERS, ("etag", 'W/"v1"')),
        response_headers=encoded("zstd", HTML_HEADERS[0], ("etag", 'W/"v1"')),
        encoding="zstd",
    ),
    case(
        "accept-ranges-dropped",
        app_headers=(*HTML_HEADERS, ("accept-ranges", "bytes")),
        response_headers=encoded("zstd"),
        encoding="zstd",
    ),
    case(
        "vary-merged",
        app_headers=(("vary", "Cookie"), *HTML_HEADERS),
        response_headers=(
            ("vary", "Cookie, Accept-Encoding"),
            HTML_HEADERS[0],
            ("content-encoding", "zstd"),
            ("content-length", ENCODED_LENGTH),
        ),
        encoding="zstd",
    ),
    case(
        "vary-not-duplicated",
        app_headers=(*HTML_HEADERS, ("vary", "accept-encoding")),
        response_headers=(
            HTML_HEADERS[0],
            ("vary", "accept-encoding"),
            ("content-encoding", "zstd"),
            ("content-length", ENCODED_LENGTH),
        ),
        encoding="zstd",
    ),
    case(
        "vary-star-kept",
        app_headers=(*HTML_HEADERS, ("vary", "*")),
        response_headers=(
            HTML_HEADERS[0],
            ("vary", "*"),
            ("content-encoding", "zstd"),
            ("content-length", ENCODED_LENGTH),
        ),
        encoding="zstd",
    ),
    case(
        "vary-fields-coalesced-identity",
        accept_encoding=None,
        app_headers=(("vary", "Cookie"), *HTML_HEADERS, ("vary", "Origin")),
        response_headers=(("vary", "Cookie, Origin, Accept-Encoding"), *HTML_HEADERS),
    ),
    case(
        "vary-already-there-identity",
        accept_encoding=None,
        app_headers=(*HTML_HEADERS, ("vary", "Accept-Encoding")),
        response_headers=(*HTML_HEADERS, ("vary", "Accept-Encoding")),
    ),
    # --- Streams: no Content-Length, compressed whatever their size, flushed per chunk.
    case(
        "stream-compressed",
        app_headers=HTML_HEADERS[:1],
        chunks=(HTML[:600], HTML[600:]),
        response_headers=streamed("zstd", "text/html; charset=utf-8"),
        encoding="zstd",
    ),
    case(
        "stream-small-still-compressed",
        accept_encoding="gzip",
        app_headers=HTML_HEADERS[:1],
        chunks=(b"a", b"b"),
        response_headers=streamed("gzip", "text/html; charset=utf-8"),
        encoding="gzip",
    ),
    case(
        "stream-content-length-dropped",
        accept_encoding="br",
        chunks=(HTML[:600], HTML[600:]),
        response_headers=streamed("br", "text/html; charset=utf-8"),
        encoding="br",
    ),
    case(
        "sse-compressed",
        accept_encoding="gzip",
        app_headers=(("content-type", "text/event-stream"), ("cache-control", "no-cache")),
        chunks=SSE,
        response_headers=(
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
            ("content-encoding", "gzip"),
            VARY,
        ),
        encoding="gzip",
    ),
    case(
        "ndjson-compressed",
        accept_encoding="br",
        app_headers=(("content-type", "application/x-ndjson"),),
        chunks=NDJSON,
        response_headers=streamed("br", "application/x-ndjson"),
        encoding="br",
    ),
    # --- HEAD: the GET's headers, no body.
    case(
        "head-compressible",
        method="HEAD",
        chunks=(b"",),
        response_headers=(HTML_HEADERS[0], ("content-encoding", "zstd"), VARY),
        body=b"",
    ),
    case(
        "head-small",
        method="HEAD",
        app_headers=(HTML_HEADERS[0], ("content-length", "20")),
        chunks=(b"",),
        response_headers=(HTML_HEADERS[0], ("content-length", "20"), VARY),
    ),
    case("head-no-accept-encoding", method="HEAD", accept_encoding=None, chunks=(b"",)),
    case(
        "head-with-the-body-gets-the-get-length",
        method="HEAD",
        response_headers=(
            HTML_HEADERS[0],
            ("content-encoding", "zstd"),
            ("content-length", ZSTD_HTML_LENGTH),
            VARY,
        ),
        body=b"",
    ),
    case(
        "head-with-an-incompressible-body",
        method="HEAD",
        app_headers=(HTML_HEADERS[0], ("content-length", str(len(NOISE)))),
        chunks=(NOISE,),
        response_headers=(HTML_HEADERS[0], ("content-length", str(len(NOISE))), VARY),
        body=b"",
    ),
    # --- GZipMiddleware: Starlette's options and deny list, everything else as above.
    case(
        "gzip-middleware-html",
        gzip_middleware=True,
        response_headers=encoded("gzip"),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-ignores-br",
        gzip_middleware=True,
        accept_encoding="br",
    ),
    case(
        "gzip-middleware-sse-excluded",
        gzip_middleware=True,
        accept_encoding="gzip",
        app_headers=(("content-type", "text/event-stream"),),
        chunks=SSE,
        response_headers=(("content-type", "text/event-stream"),),
    ),
    case(
        "gzip-middleware-sse-included",
        gzip_middleware=True,
        options={"exclude_content_types": ()},
        accept_encoding="gzip",
        app_headers=(("content-type", "text/event-stream"),),
        chunks=SSE,
        response_headers=streamed("gzip", "text/event-stream"),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-png-excluded", gzip_middleware=True, app_headers=PNG, response_headers=PNG
    ),
    case(
        "gzip-middleware-grpc-suffix-excluded",
        gzip_middleware=True,
        app_headers=(("content-type", "application/grpc+proto"), HTML_HEADERS[1]),
        response_headers=(("content-type", "application/grpc+proto"), HTML_HEADERS[1]),
    ),
    case(
        "gzip-middleware-octet-stream",
        gzip_middleware=True,
        app_headers=(("content-type", "application/octet-stream"), HTML_HEADERS[1]),
        response_headers=encoded("gzip", ("content-type", "application/octet-stream")),
        encoding="gzip",
    ),
    # Starlette's: a response without a Content-Type is compressed (FastAPI's StreamingResponse
    # without media_type), and Vary goes only where the answer could differ by Accept-Encoding.
    case(
        "gzip-middleware-no-content-type",
        gzip_middleware=True,
        app_headers=HTML_HEADERS[1:],
        response_headers=(
            ("content-encoding", "gzip"),
            ("content-length", ENCODED_LENGTH),
            VARY,
        ),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-no-content-type-stream",
        gzip_middleware=True,
        app_headers=(),
        chunks=(HTML[:600], HTML[600:]),
        response_headers=(("content-encoding", "gzip"), VARY),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-minimum-size",
        gzip_middleware=True,
        options={"minimum_size": 5000},
        response_headers=HTML_HEADERS,
    ),
    case(
        "gzip-middleware-small-identity-client",
        gzip_middleware=True,
        accept_encoding="identity",
        app_headers=(HTML_HEADERS[0], ("content-length", "2")),
        chunks=(b"OK",),
        response_headers=(HTML_HEADERS[0], ("content-length", "2")),
    ),
    case(
        "gzip-middleware-identity-client",
        gzip_middleware=True,
        accept_encoding="identity",
    ),
    case(
        "gzip-middleware-tiny-body-grows",
        gzip_middleware=True,
        options={"minimum_size": 0},
        accept_encoding="gzip",
        app_headers=(HTML_HEADERS[0], ("content-length", "8")),
        chunks=(b"Homepage",),
        response_headers=encoded("gzip"),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-empty-body-minimum-0",
        gzip_middleware=True,
        options={"minimum_size": 0},
        accept_encoding="gzip",
        app_headers=(HTML_HEADERS[0], ("content-length", "0")),
        chunks=(b"",),
        response_headers=encoded("gzip"),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-incompressible-body",
        gzip_middleware=True,
        accept_encoding="gzip",
        app_headers=(HTML_HEADERS[0], ("content-length", str(len(NOISE)))),
        chunks=(NOISE,),
        response_headers=encoded("gzip"),
        encoding="gzip",
    ),
    case(
        "gzip-middleware-app-content-encoding",
        gzip_middleware=True,
        app_headers=(("content-type", "text/html"), ("content-encoding", "br")),
        chunks=(brotli.compress(HTML),),
        response_headers=(("content-type", "text/html"), ("content-encoding", "br")),
    ),
    case(
        "gzip-middleware-no-transform",
        gzip_middleware=True,
        app_headers=(*HTML_HEADERS, ("cache-control", "no-transform")),
        response_headers=(*HTML_HEADERS, ("cache-control", "no-transform")),
    ),
    # Without a Content-Type (as PEP 3333 wants a 204 and a 304) both are of a type it encodes.
    case(
        "gzip-middleware-204",
        gzip_middleware=True,
        status=204,
        app_headers=(),
        chunks=(b"",),
        response_headers=(),
    ),
    # RFC 9110 §15.3.7, §15.4.5: a 206 and a 304 carry the Vary the 200 would have.
    case(
        "gzip-middleware-304",
        gzip_middleware=True,
        status=304,
        app_headers=HTML_HEADERS[1:],
        chunks=(b"",),
        response_headers=(*HTML_HEADERS[1:], VARY),
    ),
    case(
        "gzip-middleware-206",
        gzip_middleware=True,
        status=206,
        app_headers=(*HTML_HEADERS, ("content-range", f"bytes 0-{len(HTML) - 1}/5000")),
        response_headers=(*HTML_HEADERS, ("content-range", f"bytes 0-{len(HTML) - 1}/5000"), VARY),
    ),
    case(
        "gzip-middleware-q0",
        gzip_middleware=True,
        accept_encoding="gzip;q=0, br",
    ),
]


def decode(coding: str | None, data: bytes) -> bytes:
    """A response body as a client decodes it, with the reference decoders."""
    if coding is None:
        return data
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "br":
        return brotli.decompress(data)  # type: ignore[no-any-return]
    assert coding == "zstd"
    # RFC 9659 §3: a client need not decode a frame whose window is over 8 MB (browsers refuse).
    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW)
    return decoder.decompressobj().decompress(data)  # type: ignore[no-any-return]


# --- Requests -----------------------------------------------------------------------------------

FORM = b'{"items": [' + b", ".join(b'{"id": %d, "name": "item"}' % i for i in range(200)) + b"]}"
BOMB = zlib.compress(b"\0" * 2_000_000, 9, wbits=31)  # 2 MB from about 2 KB: 1000x
LIMIT = 1_000_000
DECODE = {"decompress_requests": True}


@dataclass(frozen=True, kw_only=True)
class RequestCase:
    options: dict[str, Any] = field(default_factory=lambda: dict(DECODE))
    content_encoding: str | None = "gzip"
    body: bytes = b""
    # Expected: the app reads ``app_body`` with these request headers, or the middleware
    # answers ``status`` with ``answer`` itself.
    status: int = 200
    app_body: bytes | None = None
    app_content_encoding: str | None = None
    answer: bytes = b""

    @property
    def request_headers(self) -> Pairs:
        headers: Pairs = (("content-type", "application/json"),)
        if self.content_encoding is not None:
            headers = (*headers, ("content-encoding", self.content_encoding))
        return (*headers, ("content-length", str(len(self.body))))


def request(id: str, **kw: Any) -> Any:
    return pytest.param(RequestCase(**kw), id=id)


TOO_LARGE = b"Request body too large.\n"
UNSUPPORTED = b"Unsupported request Content-Encoding.\n"
CORRUPT = b"Request body could not be decoded.\n"
TOO_MANY_CODINGS = b"Request Content-Encoding has too many codings.\n"
TOO_MANY_MEMBERS = b"Request body has too many gzip members or zstd frames.\n"
EMPTY_GZIP = gzip.compress(b"", mtime=0)
EMPTY_ZSTD = zstandard.ZstdCompressor().compress(b"")

REQUEST_CASES = [
    request("gzip-decoded", body=gzip.compress(FORM), app_body=FORM),
    request("x-gzip-decoded", content_encoding="x-gzip", body=gzip.compress(FORM), app_body=FORM),
    request("deflate-decoded", content_encoding="deflate", body=zlib.compress(FORM), app_body=FORM),
    request("br-decoded", content_encoding="br", body=brotli.compress(FORM), app_body=FORM),
    request(
        "zstd-decoded",
        content_encoding="zstd",
        body=zstandard.ZstdCompressor().compress(FORM),
        app_body=FORM,
    ),
    request(
        "chain-decoded",
        content_encoding="gzip, br",
        body=brotli.compress(gzip.compress(FORM)),
        app_body=FORM,
    ),
    request("uppercase-coding", content_encoding="GZIP", body=gzip.compress(FORM), app_body=FORM),
    # RFC 9110 §5.6.1: empty list members are ignored (the fuzzer sent an empty field line
    # before "br"; WSGI servers join the lines into ", br").
    request(
        "empty-member-ignored", content_encoding=", br", body=brotli.compress(FORM), app_body=FORM
    ),
    request(
        "gzip-members-decoded",
        body=gzip.compress(FORM[:100]) + gzip.compress(FORM[100:]),
        app_body=FORM,
    ),
    request(
        "identity-untouched",
        content_encoding="identity",
        body=FORM,
        app_body=FORM,
        app_content_encoding="identity",
    ),
    request("no-content-encoding", content_encoding=None, body=FORM, app_body=FORM),
    request(
        "off-by-default",
        options={},
        body=gzip.compress(FORM),
        app_body=gzip.compress(FORM),
        app_content_encoding="gzip",
    ),
    request(
        "unknown-coding-415", content_encoding="compress", body=FORM, status=415, answer=UNSUPPORTED
    ),
    request(
        "too-many-codings-400",
        content_encoding="gzip, gzip, gzip",
        body=gzip.compress(gzip.compress(gzip.compress(FORM))),
        status=400,
        answer=TOO_MANY_CODINGS,
    ),
    request(
        "too-many-unknown-codings-400",
        content_encoding="compress, compress, compress",
        body=FORM,
        status=400,
        answer=TOO_MANY_CODINGS,
    ),
    request(
        "gzip-members-at-the-cap-decoded",
        body=EMPTY_GZIP * (MAX_MEMBERS - 1) + gzip.compress(FORM),
        app_body=FORM,
    ),
    request(
        "gzip-members-past-the-cap-413",
        body=EMPTY_GZIP * MAX_MEMBERS + gzip.compress(FORM),
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    request(
        "zstd-frames-at-the-cap-decoded",
        content_encoding="zstd",
        body=EMPTY_ZSTD * (MAX_MEMBERS - 1) + zstandard.ZstdCompressor().compress(FORM),
        app_body=FORM,
    ),
    request(
        "zstd-frames-past-the-cap-413",
        content_encoding="zstd",
        body=zstd_skippable_frames(8 * MAX_MEMBERS) + zstandard.ZstdCompressor().compress(FORM),
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    request("corrupt-400", body=b"\x1f\x8b this is not gzip", status=400, answer=CORRUPT),
    request("truncated-400", body=gzip.compress(FORM)[:-12], status=400, answer=CORRUPT),
    request("trailing-garbage-400", body=gzip.compress(FORM) + b"junk", status=400, answer=CORRUPT),
    request(
        "bomb-413",
        options={**DECODE, "max_request_size": LIMIT},
        body=BOMB,
        status=413,
        answer=TOO_LARGE,
    ),
    request(
        "br-bomb-413",
        options={**DECODE, "max_request_size": LIMIT},
        content_encoding="br",
        body=brotli.compress(b"\0" * 2_000_000),
        status=413,
        answer=TOO_LARGE,
    ),
    request(
        "zstd-bomb-413",
        options={**DECODE, "max_request_size": LIMIT},
        content_encoding="zstd",
        body=zstandard.ZstdCompressor().compress(b"\0" * 2_000_000),
        status=413,
        answer=TOO_LARGE,
    ),
    request(
        "exactly-at-limit",
        options={**DECODE, "max_request_size": len(FORM)},
        body=gzip.compress(FORM),
        app_body=FORM,
    ),
    request(
        "one-byte-over-limit",
        options={**DECODE, "max_request_size": len(FORM) - 1},
        body=gzip.compress(FORM),
        status=413,
        answer=TOO_LARGE,
    ),
    request("empty-body-decoded", body=b"", app_body=b""),
]


# --- Decoding bombs (issue 16) ------------------------------------------------------------------

BOMB_SIZE = 10 * MiB  # the default max_request_size: the most any coding of a body may put out
# Wall-clock seconds allowed for any one of them, in process. The whole run of one takes well
# under 0.3 s; before the fix, the first took minutes.
BOMB_SECONDS = 2.0
_ZEROS = b"\0" * (BOMB_SIZE + 1)


def _reference(coding: str, stream: bytes) -> bytes:
    """What the app gets once a valid stream in ``coding`` is decoded."""
    if coding == "deflate":
        return zlib.decompress(stream)
    if coding == "br":
        return brotli.decompress(stream)  # type: ignore[no-any-return]
    assert coding == "zstd"  # one frame
    return zstandard.ZstdDecompressor().decompressobj().decompress(stream)  # type: ignore[no-any-return]


@dataclass(frozen=True, kw_only=True)
class BombCase:
    """A body of ``BOMB_SIZE`` bytes of one bomb shape (``decoding_bombs.SHAPES``), sent as it is
    or inside br (``chained``: a few dozen bytes on the wire), or a ``build``-made nested body.
    ``status`` 200 means the app gets the decoded body."""

    shape: str = ""
    chained: bool = False
    content_encoding: str = ""
    build: Any = None
    status: int
    answer: bytes = b""

    def request_case(self) -> RequestCase:
        if self.build is not None:
            body, app_body = self.build()
            return RequestCase(
                content_encoding=self.content_encoding,
                body=body,
                status=self.status,
                app_body=app_body,
                answer=self.answer,
            )
        coding, build = SHAPES[self.shape]
        stream = build(BOMB_SIZE)
        return RequestCase(
            content_encoding=f"{coding}, br" if self.chained else coding,
            body=in_br(stream) if self.chained else stream,
            status=self.status,
            app_body=_reference(coding, stream) if self.status == 200 else None,
            answer=self.answer,
        )


def bomb(id: str, **kw: Any) -> Any:
    return pytest.param(BombCase(**kw), id=id)


def _issue_16() -> tuple[bytes, None]:
    # The report's request: 41 bytes that decode to 10 MiB of empty gzip members.
    return in_br(SHAPES["gzip empty members"][1](BOMB_SIZE), quality=11), None


BOMB_CASES = [
    bomb(
        "issue-16-gzip-br-41-bytes-413",
        content_encoding="gzip, br",
        build=_issue_16,
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    bomb("gzip-empty-members-413", shape="gzip empty members", status=413, answer=TOO_MANY_MEMBERS),
    bomb("zstd-empty-frames-413", shape="zstd empty frames", status=413, answer=TOO_MANY_MEMBERS),
    bomb(
        "zstd-empty-frames-in-br-413",
        shape="zstd empty frames",
        chained=True,
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    bomb(
        "zstd-skippable-frames-413",
        shape="zstd skippable frames",
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    bomb(
        "zstd-skippable-frames-in-br-413",
        shape="zstd skippable frames",
        chained=True,
        status=413,
        answer=TOO_MANY_MEMBERS,
    ),
    # Valid streams that decode to little: decoded, in work linear in their size.
    bomb("deflate-tiny-blocks-decoded", shape="deflate tiny blocks", status=200),
    bomb(
        "deflate-tiny-blocks-in-br-decoded", shape="deflate tiny blocks", chained=True, status=200
    ),
    bomb("zstd-tiny-blocks-decoded", shape="zstd tiny blocks", status=200),
    bomb("zstd-tiny-blocks-in-br-decoded", shape="zstd tiny blocks", chained=True, status=200),
    bomb("br-tiny-blocks-decoded", shape="br tiny blocks", status=200),
    bomb("br-tiny-blocks-in-br-decoded", shape="br tiny blocks", chained=True, status=200),
    bomb("br-metadata-blocks-decoded", shape="br metadata blocks", status=200),
    bomb("br-metadata-blocks-in-br-decoded", shape="br metadata blocks", chained=True, status=200),
    # Nested codings: each coding of the chain may put out max_request_size bytes, no more.
    bomb(
        "gzip-in-gzip-at-the-limit-decoded",
        content_encoding="gzip, gzip",
        build=lambda: (gzip.compress(gzip.compress(_ZEROS[:BOMB_SIZE])), _ZEROS[:BOMB_SIZE]),
        status=200,
    ),
    bomb(
        "gzip-in-gzip-over-the-limit-413",
        content_encoding="gzip, gzip",
        build=lambda: (gzip.compress(gzip.compress(_ZEROS)), None),
        status=413,
        answer=TOO_LARGE,
    ),
    bomb(
        "gzip-bomb-in-zstd-413",
        content_encoding="gzip, zstd",
        build=lambda: (zstandard.ZstdCompressor().compress(gzip.compress(_ZEROS * 10)), None),
        status=413,
        answer=TOO_LARGE,
    ),
    bomb(
        "br-bomb-in-br-413",
        content_encoding="br, br",
        build=lambda: (brotli.compress(brotli.compress(_ZEROS * 10, quality=1)), None),
        status=413,
        answer=TOO_LARGE,
    ),
]

"""WSGI-only compression rules: lists, write(), close(), wsgi.file_wrapper, exc_info, crashes."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from typing import Any
from wsgiref.util import FileWrapper
from wsgiref.validate import validator

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.compression import CompressionPolicy, Phase, read_head
from middleware.wsgi._environ import bytes_head
from middleware.wsgi.compression import (
    _FIELDS,
    CompressionMiddleware,
    GZipMiddleware,
    _left_as_is,
)
from tests.cases.compression import HTML, HTML_HEADERS
from tests.drivers import call_wsgi
from tests.parity.vectors import Boom

HTML_TYPE = [("Content-Type", "text/html; charset=utf-8")]
GZIP = [("accept-encoding", "gzip")]


def test_list_body_is_whole_and_gets_exact_length() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(HTML_TYPE))
        return [HTML[:500], HTML[500:]]

    result = call_wsgi(CompressionMiddleware(app, encodings=("gzip",)), headers=GZIP)
    assert result.header("content-encoding") == "gzip"
    assert result.header("content-length") == str(len(result.body))
    assert gzip.decompress(result.body) == HTML
    assert len(result.chunks) == 1


def test_small_list_body_left_alone() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(HTML_TYPE))
        return [b"tiny"]

    result = call_wsgi(CompressionMiddleware(app), headers=GZIP)
    assert result.headers == [
        ("content-type", "text/html; charset=utf-8"),
        ("vary", "Accept-Encoding"),
    ]
    assert result.body == b"tiny"


def test_write_callable_output_is_compressed_not_lost() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", list(HTML_TYPE))
        write(HTML[:400])
        write(b"")
        write(HTML[400:800])
        return iter([HTML[800:]])

    result = call_wsgi(
        CompressionMiddleware(app, encodings=("br",)), headers=[("accept-encoding", "br")]
    )
    assert result.header("content-encoding") == "br"
    assert result.header("content-length") is None
    assert brotli.decompress(result.body) == HTML


def test_write_callable_identity() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", list(HTML_TYPE))
        write(b"part one, ")
        return [b"part two"]

    result = call_wsgi(CompressionMiddleware(app))
    assert result.body == b"part one, part two"
    assert result.header("vary") == "Accept-Encoding"


class _Tracked:
    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks, self.fail_at, self.closed, self.sent = chunks, fail_at, 0, 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.fail_at is not None and self.sent == self.fail_at:
            raise Boom("mid-body")
        if self.sent >= len(self.chunks):
            raise StopIteration
        self.sent += 1
        return self.chunks[self.sent - 1]

    def close(self) -> None:
        self.closed += 1


def _tracked_app(body: _Tracked, headers: list[tuple[str, str]] | None = None) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(headers or HTML_TYPE))
        return body

    return app


@pytest.mark.parametrize("accept", ["gzip", "identity"])
def test_close_reaches_the_inner_iterable(accept: str) -> None:
    body = _Tracked([HTML[:600], HTML[600:]])
    result = call_wsgi(
        CompressionMiddleware(_tracked_app(body)), headers=[("accept-encoding", accept)]
    )
    assert body.closed == 1
    assert result.error is None


def test_close_when_the_client_leaves_mid_stream() -> None:
    body = _Tracked([b"a" * 600, b"b" * 600, b"c" * 600])
    result = call_wsgi(CompressionMiddleware(_tracked_app(body)), headers=GZIP, stop_after=1)
    assert body.closed == 1
    assert body.sent == 1
    assert result.header("content-encoding") == "gzip"


def test_close_after_an_error_mid_body() -> None:
    body = _Tracked([b"a" * 600, b"b" * 600], fail_at=1)
    result = call_wsgi(CompressionMiddleware(_tracked_app(body)), headers=GZIP)
    assert isinstance(result.error, Boom)
    assert body.closed == 1
    assert result.status == 200  # the first chunk left: the error can only cut the stream


def test_crash_before_start_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        raise Boom("before")

    with caplog.at_level(logging.ERROR, logger="middleware.errors"):
        result = call_wsgi(CompressionMiddleware(app), headers=GZIP)
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert len(caplog.records) == 1


def test_crash_while_start_is_held_answers_500() -> None:
    # The start waits for the first chunk; the app fails producing it: nothing has left, so the
    # client still gets a proper 500.
    body = _Tracked([HTML], fail_at=0)
    result = call_wsgi(
        CompressionMiddleware(_tracked_app(body, [*HTML_TYPE, ("Content-Length", str(len(HTML)))])),
        headers=GZIP,
    )
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert result.header("content-encoding") is None
    assert body.closed == 1


def test_exc_info_restart_before_body() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [*HTML_TYPE, ("Content-Length", str(len(HTML)))])
        try:
            raise Boom("late")
        except Boom:
            import sys

            start_response("503 Service Unavailable", list(HTML_TYPE), sys.exc_info())
        return [HTML]

    result = call_wsgi(CompressionMiddleware(app, encodings=("gzip",)), headers=GZIP)
    assert result.status == 503
    assert result.header("content-encoding") == "gzip"
    assert gzip.decompress(result.body) == HTML


def test_lazy_generator_app() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(HTML_TYPE))
        yield HTML[:700]
        yield HTML[700:]

    result = call_wsgi(CompressionMiddleware(app, encodings=("gzip",)), headers=GZIP)
    assert result.header("content-encoding") == "gzip"
    assert gzip.decompress(result.body) == HTML


def test_lazy_generator_app_left_alone() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "image/png")])
        yield b"\x89PNG"
        yield b"...."

    result = call_wsgi(CompressionMiddleware(app), headers=GZIP)
    assert result.headers == [("content-type", "image/png")]
    assert result.body == b"\x89PNG...."


def test_crash_after_an_unencoded_start_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    # The headers went to the server's start_response but no body left: the server can still
    # replace them, so the client gets the plain 500 (with this layer's Vary) and a log line.
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [*HTML_TYPE, ("Content-Length", "4")])
        raise Boom("after start")

    with caplog.at_level(logging.ERROR, logger="middleware.errors"):
        result = call_wsgi(CompressionMiddleware(app), headers=GZIP)
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert result.header("vary") == "Accept-Encoding"
    assert len(caplog.records) == 1


class _FailingBody:
    """An iterable that replaces its response's start (exc_info) while being iterated."""

    def __init__(self, start_response: Any) -> None:
        self.start_response = start_response
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            raise Boom("while producing")
        except Boom:
            import sys

            self.start_response("500 Internal Server Error", list(HTML_TYPE), sys.exc_info())
        yield HTML

    def close(self) -> None:
        self.closed = True


def test_replacement_after_the_body_went_to_the_server_is_not_encoded() -> None:
    # A response left as it is hands the app's own iterable to the server; a replacement start
    # made while it is iterated cannot have its body encoded, so its headers go as they are.
    bodies: list[_FailingBody] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [*HTML_TYPE, ("Content-Length", "4")])
        bodies.append(_FailingBody(start_response))
        return bodies[0]

    result = call_wsgi(CompressionMiddleware(app, encodings=("gzip",)), headers=GZIP)
    assert result.status == 500
    assert result.header("content-encoding") is None
    assert result.body == HTML
    assert bodies[0].closed


@pytest.mark.parametrize("wrapped", [True, False], ids=["file-wrapper", "read"])
def test_file_body_is_read_in_64_kib_blocks(wrapped: bool) -> None:
    # SPEC: a file body is read in 64 KiB blocks, never line by line (nor in the wrapper's own
    # 8 KiB), so it compresses as well as the same bytes sent in one piece.
    page = b"".join(b"line %d of the log\n" % n for n in range(20_000))  # 370 KB of lines
    reads: list[int] = []

    class File(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        file = File(page)
        return environ["wsgi.file_wrapper"](file, 8192) if wrapped else file

    result = call_wsgi(
        CompressionMiddleware(app, encodings=("gzip",)),
        headers=GZIP,
        environ={"wsgi.file_wrapper": FileWrapper},
    )
    assert gzip.decompress(result.body) == page
    assert set(reads) == {65_536}
    assert len(result.chunks) == -(-len(page) // 65_536) + 1  # the blocks, then the tail
    whole = gzip.compress(page, 6)
    assert len(result.body) <= len(whole) * 1.01


def test_untouched_response_hands_back_the_apps_iterable() -> None:
    # A file the middleware leaves alone stays the server's file_wrapper (sendfile).
    wrapper = FileWrapper(io.BytesIO(b"\x89PNG..."))

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "image/png")])
        return wrapper

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_ACCEPT_ENCODING": "gzip"}
    assert CompressionMiddleware(app)(environ, lambda *args: None) is wrapper


def test_a_head_left_as_it_is_keeps_the_apps_spelling() -> None:
    # The WSGI edge converts the head for the core, and appends only what the core added.
    fields = [("Content-Type", "text/plain"), ("Content-Length", "13"), ("X-Frame-Options", "DENY")]
    sent: list[Any] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", list(fields))
        return [b"Hello, world!"]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_ACCEPT_ENCODING": "gzip"}
    body = CompressionMiddleware(app)(
        environ, lambda status, headers, exc_info=None: sent.append(headers)
    )
    assert list(body) == [b"Hello, world!"]
    assert sent == [[*fields, ("Vary", "Accept-Encoding")]]


FIELD_NAMES = st.sampled_from(
    ["Content-Type", "content-type", "CONTENT-TYPE", "Content-Length", "Cache-Control", "Vary",
     "Content-Encoding", "Content-Range", "ETag", "Accept-Ranges", "X-Other"]
)  # fmt: skip
FIELD_VALUES = st.sampled_from(
    ["text/html; charset=utf-8", "image/png", "text/event-stream", "13", "5000", "0", "\u00b2",
     "public", "no-transform", "Accept-Encoding", "Cookie", "*", "gzip", '"v1"', "bytes"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([200, 204, 206, 304, 404, 500]),
    st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=6),
    st.sampled_from(["gzip", "br, zstd", "identity", "gzip;q=0"]),
)
def test_the_wsgi_head_is_the_cores_decision(
    status: int, fields: list[tuple[str, str]], accept: str
) -> None:
    # Native strings in any spelling reach the core as lower-case bytes, and its head comes
    # back: the app's own list plus what the core appended, or the core's list converted.
    policy = CompressionPolicy.from_options()
    as_bytes = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fields]
    core = policy.begin([(b"accept-encoding", accept.encode())], head_request=False)
    expected = core.start(status, as_bytes)
    left_as_is = core.phase is Phase.IDENTITY
    body = b"<p>" + b"same bytes either way " * 40
    wire = core.body(body, more=False)
    if expected is Phase.HELD:
        expected = core.headers
    sent: list[Any] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response(f"{status} Whatever", list(fields))
        return [body]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_ACCEPT_ENCODING": accept}
    middleware = CompressionMiddleware(app)
    middleware.policy = policy
    assert (
        b"".join(middleware(environ, lambda status, headers, exc_info=None: sent.append(headers)))
        == wire
    )
    (headers,) = sent
    assert [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers] == expected
    if left_as_is and expected[: len(as_bytes)] == as_bytes:
        assert headers[: len(fields)] == fields  # the app's spelling kept


def test_passes_wsgiref_validate_on_both_sides() -> None:
    inner = validator(_tracked_app(_Tracked([HTML[:600], HTML[600:]])))
    result = call_wsgi(CompressionMiddleware(inner), headers=GZIP)
    assert result.error is None and result.header("content-encoding") == "gzip"


def test_request_body_read_only_to_content_length() -> None:
    encoded = gzip.compress(b'{"a": 1}')

    class Input(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size >= 0, "read() without a size can block"
            return super().read(size)

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))]

    result = call_wsgi(
        CompressionMiddleware(app, decompress_requests=True),
        "POST",
        headers=[("content-encoding", "gzip")],
        body=encoded,
        environ={"wsgi.input": Input(encoded + b"next request")},
    )
    assert result.body == b'{"a": 1}'


def test_request_body_without_length_needs_input_terminated() -> None:
    encoded = gzip.compress(b"data")

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.input"].read()]

    middleware = CompressionMiddleware(app, decompress_requests=True)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "HTTP_CONTENT_ENCODING": "gzip",
        "wsgi.input": io.BytesIO(encoded),
        "wsgi.input_terminated": True,
    }
    assert b"".join(middleware(environ, lambda *args: None)) == b"data"
    assert environ["CONTENT_LENGTH"] == "4" and "HTTP_CONTENT_ENCODING" not in environ


def test_gzip_middleware_accepts_starlette_positions() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/html")] + [HTML_HEADERS[1][::1]])
        return [HTML]

    result = call_wsgi(GZipMiddleware(app, 100, 1, 10), headers=GZIP)
    assert gzip.decompress(result.body) == HTML


def test_asgi_app_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(TypeError, match="middleware.asgi.CompressionMiddleware"):
        CompressionMiddleware(app)


def test_flask_app_wrapped() -> None:
    from flask import Flask, Response, stream_with_context

    app = Flask(__name__)

    @app.get("/html")
    def html() -> Any:
        return HTML

    @app.get("/ndjson")
    def ndjson() -> Any:
        def rows() -> Iterator[str]:
            for n in range(3):
                yield f'{{"n": {n}}}\n'

        return Response(stream_with_context(rows()), mimetype="application/x-ndjson")

    app.wsgi_app = CompressionMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    response = client.get("/html", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert gzip.decompress(response.data) == HTML
    response = client.get("/ndjson", headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == b'{"n": 0}\n{"n": 1}\n{"n": 2}\n'


_FIELD_CHOICES = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("content-type", "image/png"),
    ("Content-Length", "10"),
    ("Content-Length", "5000"),
    ("CONTENT-LENGTH", "x"),
    ("Vary", "Cookie"),
    ("Cache-Control", "no-transform"),
    ("ETag", '"a"'),
    ("Content-Encoding", "gzip"),
    ("X-Other", "1"),
]


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.sampled_from(_FIELD_CHOICES), max_size=5),
    code=st.sampled_from([101, 200, 204, 206, 304, 404]),
)
def test_two_field_shortcut_answers_as_the_general_path(
    fields: list[tuple[str, str]], code: int
) -> None:
    # wsgi/compression.py reads a head holding only Content-Type and Content-Length without
    # HeadFields; what it sends, and what it tells start(), must be the general path's.
    policy = CompressionMiddleware(lambda environ, start_response: []).policy
    read_fields = _FIELDS.read(fields)
    head = policy.left_as_is(code, read_fields)
    general = (
        None if head is None else _FIELDS.edit(fields, read_fields, head, policy.left_as_is, code)
    )
    sent, read = _left_as_is(policy, code, fields)
    assert sent == general
    assert read == read_head(bytes_head(fields))

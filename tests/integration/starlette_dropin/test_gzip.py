"""Starlette's ``tests/middleware/test_gzip.py``, test by test, against each target.

Starlette's tests that use ``FileResponse`` (a range request, pathsend) keep Starlette's
``FileResponse`` as the ASGI app: only the middleware is ours. On WSGI the range answer is the
same 206 written by hand, and pathsend's counterpart is ``wsgi.file_wrapper``: the response must
reach the server as the very object the server's wrapper made, so it can still send the file
itself. ``GZipResponder`` (Starlette's internal class) has no counterpart; its test is made
through the middleware.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper, setup_testing_defaults

import pytest
from starlette.responses import FileResponse

from tests.drivers import call_wsgi
from tests.integration.starlette_dropin.harness import (
    ASGI_TARGETS,
    OURS_WSGI,
    TARGETS,
    Reply,
    Req,
    build,
    client,
    known,
    recording,
    stream,
    text,
    wrap,
)

pytestmark = pytest.mark.parametrize("target", TARGETS)


@pytest.fixture(autouse=True)
def _known(request: pytest.FixtureRequest) -> None:
    known(request)


def gzip(target: str, endpoint: Any, **options: Any) -> Any:
    return client(target, build(target, endpoint, ("gzip", options)))


def x4000(request: Req) -> Reply:
    return text("x" * 4000)


def ten_chunks(**options: Any) -> Any:
    def endpoint(request: Req) -> Reply:
        return stream([b"x" * 400] * 10, **options)

    return endpoint


def typed(content_type: str, body: bytes = b"x" * 4000) -> Any:
    """An app that sends one body with ``content_type`` and nothing else (a raw ASGI app)."""

    def endpoint(request: Req) -> Reply:
        return Reply(200, [("content-type", content_type)], body)

    return endpoint


def test_gzip_responses(target: str) -> None:
    answer = gzip(target, x4000).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert int(answer.headers["Content-Length"]) < 4000


def test_gzip_not_in_accept_encoding(target: str) -> None:
    answer = gzip(target, x4000).get("/", headers={"accept-encoding": "identity"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert int(answer.headers["Content-Length"]) == 4000


def test_gzip_ignored_for_small_responses(target: str) -> None:
    answer = gzip(target, lambda request: text("OK")).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "OK")
    assert "Content-Encoding" not in answer.headers
    assert "Vary" not in answer.headers
    assert int(answer.headers["Content-Length"]) == 2


def test_gzip_streaming_response(target: str) -> None:
    answer = gzip(target, ten_chunks()).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in answer.headers


def test_gzip_compression_in_thread(target: str) -> None:
    payload = "x" * (128 * 1024)
    app = gzip(target, lambda request: text(payload), thread_minimum_size=len(payload))
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, payload)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert int(answer.headers["Content-Length"]) < len(payload)


def _each_piece_decodes_to(
    pieces: list[bytes], expected: list[bytes], *, wsgi: bool = False
) -> None:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    decoded = [decoder.decompress(piece) for piece in pieces]
    if wsgi:
        # A WSGI middleware learns that the body ended only when the app's iterable does, so
        # the gzip trailer may follow as a piece of its own (decoding to nothing).
        decoded = [data for data in decoded if data]
    # Compared by length and digest: a 256 KiB piece is no use in a failure report.
    assert [_short(data) for data in decoded] == [_short(data) for data in expected]
    assert decoder.eof


def _short(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()[:12]


def test_gzip_streaming_compression_in_thread(target: str) -> None:
    chunk = hashlib.shake_256(b"starlette-gzip-stream").digest(256 * 1024)

    def endpoint(request: Req) -> Reply:
        return stream([chunk, b"tail"], media_type="application/json")

    if target == "wsgi":
        app = build(target, endpoint, ("gzip", {"thread_minimum_size": len(chunk)}))
        answer = call_wsgi(app, headers=[("accept-encoding", "gzip")])
        assert answer.header("content-encoding") == "gzip"
        # Each piece the app yields is compressed and handed to the server on its own.
        _each_piece_decodes_to(answer.chunks, [chunk, b"tail"], wsgi=True)
        return

    # Starlette's app sends the chunk and the tail as two messages, the tail the last one.
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"tail"})

    recorded, events = recording(wrap(target, raw, ("gzip", {"thread_minimum_size": len(chunk)})))
    answer = client(target, recorded).get("/", headers={"accept-encoding": "gzip"})
    assert answer.status_code == 200
    assert _short(answer.content) == _short(chunk + b"tail")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert len(events) == 3
    _each_piece_decodes_to([events[1]["body"], events[2]["body"]], [chunk, b"tail"])


def test_gzip_streaming_response_identity(target: str) -> None:
    answer = gzip(target, ten_chunks()).get("/", headers={"accept-encoding": "identity"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in answer.headers


def test_gzip_ignored_for_responses_with_encoding_set(target: str) -> None:
    app = gzip(target, ten_chunks(headers={"Content-Encoding": "text"}))
    answer = app.get("/", headers={"accept-encoding": "gzip, text"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert answer.headers["Content-Encoding"] == "text"
    assert "Vary" not in answer.headers
    assert "Content-Length" not in answer.headers


def test_gzip_ignored_on_server_sent_events(target: str) -> None:
    app = gzip(target, ten_chunks(media_type="text/event-stream"))
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert "Content-Length" not in answer.headers


async def test_gzip_ignored_for_pathsend_responses(target: str, tmp_path: Path) -> None:
    path = tmp_path / "example.txt"
    path.write_text("<file content>")
    if target == "wsgi":
        # The counterpart of pathsend: the server's own file wrapper comes back untouched.
        made: list[Any] = []

        def wrapper(file: Any, size: int = 8192) -> Any:
            made.append(FileWrapper(file, size))
            return made[-1]

        def file_app(environ: dict[str, Any], start_response: Any) -> Any:
            headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "14")]
            start_response("200 OK", headers)
            return environ["wsgi.file_wrapper"](path.open("rb"))

        environ: dict[str, Any] = {"HTTP_ACCEPT_ENCODING": "gzip, text"}
        setup_testing_defaults(environ)
        environ["wsgi.file_wrapper"] = wrapper
        # Called directly: a validator in between would wrap the iterable it returns.
        result = OURS_WSGI["gzip"](file_app)(environ, lambda *args: None)
        try:
            assert made and result is made[0]
        finally:
            result.close()
        return

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await FileResponse(path)(scope, receive, send)

    app = wrap(target, endpoint, ("gzip", {}))
    scope = {
        "type": "http",
        "version": "3",
        "method": "GET",
        "path": "/",
        "headers": [(b"accept-encoding", b"gzip, text")],
        "extensions": {"http.response.pathsend": {}},
    }
    events: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        events.append(message)

    await app(scope, receive, send)
    assert [event["type"] for event in events] == ["http.response.start", "http.response.pathsend"]


def test_gzip_ignored_on_range_responses(target: str, tmp_path: Path) -> None:
    path = tmp_path / "example.txt"
    path.write_text("x" * 4000)
    if target in ASGI_TARGETS:

        async def endpoint(scope: Any, receive: Any, send: Any) -> None:
            await FileResponse(path)(scope, receive, send)

        app = client(target, wrap(target, endpoint, ("gzip", {})))
    else:

        def ranged(request: Req) -> Reply:
            assert request.headers["range"] == "bytes=0-1999"
            headers = [
                ("content-type", "text/plain; charset=utf-8"),
                ("content-range", "bytes 0-1999/4000"),
                ("content-length", "2000"),
            ]
            return Reply(206, headers, path.read_bytes()[:2000])

        app = gzip(target, ranged)
    answer = app.get("/", headers={"accept-encoding": "gzip", "range": "bytes=0-1999"})
    assert answer.status_code == 206
    assert answer.content == b"x" * 2000
    assert "Content-Encoding" not in answer.headers
    assert int(answer.headers["Content-Length"]) == 2000


def test_gzip_streaming_response_emits_output_per_chunk(target: str) -> None:
    pieces = [b"data: first\n\n", b"", b"data: last\n\n"]

    def endpoint(request: Req) -> Reply:
        return stream(pieces, media_type="text/plain")

    answer = gzip(target, endpoint).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "data: first\n\ndata: last\n\n")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert "Content-Length" not in answer.headers
    if target == "wsgi":
        app = build(target, endpoint, ("gzip", {}))
        sent = call_wsgi(app, headers=[("accept-encoding", "gzip")])
        # Each non-empty piece of the app's decodes from a piece of its own.
        _each_piece_decodes_to(sent.chunks, [b"data: first\n\n", b"data: last\n\n"], wsgi=True)
        return

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": pieces[0], "more_body": True})
        await send({"type": "http.response.body", "body": pieces[1], "more_body": True})
        await send({"type": "http.response.body", "body": pieces[2]})

    recorded, events = recording(wrap(target, raw, ("gzip", {})))
    client(target, recorded).get("/", headers={"accept-encoding": "gzip"})
    assert len(events) == 4
    _each_piece_decodes_to([event["body"] for event in events[1:]], pieces)


@pytest.mark.parametrize(
    "content_type", ["application/zip", "audio/mpeg", "font/woff2", "image/png", "video/mp4"]
)
def test_gzip_default_exclude_content_types(target: str, content_type: str) -> None:
    answer = gzip(target, typed(content_type)).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert "Vary" not in answer.headers


def test_gzip_compresses_svg_by_default(target: str) -> None:
    answer = gzip(target, typed("image/svg+xml")).get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"


def test_gzip_custom_exclude_content_types(target: str) -> None:
    app = gzip(target, typed("application/zip"), exclude_content_types=("application/zip",))
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert "Vary" not in answer.headers


def test_gzip_cleared_exclude_content_types(target: str) -> None:
    app = gzip(target, typed("text/event-stream"), exclude_content_types=())
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Vary"] == "Accept-Encoding"


def test_gzip_exclude_content_types_for_identity_client(target: str) -> None:
    app = gzip(target, typed("application/zip"), exclude_content_types=("application/zip",))
    answer = app.get("/", headers={"accept-encoding": "identity"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert "Vary" not in answer.headers


@pytest.mark.parametrize(
    ("exclude_content_types", "content_type"),
    [
        pytest.param(
            ("text/event-stream",), "Text/Event-Stream; charset=utf-8", id="header-is-normalized"
        ),
        pytest.param(
            ("Application/ZIP; charset=utf-8",),
            "application/zip",
            id="configured-value-is-normalized",
        ),
        pytest.param(("image/*",), "image/png", id="wildcard"),
    ],
)
def test_gzip_exclude_content_types_matching(
    target: str, exclude_content_types: tuple[str, ...], content_type: str
) -> None:
    app = gzip(target, typed(content_type), exclude_content_types=exclude_content_types)
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert "Content-Encoding" not in answer.headers
    assert "Vary" not in answer.headers


def test_gzip_responder_normalizes_content_types(target: str) -> None:
    # Starlette builds its GZipResponder directly; ours has none, so through the middleware.
    app = gzip(
        target, typed("application/zip"), exclude_content_types=("Application/ZIP; charset=utf-8",)
    )
    answer = app.get("/", headers={"accept-encoding": "gzip"})
    assert (answer.status_code, answer.content) == (200, b"x" * 4000)
    assert "Content-Encoding" not in answer.headers

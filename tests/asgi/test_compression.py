"""ASGI-only compression rules: single messages, extensions, trailers, disconnects, crashes."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path
from typing import Any

import brotli
import pytest
import zstandard

from middleware.asgi import compression as module
from middleware.asgi.compression import CompressionMiddleware, GZipMiddleware
from middleware.core import codecs
from tests.cases.compression import HTML
from tests.drivers import acall, call_asgi
from tests.parity.vectors import Boom

HTML_TYPE = (b"content-type", b"text/html; charset=utf-8")
GZIP = [("accept-encoding", "gzip")]


def _app(*messages: dict[str, Any], raise_after: bool = False) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)
        if raise_after:
            raise Boom("after")

    return app


def _start(*headers: tuple[bytes, bytes], **extra: Any) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": list(headers), **extra}


def _body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


def test_single_message_without_length_is_whole() -> None:
    result = call_asgi(CompressionMiddleware(_app(_start(HTML_TYPE), _body(HTML))), headers=GZIP)
    assert result.header("content-encoding") == "gzip"
    assert result.header("content-length") == str(len(result.body))
    assert gzip.decompress(result.body) == HTML


def test_small_single_message_without_length_left_alone() -> None:
    result = call_asgi(CompressionMiddleware(_app(_start(HTML_TYPE), _body(b"tiny"))), headers=GZIP)
    assert result.headers == [
        ("content-type", "text/html; charset=utf-8"),
        ("vary", "Accept-Encoding"),
    ]
    assert result.body == b"tiny"


def test_start_held_until_first_body_then_sent_before_it() -> None:
    result = call_asgi(
        CompressionMiddleware(_app(_start(HTML_TYPE), _body(HTML[:600], True), _body(HTML[600:]))),
        headers=GZIP,
    )
    kinds = [m["type"] for m in result.messages]
    assert kinds == ["http.response.start", "http.response.body", "http.response.body"]
    assert gzip.decompress(result.body) == HTML


def test_event_stream_head_leaves_before_the_first_event() -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(_start((b"content-type", b"text/event-stream")))
        # The client has the head already; the first event may take minutes.
        assert [m["type"] for m in sent] == ["http.response.start"]
        await send(_body(b"data: 1\n\n", True))
        await send(_body(b"", False))

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", b"br")]}
    import asyncio

    asyncio.run(CompressionMiddleware(app)(scope, None, send))
    assert dict(sent[0]["headers"])[b"content-encoding"] == b"br"
    assert brotli.decompress(b"".join(m.get("body", b"") for m in sent[1:])) == b"data: 1\n\n"


def test_pathsend_goes_out_uncompressed_with_its_own_start(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(HTML)
    start = _start(HTML_TYPE, (b"content-length", str(len(HTML)).encode()))
    pathsend = {"type": "http.response.pathsend", "path": str(page)}
    result = call_asgi(
        CompressionMiddleware(_app(start, pathsend)),
        headers=GZIP,
        scope={"extensions": {"http.response.pathsend": {}}},
    )
    assert result.messages == [start, pathsend]


def test_pathsend_after_an_encoded_start_goes_through_the_encoder(tmp_path: Path) -> None:
    events = tmp_path / "events.txt"
    events.write_bytes(b"data: 1\n\n" * 20_000)
    result = call_asgi(
        CompressionMiddleware(
            _app(
                _start((b"content-type", b"text/event-stream")),
                {"type": "http.response.pathsend", "path": str(events)},
            )
        ),
        headers=GZIP,
        scope={"extensions": {"http.response.pathsend": {}}},
    )
    assert result.header("content-encoding") == "gzip"
    assert gzip.decompress(result.body) == events.read_bytes()
    assert result.messages[-1]["more_body"] is False


@pytest.mark.parametrize(("accept", "hidden"), [("gzip", True), ("identity", False)])
def test_zerocopysend_hidden_when_the_client_accepts_an_encoding(accept: str, hidden: bool) -> None:
    seen: dict[str, Any] = {}
    extensions = {"http.response.zerocopysend": {}, "http.response.pathsend": {}}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope["extensions"])
        await send(_start(HTML_TYPE))
        await send(_body(HTML))

    call_asgi(
        CompressionMiddleware(app),
        headers=[("accept-encoding", accept)],
        scope={"extensions": extensions},
    )
    assert ("http.response.zerocopysend" not in seen) is hidden
    assert "http.response.pathsend" in seen
    assert "http.response.zerocopysend" in extensions  # the server's scope is not modified


def test_trailers_no_exact_length_and_forwarded() -> None:
    trailers = {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]}
    result = call_asgi(
        CompressionMiddleware(_app(_start(HTML_TYPE, trailers=True), _body(HTML), trailers)),
        headers=GZIP,
    )
    assert result.header("content-encoding") == "gzip"
    assert result.header("content-length") is None
    assert result.messages[0]["trailers"] is True
    assert result.messages[-1] == trailers
    assert gzip.decompress(result.body) == HTML


@pytest.mark.parametrize(
    "message",
    [
        {"type": "http.response.early_hint", "links": ["</style.css>; rel=preload"]},
        {"type": "http.response.debug", "info": {"template": "page.html"}},
        {"type": "http.response.something_new", "data": 1},
    ],
    ids=["early-hint", "debug", "unknown"],
)
def test_other_messages_forwarded_in_place(message: dict[str, Any]) -> None:
    sent: list[dict[str, Any]] = []

    async def send(out: dict[str, Any]) -> None:
        sent.append(out)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", b"br")]}
    app = _app(message, _start(HTML_TYPE), _body(HTML))
    import asyncio

    asyncio.run(CompressionMiddleware(app)(scope, None, send))
    assert sent[0] is message
    assert [m["type"] for m in sent[1:]] == ["http.response.start", "http.response.body"]


def test_disconnect_releases_the_encoder() -> None:
    middleware = CompressionMiddleware(
        _app(
            _start((b"content-type", b"text/event-stream")),
            _body(b"data: 1\n\n", True),
            _body(b"data: 2\n\n", True),
            _body(b"", False),
        ),
        encodings=("zstd",),
    )
    codec = middleware.policy.codecs[0]
    assert isinstance(codec, codecs.ZstdCodec)
    result = call_asgi(middleware, headers=[("accept-encoding", "zstd")], disconnect_after=1)
    assert isinstance(result.error, OSError)
    assert len(codec._pool) == 1  # the context went back for the next response
    first = zstandard.ZstdDecompressor().decompressobj().decompress(result.body)
    assert first == b"data: 1\n\n"


def test_crash_before_start_answers_500_and_reraises() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise Boom("before")

    result = call_asgi(CompressionMiddleware(app), headers=GZIP)
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert isinstance(result.error, Boom)


def test_crash_while_start_is_held_answers_500() -> None:
    result = call_asgi(
        CompressionMiddleware(_app(_start(HTML_TYPE), raise_after=True)), headers=GZIP
    )
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert isinstance(result.error, Boom)


def test_crash_after_body_propagates() -> None:
    app = _app(
        _start((b"content-type", b"text/event-stream")),
        _body(b"data: 1\n\n", True),
        raise_after=True,
    )
    result = call_asgi(CompressionMiddleware(app), headers=GZIP)
    assert result.status == 200
    assert isinstance(result.error, Boom)


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
async def test_other_scopes_pass_through(kind: str) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    scope = {"type": kind}
    receive, send = object(), object()
    await CompressionMiddleware(app)(scope, receive, send)
    assert seen == [(scope, receive, send)]


def test_asgi2_app_accepted() -> None:
    class App:
        def __init__(self, scope: Any) -> None:
            pass

        async def __call__(self, receive: Any, send: Any) -> None:
            await send(_start(HTML_TYPE))
            await send(_body(HTML))

    result = call_asgi(CompressionMiddleware(App), headers=GZIP)
    assert gzip.decompress(result.body) == HTML


def test_wsgi_app_refused() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        return []

    with pytest.raises(TypeError, match="middleware.wsgi.CompressionMiddleware"):
        CompressionMiddleware(app)


def test_gzip_large_chunks_compressed_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = module.in_thread

    async def recording(function: Any, *args: Any) -> Any:
        calls.append(len(args[0]))
        return await original(function, *args)

    monkeypatch.setattr(module, "in_thread", recording)
    big = HTML * 10
    app = _app(_start(HTML_TYPE), _body(big[:100], True), _body(big[100:], True), _body(b""))
    result = call_asgi(GZipMiddleware(app, thread_minimum_size=1000), headers=GZIP)
    assert calls == [len(big) - 100]
    assert gzip.decompress(result.body) == big


async def test_request_client_leaves_while_sending_body() -> None:
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    middleware = CompressionMiddleware(app, decompress_requests=True)
    messages = [
        {"type": "http.request", "body": gzip.compress(b"x" * 100)[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        raise AssertionError("nothing to send to a client that left")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-encoding", b"gzip")],
    }
    await middleware(scope, receive, send)
    assert called == []


async def test_decoded_request_then_the_clients_own_messages() -> None:
    received: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())
        await send(_start(HTML_TYPE))
        await send(_body(b"ok"))
        received.append(await receive())

    result = await acall(
        CompressionMiddleware(app, decompress_requests=True),
        "POST",
        headers=[("content-encoding", "gzip")],
        body=gzip.compress(b"payload"),
    )
    assert received[0] == {"type": "http.request", "body": b"payload", "more_body": False}
    assert received[1] == {"type": "http.disconnect"}
    assert result.body == b"ok"


async def test_starlette_app_with_add_middleware(tmp_path: Path) -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, StreamingResponse
    from starlette.routing import Route

    page = tmp_path / "page.html"
    page.write_bytes(HTML)

    async def events() -> Any:
        for n in range(3):
            yield f"data: {n}\n\n"

    def sse(request: Any) -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(
        routes=[
            Route("/html", lambda request: HTMLResponse(HTML.decode())),
            Route("/sse", sse),
            Route("/file", lambda request: FileResponse(page), methods=["GET", "HEAD"]),
        ]
    )
    app.add_middleware(CompressionMiddleware, minimum_size=100)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/html", "/file"):
            response = await client.get(path, headers={"accept-encoding": "br"})
            assert response.headers["content-encoding"] == "br"
            assert response.headers["vary"] == "Accept-Encoding"
            assert response.content == HTML  # httpx decoded it
        response = await client.get("/sse", headers={"accept-encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"
        head = await client.head("/file", headers={"accept-encoding": "zstd"})
        assert head.headers["content-encoding"] == "zstd"
        assert "content-length" not in head.headers


def test_django_style_capitalised_names_compressed() -> None:
    app = _app(
        {"type": "http.response.start", "status": 200,
         "headers": [(b"Content-Type", b"text/html; charset=utf-8"), (b"Vary", b"Cookie")]},
        _body(HTML),
    )  # fmt: skip
    result = call_asgi(CompressionMiddleware(app), headers=GZIP)
    assert result.headers == [
        ("content-type", "text/html; charset=utf-8"),
        ("vary", "Cookie, Accept-Encoding"),
        ("content-encoding", "gzip"),
        ("content-length", str(len(result.body))),
    ]
    assert gzip.decompress(result.body) == HTML


@pytest.mark.parametrize(
    "layer",
    [
        pytest.param(lambda app: CompressionMiddleware(app, minimum_size=0), id="compression"),
        pytest.param(
            lambda app: CompressionMiddleware(
                app, decompress_requests=True, exclude_paths=("/other",)
            ),
            id="compression-reading-requests",
        ),
        pytest.param(lambda app: GZipMiddleware(app, minimum_size=0), id="gzip"),
    ],
)
async def test_websocket_passes_through_untouched(layer: Any) -> None:
    # SPEC (ASGI): websocket scopes get what the WebSocket section says and nothing else; for
    # compression that is nothing (permessage-deflate belongs to the server).
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"accept-encoding", b"gzip, br, zstd"),
            (b"content-encoding", b"gzip"),
            (b"sec-websocket-extensions", b"permessage-deflate"),
        ],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}, "http.response.zerocopysend": {}},
    }
    before = copy.deepcopy(scope)
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "bytes": gzip.compress(HTML)},
        {"type": "websocket.receive", "text": HTML.decode()},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    outgoing = [
        {"type": "websocket.accept", "subprotocol": None, "headers": [HTML_TYPE]},
        {"type": "websocket.send", "bytes": HTML},
        {"type": "websocket.send", "text": HTML.decode()},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]
    expected = copy.deepcopy((incoming, outgoing))
    pending = list(incoming)
    sent: list[Any] = []

    async def receive() -> Any:
        return pending.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    seen: dict[str, Any] = {}

    async def app(app_scope: Any, app_receive: Any, app_send: Any) -> None:
        seen.update(scope=app_scope, receive=app_receive, send=app_send)
        seen["received"] = [await app_receive() for _ in incoming]
        for message in outgoing:
            await app_send(message)

    await layer(app)(scope, receive, send)
    assert seen["scope"] is scope and scope == before
    assert seen["receive"] is receive and seen["send"] is send
    assert [a is b for a, b in zip(seen["received"], incoming, strict=True)] == [True] * 4
    assert [a is b for a, b in zip(sent, outgoing, strict=True)] == [True] * 4
    assert (incoming, outgoing) == expected

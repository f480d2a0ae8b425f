"""CORSMiddleware rules only ASGI has: scopes, messages, root_path, extensions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from middleware.asgi.cors import CORSMiddleware
from tests.drivers import acall
from tests.parity.vectors import Boom

APP = "https://app.example"
ONE = {"allow_origins": [APP]}
ORIGIN = [("origin", APP)]


async def test_lifespan_and_websocket_pass_through_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    stack = CORSMiddleware(app, **ONE)

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        pass

    for kind in ("lifespan", "websocket"):
        scope = {"type": kind, "headers": [(b"origin", b"https://evil.example")]}
        await stack(scope, receive, send)
        assert seen[-1] == (scope, receive, send)
        assert seen[-1][0] is scope and seen[-1][2] is send


async def test_app_message_and_headers_not_mutated() -> None:
    headers = [(b"content-type", b"text/plain"), (b"vary", b"Cookie")]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    snapshot = (dict(start), list(headers))

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b"x"})

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert (dict(start), list(headers)) == snapshot
    assert result.headers == [
        ("content-type", "text/plain"),
        ("vary", "Cookie, Origin"),
        ("access-control-allow-origin", APP),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(((b"content-type", b"text/plain"),), id="tuple"),
        pytest.param([[b"content-type", b"text/plain"]], id="list-of-lists"),
        pytest.param(iter([(b"content-type", b"text/plain")]), id="iterator"),
    ],
)
async def test_header_shapes_accepted(headers: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.header("content-type") == "text/plain"
    assert result.header("access-control-allow-origin") == APP


async def test_start_without_headers_key() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.headers == [("access-control-allow-origin", APP), ("vary", "Origin")]


async def test_trailers_pathsend_and_unknown_messages_forwarded() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.debug", "info": {}})
        await send({"type": "http.response.body", "body": b"x"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]})

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    kinds = [m["type"] for m in result.messages]
    assert kinds == [
        "http.response.start",
        "http.response.debug",
        "http.response.body",
        "http.response.trailers",
    ]
    assert result.messages[0]["trailers"] is True
    assert result.messages[-1]["headers"] == [(b"x-checksum", b"1")]

    async def pathsend(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/tmp/file"})

    result = await acall(CORSMiddleware(pathsend, **ONE), headers=ORIGIN)
    assert [m["type"] for m in result.messages][-1] == "http.response.pathsend"
    assert result.header("access-control-allow-origin") == APP


async def test_preflight_sends_two_messages_and_never_calls_app() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see a preflight")

    headers = [*ORIGIN, ("access-control-request-method", "GET")]
    result = await acall(CORSMiddleware(app, **ONE), method="OPTIONS", headers=headers)
    assert [m["type"] for m in result.messages] == ["http.response.start", "http.response.body"]
    assert result.messages[1]["more_body"] is False
    assert (result.status, result.body) == (200, b"OK")


async def test_exception_after_start_propagates_unchanged() -> None:
    error = Boom("mid-body")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise error

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.error is error
    assert [m["type"] for m in result.messages] == ["http.response.start"]


async def test_crash_before_start_sends_500_then_reraises_same_exception() -> None:
    error = Boom("early")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise error

    result = await acall(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.error is error
    assert result.status == 500
    assert result.header("access-control-allow-origin") == APP


async def test_cancellation_is_not_answered() -> None:
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"origin", APP.encode())]}
    with pytest.raises(asyncio.CancelledError):
        await CORSMiddleware(app, **ONE)(scope, receive, send)
    assert sent == []


@pytest.mark.parametrize(
    ("path", "root_path", "applies"),
    [
        pytest.param("/prefix/api/x", "/prefix", True, id="mounted"),
        pytest.param("/api/x", "", True, id="root"),
        pytest.param("/prefix/api/x", "", False, id="no-root-path"),
        pytest.param("/other/api/x", "/prefix", False, id="root-path-not-a-prefix"),
    ],
)
async def test_paths_match_inside_root_path(path: str, root_path: str, applies: bool) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    stack = CORSMiddleware(app, **ONE, paths=r"/api/")
    result = await acall(stack, path=path, headers=ORIGIN, scope={"root_path": root_path})
    assert (result.header("access-control-allow-origin") == APP) is applies


async def test_asgi2_app_accepted() -> None:
    class Legacy:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"old"})

    result = await acall(CORSMiddleware(Legacy, **ONE), headers=ORIGIN)
    assert result.body == b"old" and result.header("access-control-allow-origin") == APP

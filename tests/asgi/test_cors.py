"""CORSMiddleware rules only ASGI has: scopes, messages, root_path, extensions, websockets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from middleware.asgi.cors import CORSMiddleware
from tests.cases.cors import WEBSOCKET_CASES, Handshake
from tests.drivers import acall
from tests.parity.vectors import Boom

APP = "https://app.example"
ONE = {"allow_origins": [APP]}
ORIGIN = [("origin", APP)]


async def test_lifespan_passes_through_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "lifespan", "headers": [(b"origin", b"https://evil.example")]}
    await CORSMiddleware(app, **ONE)(scope, receive, send)
    assert seen == [(scope, receive, send)]
    assert seen[0][0] is scope and seen[0][1] is receive and seen[0][2] is send


# --- Websocket handshakes (SPEC, WebSocket): the shared case table, then the ASGI rules.

DENIAL = {"websocket.http.response": {}}


class Handshaking:
    """A fake server's side of one websocket handshake: what it offers, what it was sent."""

    def __init__(self, first: str = "websocket.connect") -> None:
        self.incoming = [{"type": first}, {"type": "websocket.disconnect", "code": 1000}]
        self.sent: list[dict[str, Any]] = []
        self.app_calls: list[Any] = []

    async def receive(self) -> Any:
        return self.incoming.pop(0) if self.incoming else {"type": "websocket.disconnect"}

    async def send(self, message: Any) -> None:
        self.sent.append(message)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.app_calls.append((scope, receive, send))
        if (await receive())["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})


def _ws_scope(case: Handshake, extensions: Any = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "websocket", "path": case.path, "scheme": "ws"}
    if case.headers is not None:
        scope["headers"] = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in case.headers]
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


async def _handshake(
    case: Handshake, extensions: Any = None, first: str = "websocket.connect"
) -> tuple[Handshaking, dict[str, Any]]:
    side = Handshaking(first)
    scope = _ws_scope(case, extensions)
    await CORSMiddleware(side.app, **case.options)(scope, side.receive, side.send)
    return side, scope


@pytest.mark.parametrize("case", WEBSOCKET_CASES)
async def test_websocket_refused_with_403_where_the_server_offers_it(
    case: Handshake, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="middleware.cors"):
        side, scope = await _handshake(case, DENIAL)
    logged = [
        r for r in caplog.records if r.name == "middleware.cors" and r.levelno == logging.INFO
    ]
    if not case.refused:
        # Untouched: the app gets the server's own scope, receive and send.
        assert side.app_calls == [(scope, side.receive, side.send)]
        assert side.sent == [{"type": "websocket.accept"}] and logged == []
        return
    assert side.app_calls == []
    assert side.sent == [
        {
            "type": "websocket.http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"22"),
            ],
        },
        {
            "type": "websocket.http.response.body",
            "body": b"Disallowed CORS origin",
            "more_body": False,
        },
    ]
    assert [(r.levelno, r.getMessage()[:30]) for r in logged] == [
        (logging.INFO, "Refused a websocket handshake ")
    ]


@pytest.mark.parametrize("extensions", [None, {}, {"websocket.http.response.other": {}}])
@pytest.mark.parametrize("case", [c for c in WEBSOCKET_CASES if c.values[0].refused])
async def test_websocket_refused_with_close_1008_without_the_extension(
    case: Handshake, extensions: Any
) -> None:
    side, _ = await _handshake(case, extensions)
    assert side.app_calls == []
    # Before the accept, so the server answers the handshake with a 403 of its own.
    assert side.sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize("extensions", [None, DENIAL])
async def test_websocket_client_gone_before_the_handshake_finished(extensions: Any) -> None:
    refused = Handshake(options=ONE, headers=(("origin", "https://evil.example"),), refused=True)
    side, _ = await _handshake(refused, extensions, first="websocket.disconnect")
    assert (side.app_calls, side.sent) == ([], [])
    # An allowed one is the app's to handle, disconnect included.
    allowed = Handshake(options=ONE, headers=(("origin", APP),), refused=False)
    side, _ = await _handshake(allowed, extensions, first="websocket.disconnect")
    assert len(side.app_calls) == 1 and side.sent == []


@pytest.mark.parametrize("extensions", [None, DENIAL])
async def test_websocket_client_gone_while_refused(extensions: Any) -> None:
    # ASGI: send() on a closed connection raises a subclass of OSError; the refusal ends
    # quietly (nothing for the server to log) and the app still never runs.
    class Gone(OSError):
        pass

    side = Handshaking()

    async def send(message: Any) -> None:
        side.sent.append(message)
        raise Gone

    case = Handshake(options=ONE, headers=(("origin", "https://evil.example"),), refused=True)
    await CORSMiddleware(side.app, **ONE)(_ws_scope(case, extensions), side.receive, send)
    assert side.app_calls == [] and len(side.sent) == 1


async def test_websocket_guard_off_passes_every_scope_untouched() -> None:
    side = Handshaking()
    scope = {"type": "websocket", "path": "/ws", "headers": [(b"origin", b"https://evil.example")]}
    stack = CORSMiddleware(side.app, **ONE, websocket_origins=False)
    await stack(scope, side.receive, side.send)
    assert side.app_calls == [(scope, side.receive, side.send)]


async def test_websocket_paths_match_inside_root_path() -> None:
    case = Handshake(
        options={**ONE, "paths": r"/api/"},
        headers=(("origin", "https://evil.example"),),
        path="/prefix/api/ws",
        refused=True,
    )
    side = Handshaking()
    scope = {**_ws_scope(case), "root_path": "/prefix"}
    await CORSMiddleware(side.app, **case.options)(scope, side.receive, side.send)
    assert side.app_calls == [] and side.sent == [{"type": "websocket.close", "code": 1008}]


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

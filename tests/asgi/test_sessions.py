"""ASGI-only session rules: websockets, lifespan, and the Starlette/FastAPI drop-in."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from middleware.asgi.sessions import SessionMiddleware, get_session
from tests.cases.sessions import OPTIONS, SECRET, USER, cookie, unsign
from tests.drivers import call_asgi

with warnings.catch_warnings():
    # Starlette 1.10 deprecates its TestClient on httpx in favour of httpx2 (not installed);
    # the client works the same for these tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

LOGGER = "middleware.sessions"


def session_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def starlette_app(*, ours: bool = True, **options: Any) -> Starlette:
    async def login(request: Request) -> PlainTextResponse:
        request.session["user"] = request.query_params.get("as", "alice")
        return PlainTextResponse("in")

    async def me(request: Request) -> JSONResponse:
        # JSONResponse serialises the session with json.dumps, at C level.
        return JSONResponse(request.session)

    async def logout(request: Request) -> PlainTextResponse:
        request.session.clear()
        return PlainTextResponse("out")

    async def later(request: Request) -> PlainTextResponse:
        def task() -> None:
            request.session["late"] = True

        return PlainTextResponse("ok", background=BackgroundTask(task))

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        websocket.session["from_socket"] = True
        await websocket.close()

    cls = SessionMiddleware if ours else StarletteSessions
    return Starlette(
        routes=[
            Route("/login", login),
            Route("/me", me),
            Route("/logout", logout),
            Route("/later", later),
            WebSocketRoute("/ws", socket),
        ],
        middleware=[Middleware(cls, secret_key=SECRET, **options)],
    )


def test_starlette_request_session_round_trip() -> None:
    client = TestClient(starlette_app())
    response = client.get("/login")
    assert response.text == "in"
    assert response.headers["vary"] == "Cookie"
    assert "; httponly; samesite=lax" in response.headers["set-cookie"]
    response = client.get("/me")
    assert response.json() == {"user": "alice"}
    assert "set-cookie" not in response.headers
    response = client.get("/logout")
    assert response.headers["set-cookie"].startswith("session=null; path=/; expires=Thu, 01 Jan")
    assert client.get("/me").json() == {}


def test_fastapi_add_middleware() -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key=SECRET, https_only=False)

    @app.get("/count")
    def count(request: Request) -> dict[str, int]:
        request.session["n"] = request.session.get("n", 0) + 1
        return {"n": request.session["n"]}

    client = TestClient(app)
    assert [client.get("/count").json()["n"] for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        pytest.param(True, False, id="starlette-reads-ours"),
        pytest.param(False, True, id="ours-reads-starlette"),
    ],
)
def test_cookies_interchange_with_starlette(writer: bool, reader: bool) -> None:
    # Moving between Starlette's SessionMiddleware and this one keeps everyone signed in.
    write_client = TestClient(starlette_app(ours=writer))
    write_client.get("/login?as=zoe")
    read_client = TestClient(starlette_app(ours=reader))
    read_client.cookies = write_client.cookies
    assert read_client.get("/me").json() == {"user": "zoe"}


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"https_only": True, "max_age": None}, id="secure-browser-session"),
        pytest.param(
            {"path": "/app", "domain": ".example.com", "same_site": "strict", "max_age": 60},
            id="strict-path-domain",
        ),
        pytest.param({"same_site": "Lax"}, id="same-site-as-given"),
        pytest.param(
            {"same_site": "none", "https_only": True, "partitioned": True},
            id="cross-site-partitioned",
        ),
    ],
)
def test_set_cookie_lines_are_starlettes(options: dict[str, Any]) -> None:
    # SPEC: the Set-Cookie line and the deletion cookie are spelled and ordered exactly as
    # Starlette's SessionMiddleware writes them; only the signed token differs.
    def lines(ours: bool) -> list[str]:
        client = TestClient(starlette_app(ours=ours, **options), base_url="https://testserver")
        written = client.get("/login").headers["set-cookie"]
        token = written.partition(";")[0]
        deleted = client.get("/logout", headers={"cookie": token}).headers["set-cookie"]
        return [written.replace(token, "session=TOKEN"), deleted]

    assert lines(ours=True) == lines(ours=False)


def test_websocket_session_is_read_only(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(starlette_app())
    client.get("/login")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        with client.websocket_connect("/ws") as websocket:
            assert websocket.receive_json() == {"user": "alice"}
    assert session_logs(caplog) == [
        (
            logging.WARNING,
            "Session changed on a connection that cannot set cookies (a websocket); "
            "the change is not saved.",
        )
    ]
    assert client.get("/me").json() == {"user": "alice"}


def test_background_task_change_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(starlette_app())
    client.get("/login")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = client.get("/later")
    assert "set-cookie" not in response.headers
    assert session_logs(caplog) == [
        (
            logging.WARNING,
            "Session changed after the response headers were sent; the change is lost.",
        )
    ]


def test_change_between_start_and_body_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    # Unlike WSGI (whose headers leave with the first body bytes), ASGI sends the headers with
    # http.response.start, so the decision is made there.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        scope["session"]["user"] = "bob"
        await send({"type": "http.response.body", "body": b"x"})

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = call_asgi(SessionMiddleware(app, **OPTIONS))
    assert result.header_all("set-cookie") == []
    assert len(session_logs(caplog)) == 1


def test_oversize_drops_the_rest_of_the_apps_messages() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["blob"] = "x" * 5000
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        await send({"type": "http.response.trailers", "headers": []})

    result = call_asgi(SessionMiddleware(app, **OPTIONS))
    assert (result.status, result.body) == (500, b"Internal Server Error")
    assert [m["type"] for m in result.messages] == ["http.response.start", "http.response.body"]


def test_crash_is_reraised_after_the_500() -> None:
    class Boom(Exception):
        pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["user"] = "bob"
        raise Boom

    result = call_asgi(SessionMiddleware(app, **OPTIONS))
    assert isinstance(result.error, Boom)
    assert result.status == 500 and result.header_all("set-cookie") == []


def test_lifespan_passes_through() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    asyncio.run(SessionMiddleware(app, **OPTIONS)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan"}]


def test_get_session() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        session = get_session(scope)
        seen.append((session is scope["session"], session.accessed, dict(session)))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    header = cookie()(int(time.time()))
    call_asgi(SessionMiddleware(app, **OPTIONS), headers=[("cookie", header)])
    assert seen == [(True, True, USER)]
    with pytest.raises(LookupError, match="wrap the app in middleware.asgi.SessionMiddleware"):
        get_session({"type": "http"})


def test_http2_split_cookie_fields() -> None:
    # RFC 9113 §8.2.3: the cookie header may arrive as several fields.
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["session"].get("user"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    token = cookie()(int(time.time())).split("; ")[1]
    headers = [("cookie", "theme=dark"), ("cookie", token)]
    call_asgi(SessionMiddleware(app, **OPTIONS), headers=headers)
    assert seen == ["alice"]


def test_written_cookie_reads_back_with_itsdangerous() -> None:
    client = TestClient(starlette_app())
    response = client.get("/login")
    value = response.headers["set-cookie"].split(";")[0].removeprefix("session=")
    assert unsign(value, now=int(time.time())) == {"user": "alice"}


def test_wsgi_app_is_refused() -> None:
    def app(environ: Any, start_response: Any) -> Any:  # pragma: no cover
        return []

    with pytest.raises(TypeError, match="wsgi"):
        SessionMiddleware(app, **OPTIONS)

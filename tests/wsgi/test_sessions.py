"""WSGI-only session rules: the decision waits for the first body chunk, write(), exc_info,
the environ helper, threads, and Flask."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest

from middleware.wsgi.sessions import ENVIRON_KEY, SessionMiddleware, get_session
from tests.cases.sessions import OPTIONS, USER, cookie, unsign
from tests.drivers import call_wsgi
from tests.parity.vectors import FlakyStore

LOGGER = "middleware.sessions"
TEXT = [("Content-Type", "text/plain")]


def serve(app: Any, header: str | None = None, **kwargs: Any) -> Any:
    headers = [("cookie", header)] if header else []
    return call_wsgi(SessionMiddleware(validator(app), **OPTIONS), headers=headers, **kwargs)


def token(result: Any) -> str:
    (value,) = result.header_all("set-cookie")
    return value.split(";")[0].removeprefix("session=")


def test_get_session_decodes_and_is_the_environ_value() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        session = get_session(environ)
        seen.append((session is environ[ENVIRON_KEY], session.accessed, dict(session)))
        start_response("200 OK", TEXT)
        return [b"ok"]

    result = serve(app, cookie()(int(time.time())))
    assert seen == [(True, True, USER)]
    assert result.header_all("vary") == ["Cookie"]


@pytest.mark.parametrize(
    ("app_headers", "expected"),
    [
        pytest.param(TEXT, [("Content-Type", "text/plain"), ("Vary", "Cookie")], id="no-vary"),
        pytest.param(
            [("content-type", "text/plain"), ("VARY", "Accept-Encoding"), ("vary", "Origin")],
            [("content-type", "text/plain"), ("VARY", "Accept-Encoding, Origin, Cookie")],
            id="vary-merged",
        ),
    ],
)
def test_added_fields_and_the_apps_spelling(
    app_headers: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    # The session's fields are appended to the app's own list; when the app has Vary fields,
    # they become one merged field, and the app's names keep their spelling either way.
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ[ENVIRON_KEY]["user"] = "bob"
        start_response("200 OK", list(app_headers))
        return [b"ok"]

    sent: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        sent.extend(headers)
        return lambda data: None

    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    assert list(SessionMiddleware(app, **OPTIONS)(environ, start_response)) == [b"ok"]
    assert sent[:-1] == expected
    assert sent[-1][0] == "Set-Cookie" and sent[-1][1].startswith("session=")


def test_get_session_without_middleware() -> None:
    with pytest.raises(LookupError, match="wrap the app in middleware.wsgi.SessionMiddleware"):
        get_session({})


def test_change_in_generator_before_first_chunk_is_saved(caplog: pytest.LogCaptureFixture) -> None:
    # PEP 3333: the headers leave with the first body bytes, so the set-up code of a streaming
    # generator still reaches the cookie; a change after the first chunk does not.
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        session = environ[ENVIRON_KEY]
        session["user"] = "bob"
        yield b"a"
        session["user"] = "carol"
        yield b"b"

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = serve(app)
    assert result.body == b"ab"
    assert unsign(token(result), now=int(time.time())) == {"user": "bob"}
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        "Session changed after the response headers were sent; the change is lost."
    ]


def test_write_callable_triggers_the_decision(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        write = start_response("200 OK", TEXT)
        environ[ENVIRON_KEY]["user"] = "bob"
        write(b"a")
        environ[ENVIRON_KEY]["user"] = "carol"
        write(b"b")
        return [b"c"]

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = serve(app)
    assert result.body == b"abc"
    assert unsign(token(result), now=int(time.time())) == {"user": "bob"}
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1


def test_oversize_with_write_drops_the_apps_bytes(caplog: pytest.LogCaptureFixture) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"tail"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        write = start_response("200 OK", TEXT)
        environ[ENVIRON_KEY]["blob"] = "x" * 5000
        write(b"never sent")
        return Body()

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        result = serve(app)
    assert (result.status, result.body) == (500, b"Internal Server Error")
    assert result.header("content-length") == "21"
    assert closed == [True]
    assert "over the 4096-byte limit" in caplog.records[-1].getMessage()


def test_exc_info_restart_before_the_body_saves_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        environ[ENVIRON_KEY]["user"] = "bob"
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        return [b"failed"]

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = serve(app)
    assert (result.status, result.body) == (500, b"failed")
    assert result.header_all("set-cookie") == []
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        "Session changes not saved: the response status is 500."
    ]


def test_crash_inside_the_body_before_any_byte() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        environ[ENVIRON_KEY]["user"] = "bob"
        raise RuntimeError("boom")
        yield b""  # pragma: no cover - makes this a generator

    result = serve(app)
    assert (result.status, result.body) == (500, b"Internal Server Error")
    assert result.header_all("set-cookie") == []
    assert result.header_all("vary") == ["Cookie"]


def test_store_failure_after_the_head_left_is_this_layers_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The head went to the server untouched (before any byte, so it can still be replaced):
    # too late for the session's 503, and no layer outside answers it, so a plain 500.
    store = FlakyStore()

    def make(environ: dict[str, Any], start_response: Any) -> Any:
        environ[ENVIRON_KEY]["user"] = "ada"
        start_response("200 OK", TEXT)
        return [b"made"]

    def late(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", TEXT)
        yield b""
        yield str(environ[ENVIRON_KEY].get("user")).encode()

    made = call_wsgi(SessionMiddleware(validator(make), store=store, **OPTIONS))
    session_cookie = made.header_all("set-cookie")[0].split(";")[0]
    store.down = True
    with caplog.at_level(logging.ERROR):
        result = call_wsgi(
            SessionMiddleware(validator(late), store=store, **OPTIONS),
            headers=[("cookie", session_cookie)],
        )
    assert (result.status, result.body) == (500, b"Internal Server Error")
    assert [(r.name, r.exc_info is not None) for r in caplog.records] == [
        ("middleware.errors", True),
        (LOGGER, False),
    ]


def test_empty_body_still_saves() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("204 No Content", [])
        environ[ENVIRON_KEY]["user"] = "bob"
        return []

    result = serve(app)
    assert result.status == 204
    assert unsign(token(result), now=int(time.time())) == {"user": "bob"}


def test_threads_get_their_own_sessions() -> None:
    middleware = SessionMiddleware(lambda e, s: _echo(e, s), **OPTIONS)
    now = int(time.time())
    results: dict[int, bytes] = {}

    def worker(i: int) -> None:
        for _ in range(20):
            result = call_wsgi(middleware, headers=[("cookie", cookie({"n": i})(now))])
            results[i] = result.body

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: str(i).encode() for i in range(8)}


def _echo(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("200 OK", TEXT)
    return [str(environ[ENVIRON_KEY]["n"]).encode()]


def test_flask_wsgi_app() -> None:
    from flask import Flask, request

    app = Flask(__name__)

    @app.route("/login")
    def login() -> str:
        get_session(request.environ)["user"] = "alice"
        return "in"

    @app.route("/me")
    def me() -> str:
        return str(get_session(request.environ).get("user"))

    app.wsgi_app = SessionMiddleware(app.wsgi_app, **OPTIONS)  # type: ignore[method-assign]
    client = app.test_client()
    assert client.get("/login").text == "in"
    assert client.get("/me").text == "alice"
    response = client.get("/me")
    assert response.headers.get("Vary") == "Cookie"
    assert "Set-Cookie" not in response.headers


def test_asgi_app_is_refused() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError, match="asgi"):
        SessionMiddleware(app, **OPTIONS)

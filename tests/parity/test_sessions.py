"""SessionMiddleware: every behaviour of SPEC's Sessions section, through both protocols.

The case tables are ``tests/cases/sessions.py`` (shared with the core tests); cookies are made
with itsdangerous at the real time, and the new cookies are read back the way Starlette reads
them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from middleware.asgi.sessions import SessionMiddleware as AsgiSessions
from middleware.wsgi.sessions import SessionMiddleware as WsgiSessions
from tests.cases.sessions import (
    ACTIONS,
    ATTRIBUTES,
    BAD_COOKIES,
    CASES,
    DELETE,
    GOOD_COOKIES,
    OPTIONS,
    USER,
    BadCookieCase,
    Case,
    GoodCookieCase,
    cookie,
    issued_at,
    params,
    unsign,
)
from tests.drivers import Result
from tests.parity.vectors import TEXT, AppContext, Reply, Request

LOGGER = "middleware.sessions"
# The log line of each core event: level and the start of the message.
EVENT_LOGS = {
    "BAD_COOKIE": (logging.DEBUG, "Ignored the 'session' cookie ("),
    "DISCARDED": (logging.DEBUG, "Session changes not saved: the response status is "),
    "LOST": (logging.WARNING, "Session changed after the response headers were sent"),
    "OVERSIZE": (logging.ERROR, "Session cookie 'session' would be "),
    "UNSERIALIZABLE": (logging.ERROR, "Session data cannot be saved as JSON"),
}


def wrap(**options: Any) -> Any:
    def make(module: Any, app: Any) -> Any:
        cls = WsgiSessions if module.__name__.endswith("wsgi") else AsgiSessions
        return cls(app, **{**OPTIONS, **options})

    return make


def run(serve: Any, reply: Reply, header: str | None = None, **options: Any) -> Result:
    headers = [("cookie", header)] if header is not None else []
    return serve(wrap(**options), request=Request(headers=headers), reply=reply)


def act(action: str, seen: list[Any] | None = None) -> Any:
    def hook(ctx: AppContext) -> None:
        result = ACTIONS[action](ctx.session)
        if seen is not None:
            seen.append(result)

    return hook


def session_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def assert_events(caplog: pytest.LogCaptureFixture, kinds: tuple[str, ...]) -> None:
    logs = session_logs(caplog)
    assert len(logs) == len(kinds), logs
    for (level, message), kind in zip(logs, kinds, strict=True):
        assert (level, message[: len(EVENT_LOGS[kind][1])]) == EVENT_LOGS[kind]


def new_token(result: Result) -> str:
    (value,) = result.header_all("set-cookie")
    name, _, rest = value.partition("=")
    token, _, attributes = rest.partition(";")
    assert (name, ";" + attributes) == ("session", ATTRIBUTES)
    return token


@pytest.mark.parametrize("case", params(CASES))
def test_session_cases(serve: Any, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    now = int(time.time())
    headers = TEXT if case.app_vary is None else (*TEXT, ("vary", case.app_vary))
    reply = Reply(status=case.status, headers=headers, before=act(case.action))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(serve, reply, case.cookie(now) if case.cookie else None, **case.options)
    assert_events(caplog, case.events)
    if case.answered is not None:
        assert result.status == case.answered
        assert result.headers == [
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", "21"),
        ]
        assert result.body == b"Internal Server Error"
        # The app's iterable is still closed (its body was discarded).
        assert serve.probe.closed == (1 if serve.protocol == "wsgi" else 0)
        return
    assert result.status == case.status
    assert result.body == b"hello"
    assert result.header_all("vary") == ([case.vary] if case.vary else [])
    if case.set_cookie == "none":
        assert result.header_all("set-cookie") == []
    elif case.set_cookie == "delete":
        assert result.header_all("set-cookie") == [DELETE]
    else:
        token = new_token(result)
        assert unsign(token, now=int(time.time())) == case.data
        assert now <= issued_at(token) <= int(time.time())


@pytest.mark.parametrize("case", params(BAD_COOKIES))
def test_bad_cookies(serve: Any, case: BadCookieCase, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []
    reply = Reply(before=lambda ctx: seen.append(dict(ctx.session)))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(serve, reply, case.cookie(int(time.time())))
    assert (result.status, result.body, result.error) == (200, b"hello", None)
    assert seen == [{}]
    assert result.header_all("set-cookie") == []
    assert result.header_all("vary") == ["Cookie"]
    ((level, message),) = session_logs(caplog)
    assert level == logging.DEBUG
    assert message.startswith("Ignored the 'session' cookie (") and message.endswith(
        "); the session starts empty."
    )


@pytest.mark.parametrize("case", params(GOOD_COOKIES))
def test_good_cookies(serve: Any, case: GoodCookieCase, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []
    reply = Reply(before=lambda ctx: seen.append(dict(ctx.session)))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(serve, reply, case.cookie(int(time.time())))
    assert seen == [case.data]
    assert len(result.header_all("set-cookie")) == case.refreshed
    assert session_logs(caplog) == []


def test_untouched_session_adds_nothing(serve: Any) -> None:
    result = run(serve, Reply(), cookie()(int(time.time())))
    assert result.headers == [("content-type", "text/plain; charset=utf-8")]


def test_change_after_the_headers_left_is_lost(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The change is made before the second chunk: the headers have left on both protocols.
    chunks: list[int] = []

    def during(ctx: AppContext) -> None:
        chunks.append(1)
        if len(chunks) == 2:
            ctx.session["late"] = True

    reply = Reply(chunks=(b"a", b"b"), before=act("read"), during=during)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(serve, reply, cookie()(int(time.time())))
    assert result.body == b"ab"
    assert result.header_all("set-cookie") == []
    assert result.header_all("vary") == ["Cookie"]
    assert session_logs(caplog) == [
        (
            logging.WARNING,
            "Session changed after the response headers were sent; the change is lost.",
        )
    ]


def test_crash_before_start_saves_nothing(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    reply = Reply(before=act("write"), raise_at=0)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        result = run(serve, reply, cookie()(int(time.time())))
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert result.header_all("set-cookie") == []
    assert result.header_all("vary") == ["Cookie"]
    assert_events(caplog, ("DISCARDED",))


def test_oversize_error_names_the_size(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    reply = Reply(before=act("write-4kb"))
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        result = run(serve, reply)
    assert result.status == 500
    ((level, message),) = session_logs(caplog)
    size = int(message.split(" would be ")[1].split(" bytes")[0])
    assert 4096 < size < 6000
    assert "over the 4096-byte limit" in message and "store=" in message


def test_rotation_end_to_end(serve: Any) -> None:
    # A cookie signed with the old key is read; the change is signed with the new one.
    now = int(time.time())
    from tests.cases.sessions import OLD_SECRET

    result = run(serve, Reply(before=act("add")), cookie(key=OLD_SECRET)(now))
    token = new_token(result)
    assert unsign(token, now=now) == {**USER, "theme": "dark"}


def test_options_reach_the_cookie(serve: Any) -> None:
    options = {
        "session_cookie": "sid",
        "max_age": 600,
        "path": "/app",
        "domain": "example.com",
        "same_site": "strict",
        "https_only": True,
        "partitioned": True,
    }
    result = run(serve, Reply(before=lambda ctx: ctx.session.update(a=1)), **options)
    (value,) = result.header_all("set-cookie")
    assert value.startswith("sid=")
    assert value.endswith(
        "; path=/app; Max-Age=600; httponly; samesite=strict; secure; domain=example.com;"
        " partitioned"
    )


def test_several_requests_round_trip(serve: Any) -> None:
    # The cookie one response sets is what the next request sends.
    result = run(serve, Reply(before=act("write")))
    token = new_token(result)
    seen: list[Any] = []
    result = run(serve, Reply(before=act("read", seen)), f"session={token}")
    assert seen == ["bob"]
    assert result.header_all("set-cookie") == []

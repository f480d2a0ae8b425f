"""SessionMiddleware: every behaviour of SPEC's Sessions section, through both protocols.

The case tables are ``tests/cases/sessions.py`` (shared with the core tests); cookies are made
with itsdangerous at the real time, and the new cookies are read back the way Starlette reads
them.
"""

from __future__ import annotations

import logging
import re
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
    OLD_SECRET,
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
from tests.parity.runner import run_vector
from tests.parity.vectors import TEXT, AppContext, Boom, Log, Reply, Request, Vector

LOGGER = "middleware.sessions"
# The log line of each core event: level and the start of the message.
EVENT_LOGS = {
    "BAD_COOKIE": (logging.DEBUG, "Ignored the 'session' cookie ("),
    "DISCARDED": (logging.DEBUG, "Session changes not saved: the response status is "),
    "LOST": (logging.WARNING, "Session changed after the response headers were sent"),
    "OVERSIZE": (logging.ERROR, "Session cookie 'session' would be "),
    "UNSERIALIZABLE": (logging.ERROR, "Session data cannot be saved as JSON"),
}
CRASH_HEAD = (("content-type", "text/plain; charset=utf-8"), ("content-length", "21"))
CRASH = b"Internal Server Error"


def events(*kinds: str) -> tuple[Log, ...]:
    """The log records of core events, in order."""
    return tuple(
        Log(logger=LOGGER, level=EVENT_LOGS[k][0], message=EVENT_LOGS[k][1]) for k in kinds
    )


def wrap(**options: Any) -> Any:
    def make(module: Any, app: Any) -> Any:
        cls = WsgiSessions if module.__name__.endswith("wsgi") else AsgiSessions
        return cls(app, **{**OPTIONS, **options})

    return make


def sent(header: str | None = None) -> Request:
    """A request carrying ``header`` as its Cookie line, if any."""
    return Request(headers=[("cookie", header)] if header is not None else [])


def act(action: str, seen: list[Any] | None = None) -> Any:
    def hook(ctx: AppContext) -> None:
        result = ACTIONS[action](ctx.session)
        if seen is not None:
            seen.append(result)

    return hook


# Used by tests/stores/test_parity.py, which reads the same events from caplog.
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


def case_vector(case: Case, now: int) -> Vector:
    """A case of ``tests/cases/sessions.py`` as a vector; every session log line (debug
    included) is one of the case's events."""
    headers = TEXT if case.app_vary is None else (*TEXT, ("vary", case.app_vary))
    common: dict[str, Any] = {
        "id": case.id,
        "request": sent(case.cookie(now) if case.cookie else None),
        "reply": Reply(status=case.status, headers=headers, before=act(case.action)),
        "logs": events(*case.events),
        "log_level": logging.DEBUG,
    }
    if case.answered is not None:
        # The middleware's own answer; the app's iterable is still closed (its body was
        # discarded), which the runner checks.
        return Vector(**common, status=case.answered, head=CRASH_HEAD, body=CRASH)
    cookies: dict[str, Any] = {"none": None, "delete": DELETE, "set": re.compile("session=.*")}
    return Vector(
        **common,
        status=case.status,
        headers={"vary": case.vary, "set-cookie": cookies[case.set_cookie]},
        body=b"hello",
    )


@pytest.mark.parametrize("case", params(CASES))
def test_session_cases(serve: Any, case: Case) -> None:
    now = int(time.time())
    result = run_vector(serve, wrap(**case.options), case_vector(case, now))
    if case.answered is None and case.set_cookie == "set":
        token = new_token(result)
        assert unsign(token, now=int(time.time())) == case.data
        assert now <= issued_at(token) <= int(time.time())


IGNORED = Log(
    logger=LOGGER,
    level=logging.DEBUG,
    message=re.compile(r"Ignored the 'session' cookie \(.*\); the session starts empty\.$"),
)


@pytest.mark.parametrize("case", params(BAD_COOKIES))
def test_bad_cookies(serve: Any, case: BadCookieCase) -> None:
    seen: list[Any] = []
    vector = Vector(
        id=case.id,
        request=sent(case.cookie(int(time.time()))),
        reply=Reply(before=lambda ctx: seen.append(dict(ctx.session))),
        headers={"set-cookie": None, "vary": "Cookie"},
        body=b"hello",
        logs=(IGNORED,),
        log_level=logging.DEBUG,
    )
    run_vector(serve, wrap(), vector)
    assert seen == [{}]


@pytest.mark.parametrize("case", params(GOOD_COOKIES))
def test_good_cookies(serve: Any, case: GoodCookieCase) -> None:
    seen: list[Any] = []
    vector = Vector(
        id=case.id,
        request=sent(case.cookie(int(time.time()))),
        reply=Reply(before=lambda ctx: seen.append(dict(ctx.session))),
        headers={"set-cookie": re.compile("session=.*") if case.refreshed else None},
        body=b"hello",
        log_level=logging.DEBUG,
    )
    run_vector(serve, wrap(), vector)
    assert seen == [case.data]


def test_untouched_session_adds_nothing(serve: Any) -> None:
    vector = Vector(
        id="untouched",
        request=sent(cookie()(int(time.time()))),
        head=(("content-type", "text/plain; charset=utf-8"),),
        body=b"hello",
        log_level=logging.DEBUG,
    )
    run_vector(serve, wrap(), vector)


def _late_change(ctx: AppContext) -> None:
    # Before the second chunk: the headers have left on both protocols.
    if ctx.raw.setdefault("test.pieces", 0) == 1:
        ctx.session["late"] = True
    ctx.raw["test.pieces"] += 1


LOST = Log(
    logger=LOGGER,
    level=logging.WARNING,
    message=re.compile(
        r"Session changed after the response headers were sent; the change is lost\.$"
    ),
)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            Reply(chunks=(b"a", b"b"), before=act("read"), during=_late_change), id="next-chunk"
        ),
        pytest.param(
            Reply(chunks=(b"ab",), written=(b"",), before=act("read"), during=_late_change),
            id="after-write",
        ),
    ],
)
def test_change_after_the_headers_left_is_lost(serve: Any, reply: Reply) -> None:
    vector = Vector(
        id="lost",
        request=sent(cookie()(int(time.time()))),
        reply=reply,
        headers={"set-cookie": None, "vary": "Cookie"},
        body=b"ab",
        logs=(LOST,),
        log_level=logging.DEBUG,
    )
    run_vector(serve, wrap(), vector)


def test_crash_before_start_saves_nothing(serve: Any) -> None:
    vector = Vector(
        id="crash-before-start",
        request=sent(cookie()(int(time.time()))),
        reply=Reply(before=act("write"), raise_at=0),
        status=500,
        headers={"set-cookie": None, "vary": "Cookie"},
        body=CRASH,
        crash=Boom,
        logs=events("DISCARDED"),
        log_level=logging.DEBUG,
    )
    run_vector(serve, wrap(), vector)


def test_oversize_error_names_the_size(serve: Any) -> None:
    vector = Vector(
        id="oversize",
        reply=Reply(before=act("write-4kb")),
        status=500,
        head=CRASH_HEAD,
        body=CRASH,
        logs=events("OVERSIZE"),
    )
    result = run_vector(serve, wrap(), vector)
    (message,) = [r.getMessage() for r in result.logs if r.name == LOGGER]
    size = int(message.split(" would be ")[1].split(" bytes")[0])
    assert 4096 < size < 6000
    assert "over the 4096-byte limit" in message and "store=" in message


def test_rotation_end_to_end(serve: Any) -> None:
    # A cookie signed with the old key is read; the change is signed with the new one.
    now = int(time.time())
    vector = Vector(
        id="rotation",
        request=sent(cookie(key=OLD_SECRET)(now)),
        reply=Reply(before=act("add")),
        headers={"set-cookie": re.compile("session=.*")},
    )
    token = new_token(run_vector(serve, wrap(), vector))
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
    vector = Vector(
        id="options",
        reply=Reply(session={"a": 1}),
        headers={
            "set-cookie": re.compile(
                r"sid=[^;]+; path=/app; Max-Age=600; httponly; samesite=strict; secure;"
                r" domain=example\.com; partitioned"
            )
        },
    )
    run_vector(serve, wrap(**options), vector)


def test_several_requests_round_trip(serve: Any) -> None:
    # The cookie one response sets is what the next request sends.
    first = Vector(
        id="write",
        reply=Reply(before=act("write")),
        headers={"set-cookie": re.compile("session=.*")},
    )
    token = new_token(run_vector(serve, wrap(), first))
    seen: list[Any] = []
    then = Vector(
        id="read",
        request=sent(f"session={token}"),
        reply=Reply(before=act("read", seen)),
        headers={"set-cookie": None, "vary": "Cookie"},
    )
    run_vector(serve, wrap(), then)
    assert seen == ["bob"]


@pytest.mark.parametrize(
    ("app_headers", "expected"),
    [
        pytest.param(
            (("vary", "Accept-Encoding"), *TEXT, ("x-a", "1")),
            (("vary", "Accept-Encoding, Cookie"), *TEXT, ("x-a", "1")),
            id="in-place",
        ),
        pytest.param(
            (("vary", "Accept"), *TEXT, ("vary", "Origin")),
            (("vary", "Accept, Origin, Cookie"), *TEXT),
            id="lines-coalesced-at-the-first",
        ),
        pytest.param(
            (*TEXT, ("x-a", "1")),
            (*TEXT, ("x-a", "1"), ("vary", "Cookie")),
            id="appended",
        ),
    ],
)
def test_read_puts_cookie_in_the_first_vary_line(
    serve: Any, app_headers: tuple[tuple[str, str], ...], expected: tuple[tuple[str, str], ...]
) -> None:
    # The session's Vary takes the place of the app's first Vary line, as every Vary merge of
    # the package does; the other fields keep their order.
    vector = Vector(
        id="vary-place",
        request=sent(),
        reply=Reply(headers=app_headers, before=act("read")),
        head=expected,
        body=b"hello",
    )
    run_vector(serve, wrap(), vector)

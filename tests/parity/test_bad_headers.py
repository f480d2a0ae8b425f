"""A response head the server must refuse is a crash, on both protocols (SPEC, Request logging).

CR, LF or NUL in a header name or value the app set: uvicorn closes the connection, hypercorn
sends a bare 500, gunicorn refuses it in ``start_response``; the access record used to say 200.
The layer next to the app checks the head once and raises ValueError into the app, so the
crash rule answers: a plain 500 that keeps every layer's headers, one access record with status
500 and outcome "error", the traceback logged once (ASGI: by the server, re-raised; WSGI: on
``middleware.errors``). Valid heads, tabs and obs-text included, pass untouched.

The WSGI test app is not wrapped in ``wsgiref.validate`` on its side here: the validator
refuses these heads itself (an AssertionError), which would hide the middleware's own check.
The server side is validated as everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import middleware.asgi as masgi
import middleware.wsgi as mwsgi
from middleware import Middleware
from tests.cases.response_heads import HEAD_CASES, HeadCase, Pairs, params
from tests.drivers import Result, call_asgi, call_wsgi

ORIGIN = "https://app.example"
REQUEST = [("origin", ORIGIN), ("accept-encoding", "gzip")]
BODY = b"hello"
CRASH_BODY = b"Internal Server Error"

Wrap = Callable[[ModuleType, Any], Any]


def full_stack(m: ModuleType, app: Any) -> Any:
    """The README's order: RequestLogging > Timing > CORS > Sessions > Compression."""
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN]),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-heads"),
        Middleware(m.CompressionMiddleware),
    )(app)


# Each layer alone is the one next to the app, so each must check.
LAYERS: list[Any] = [
    pytest.param(full_stack, id="full-stack"),
    pytest.param(lambda m, app: m.RequestLoggingMiddleware(app), id="request-logging"),
    pytest.param(lambda m, app: m.TimingMiddleware(app), id="timing"),
    pytest.param(lambda m, app: m.CORSMiddleware(app, allow_origins=[ORIGIN]), id="cors"),
    pytest.param(lambda m, app: m.SessionMiddleware(app, secret_key="s3cret"), id="sessions"),
    pytest.param(lambda m, app: m.CompressionMiddleware(app), id="compression"),
    pytest.param(lambda m, app: m.GZipMiddleware(app), id="gzip"),
]


def wsgi_app(headers: Pairs, lazy: bool) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if not lazy:
            start_response("200 OK", list(headers))
            return [BODY]

        def body() -> Iterator[bytes]:  # start_response only once iterated
            start_response("200 OK", list(headers))
            yield BODY

        return body()

    return app


def asgi_app(headers: Pairs, lazy: bool) -> Callable[..., Any]:
    raw = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # "lazy" on ASGI: the headers as a one-shot iterable, which ASGI allows.
        fields = iter(raw) if lazy else raw
        await send({"type": "http.response.start", "status": 200, "headers": fields})
        await send({"type": "http.response.body", "body": BODY})

    return app


def serve(
    protocol: str, wrap: Wrap, headers: Pairs, *, lazy: bool = False, validate: bool = True
) -> Result:
    if protocol == "wsgi":
        app = wrap(mwsgi, wsgi_app(headers, lazy))
        return call_wsgi(app, headers=REQUEST, validate=validate)
    return call_asgi(wrap(masgi, asgi_app(headers, lazy)), headers=REQUEST)


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == name]


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize("wrap", LAYERS)
@pytest.mark.parametrize("case", params(HEAD_CASES))
@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_bad_head_is_a_crash(
    caplog: pytest.LogCaptureFixture, protocol: str, case: HeadCase, wrap: Wrap, lazy: bool
) -> None:
    result = serve(protocol, wrap, case.headers, lazy=lazy, validate=not case.validator_refuses)
    names = {name.lower() for name, _ in case.headers}
    if case.refused is None:
        assert result.status == 200 and result.error is None
        for name, value in case.headers:
            assert value in result.header_all(name.lower())
        assert records(caplog, "middleware.errors") == []
        return
    assert (result.status, result.body) == (500, CRASH_BODY)
    assert result.header("content-type") == "text/plain; charset=utf-8"
    assert not names - {"content-type"} & {name for name, _ in result.headers}
    errors = records(caplog, "middleware.errors")
    if protocol == "asgi":
        # Re-raised unchanged for the server to log, as every crash.
        assert isinstance(result.error, ValueError) and errors == []
        error = result.error
    else:
        assert result.error is None and len(errors) == 1 and errors[0].exc_info is not None
        error = errors[0].exc_info[1]
    assert isinstance(error, ValueError) and "CR, LF or NUL" in str(error)
    name = case.refused[0]
    assert repr(name if protocol == "wsgi" else name.lower().encode("latin-1")) in str(error)


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_crash_answer_keeps_every_layers_headers_and_the_record_says_500(
    caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    result = serve(protocol, full_stack, (("Content-Type", "text/html"), ("X-Note", "a\r\nb")))
    assert result.status == 500
    assert result.header("access-control-allow-origin") == ORIGIN
    assert result.header("server-timing") is not None
    assert result.header("vary") is not None
    access = records(caplog, "middleware.access")
    assert len(access) == 1
    assert (access[0].status, access[0].outcome) == (500, "error")  # type: ignore[attr-defined]
    assert access[0].request_id == result.header("x-request-id")  # type: ignore[attr-defined]


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_only_the_layer_next_to_the_app_checks(protocol: str) -> None:
    # The layers' own headers are valid by construction: checking at the app's edge once per
    # response covers the whole head, so a stack pays for one check, not five.
    m = mwsgi if protocol == "wsgi" else masgi
    app = wsgi_app((), False) if protocol == "wsgi" else asgi_app((), False)
    inner = m.CompressionMiddleware(app)
    outer = m.TimingMiddleware(inner)
    assert outer.app is inner
    assert inner.app is not app  # the app with its head checked

"""CORSMiddleware: every behaviour of SPEC's CORS section, through both protocols.

The case tables of ``tests/cases/cors.py`` (also run against the core) go through the WSGI and
the ASGI class and must give the same status, the exact same header list and the same body.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pytest

from middleware.asgi.cors import CORSMiddleware as ASGICORS
from middleware.wsgi.cors import CORSMiddleware as WSGICORS
from tests.cases.cors import (
    ACAC,
    ACAO,
    APP,
    APP_HEADERS,
    CASES,
    EVIL,
    FULL,
    ONE,
    SECURITY_ALLOWED,
    SECURITY_CASES,
    VARY,
    Case,
)
from tests.drivers import Result
from tests.parity.vectors import Reply, Request


def _cors(protocol: str, app: Any, **options: Any) -> Any:
    cls = WSGICORS if protocol == "wsgi" else ASGICORS
    return cls(app, **options)


def _run(serve: Any, case: Case) -> tuple[Result, list[str]]:
    called: list[str] = []
    reply = Reply(headers=case.app_headers, before=lambda ctx: called.append(ctx.protocol))
    request = Request(method=case.method, path=case.path, headers=list(case.headers))
    result = serve(
        lambda m, app: _cors(serve.protocol, app, **case.options), request=request, reply=reply
    )
    return result, called


def _check(serve: Any, case: Case) -> None:
    result, called = _run(serve, case)
    assert bool(called) is case.app_called
    assert result.status == case.status
    assert result.headers == list(case.response_headers)
    assert result.body == case.body
    assert result.error is None


@pytest.mark.parametrize("case", CASES)
def test_cors_case(serve: Any, case: Case) -> None:
    _check(serve, case)


@pytest.mark.parametrize("case", SECURITY_CASES + SECURITY_ALLOWED)
def test_cors_security_table(serve: Any, case: Case) -> None:
    _check(serve, case)


# --- "Crashes keep their headers"


def test_cors_crash_keeps_headers(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    request = Request(headers=[("origin", APP)])
    result = serve(
        lambda m, app: _cors(serve.protocol, app, **FULL), request=request, reply=Reply(raise_at=0)
    )
    assert result.status == 500
    assert result.headers == [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", "21"),
        (ACAO, APP),
        (ACAC, "true"),
        ("access-control-expose-headers", "X-Request-ID, X-Total"),
        VARY,
    ]
    assert result.body == b"Internal Server Error"
    if serve.protocol == "asgi":
        # ASGI re-raises so the server logs it.
        assert type(result.error).__name__ == "Boom"
    else:
        # PEP 3333 cannot both answer and raise: the traceback goes to middleware.errors.
        assert [r.name for r in caplog.records if r.exc_info] == ["middleware.errors"]


def test_cors_crash_without_origin_keeps_vary(serve: Any) -> None:
    result = serve(lambda m, app: _cors(serve.protocol, app, **ONE), reply=Reply(raise_at=0))
    assert result.status == 500
    assert result.header_all("vary") == ["Origin"]


def test_cors_crash_after_start_propagates(serve: Any) -> None:
    request = Request(headers=[("origin", APP)])
    reply = Reply(chunks=(b"a", b"b"), raise_at=1)
    result = serve(lambda m, app: _cors(serve.protocol, app, **ONE), request=request, reply=reply)
    assert result.status == 200
    assert result.header(ACAO) == APP
    assert result.body == b"a"
    assert type(result.error).__name__ == "Boom"


# --- Streaming, other statuses, bodies


def test_cors_streamed_body_passes_through(serve: Any) -> None:
    request = Request(headers=[("origin", APP)])
    reply = Reply(chunks=(b"one", b"two", b"three"))
    result = serve(lambda m, app: _cors(serve.protocol, app, **ONE), request=request, reply=reply)
    assert result.chunks == [b"one", b"two", b"three"]
    assert result.headers == [*APP_HEADERS, (ACAO, APP), VARY]
    if serve.protocol == "wsgi":
        assert serve.probe.closed == 1


@pytest.mark.parametrize("status", [201, 204, 304, 404, 500])
def test_cors_headers_on_every_status(serve: Any, status: int) -> None:
    request = Request(headers=[("origin", APP)])
    empty = status in (204, 304)
    headers = () if empty else APP_HEADERS
    reply = Reply(status=status, headers=headers, chunks=() if empty else (b"x",))
    result = serve(lambda m, app: _cors(serve.protocol, app, **ONE), request=request, reply=reply)
    assert result.status == status
    assert result.headers == [*headers, (ACAO, APP), VARY]


def test_cors_preflight_request_body_not_needed(serve: Any) -> None:
    request = Request(
        method="OPTIONS",
        headers=[("origin", APP), ("access-control-request-method", "GET")],
    )
    result = serve(
        lambda m, app: _cors(serve.protocol, app, **ONE), request=request, reply=Reply(status=405)
    )
    assert (result.status, result.body) == (200, b"OK")


def test_cors_paths_non_ascii_path_same_on_both(serve: Any) -> None:
    # WSGI's PATH_INFO is latin-1-decoded bytes, ASGI's path is UTF-8 text; `paths` sees the
    # same text on both.
    request = Request(path="/café/menu", headers=[("origin", APP)])
    options = {**ONE, "paths": "/café/"}
    result = serve(lambda m, app: _cors(serve.protocol, app, **options), request=request)
    assert result.header(ACAO) == APP


def test_cors_disallowed_origin_app_still_answers(serve: Any) -> None:
    result, called = _run(serve, Case(options=ONE, method="POST", headers=(("origin", EVIL),)))
    assert called and result.status == 200 and result.header(ACAO) is None


# --- Construction


def test_cors_star_with_credentials_logs_warning_once(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="middleware.cors"):
        serve(
            lambda m, app: _cors(serve.protocol, app, allow_origins=["*"], allow_credentials=True)
        )
    warnings = [r for r in caplog.records if r.name == "middleware.cors"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "any website can read responses" in warnings[0].getMessage()


def test_cors_quiet_configuration_logs_nothing(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="middleware.cors"):
        serve(lambda m, app: _cors(serve.protocol, app, **FULL))
    assert not [r for r in caplog.records if r.name == "middleware.cors"]


def test_cors_bad_option_raises_at_construction(serve: Any) -> None:
    with pytest.raises(ValueError, match="allow_origins entries must be"):
        serve(lambda m, app: _cors(serve.protocol, app, allow_origins=["https://a.example/"]))


def test_cors_signatures_identical() -> None:
    assert inspect.signature(WSGICORS) == inspect.signature(ASGICORS)
    params = inspect.signature(WSGICORS).parameters
    assert list(params) == [
        "app",
        "allow_origins",
        "allow_methods",
        "allow_headers",
        "allow_credentials",
        "allow_origin_regex",
        "allow_private_network",
        "expose_headers",
        "max_age",
        "paths",
        "websocket_origins",
    ]
    assert params["paths"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["websocket_origins"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["websocket_origins"].default is True
    starlette = pytest.importorskip("starlette.middleware.cors")
    theirs = inspect.signature(starlette.CORSMiddleware).parameters
    for name, param in theirs.items():
        assert params[name].default == param.default, name
        assert params[name].kind == param.kind, name


def test_cors_wrong_protocol_is_a_type_error() -> None:
    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        return None

    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(TypeError, match="asgi"):
        WSGICORS(asgi_app)
    with pytest.raises(TypeError, match="wsgi"):
        ASGICORS(wsgi_app)


# --- In a stack


def _stack(m: Any, app: Any, *inner: Any) -> Any:
    return m.compose(m.Middleware(m.CORSMiddleware, **FULL), *inner)(app)


def test_cors_vary_merged_with_compression(serve: Any) -> None:
    request = Request(headers=[("origin", APP), ("accept-encoding", "gzip")])
    reply = Reply(chunks=(b"x" * 2000,))
    result = serve(
        lambda m, app: _stack(m, app, m.Middleware(m.CompressionMiddleware, encodings=("gzip",))),
        request=request,
        reply=reply,
    )
    assert result.header("content-encoding") == "gzip"
    assert result.header_all("vary") == ["Accept-Encoding, Origin"]
    assert result.header(ACAO) == APP


def test_cors_crash_in_full_stack_keeps_every_layer_header(serve: Any) -> None:
    request = Request(headers=[("origin", APP), ("accept-encoding", "gzip")])
    result = serve(
        lambda m, app: _stack(m, app, m.CompressionMiddleware, m.TimingMiddleware),
        request=request,
        reply=Reply(raise_at=0),
    )
    assert result.status == 500
    assert result.header(ACAO) == APP
    assert result.header("server-timing") is not None
    assert "Origin" in (result.header("vary") or "")


def test_cors_preflight_answered_before_inner_layers(serve: Any) -> None:
    called: list[str] = []
    request = Request(
        method="OPTIONS", headers=[("origin", APP), ("access-control-request-method", "POST")]
    )
    reply = Reply(before=lambda ctx: called.append("app"))
    result = serve(lambda m, app: _stack(m, app, m.TimingMiddleware), request=request, reply=reply)
    assert (result.status, result.body, called) == (200, b"OK", [])
    assert result.header("server-timing") is None

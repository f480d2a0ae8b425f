"""CORSMiddleware: every behaviour of SPEC's CORS section, through both protocols.

The case tables of ``tests/cases/cors.py`` (also run against the core) go through the WSGI and
the ASGI class and must give the same status, the exact same header list and the same body.
"""

from __future__ import annotations

import inspect
import logging
import re
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
)
from tests.parity.runner import run_vector
from tests.parity.vectors import Boom, Log, Reply, Request, Vector

TEXT = (("content-type", "text/plain; charset=utf-8"), ("content-length", "21"))
CRASH = b"Internal Server Error"


def cors(**options: Any) -> Any:
    return lambda m, app: m.CORSMiddleware(app, **options)


# Logged once, at construction, for allow_origins=["*"] with credentials.
STAR_WARNING = Log(
    logger="middleware.cors",
    level=logging.WARNING,
    message=re.compile(r".*any website can read responses"),
)


def warnings(options: dict[str, Any]) -> tuple[Log, ...]:
    star = "*" in options.get("allow_origins", ()) and options.get("allow_credentials", False)
    return (STAR_WARNING,) if star else ()


def from_case(param: Any) -> Any:
    """A case of ``tests/cases/cors.py`` as a vector: the exact header list, the body, whether
    the app was called, and the configuration's warning if any."""
    (case,) = param.values
    vector = Vector(
        id=param.id,
        request=Request(method=case.method, path=case.path, headers=list(case.headers)),
        reply=Reply(headers=case.app_headers),
        status=case.status,
        head=case.response_headers,
        body=case.body,
        app_called=case.app_called,
        logs=warnings(case.options),
    )
    return pytest.param(case.options, vector, id=param.id)


@pytest.mark.parametrize(("options", "vector"), [from_case(param) for param in CASES])
def test_cors_case(serve: Any, options: dict[str, Any], vector: Vector) -> None:
    run_vector(serve, cors(**options), vector)


@pytest.mark.parametrize(
    ("options", "vector"), [from_case(param) for param in SECURITY_CASES + SECURITY_ALLOWED]
)
def test_cors_security_table(serve: Any, options: dict[str, Any], vector: Vector) -> None:
    run_vector(serve, cors(**options), vector)


FROM_APP = Request(headers=[("origin", APP)])

VECTORS = [
    # "Crashes keep their headers".
    pytest.param(
        FULL,
        Vector(
            id="crash-keeps-headers",
            request=FROM_APP,
            reply=Reply(raise_at=0),
            status=500,
            head=(
                *TEXT,
                (ACAO, APP),
                (ACAC, "true"),
                ("access-control-expose-headers", "X-Request-ID, X-Total"),
                VARY,
            ),
            body=CRASH,
            crash=Boom,
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="crash-without-origin-keeps-vary",
            reply=Reply(raise_at=0),
            status=500,
            head=(*TEXT, VARY),
            body=CRASH,
            crash=Boom,
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="crash-after-start-propagates",
            request=FROM_APP,
            reply=Reply(chunks=(b"a", b"b"), raise_at=1),
            headers={ACAO: APP},
            body=b"a",
            raises=Boom,
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="crash-after-the-start",
            request=FROM_APP,
            reply=Reply(lazy=True, raise_after_start=True),
            status=500,
            head=(*TEXT, (ACAO, APP), VARY),
            body=CRASH,
            crash=Boom,
            # PEP 3333: nothing leaves before the first body byte, so WSGI can still answer
            # the 500; the ASGI start went out (CORS holds nothing): the exception propagates.
            differs={
                "asgi": {
                    "status": 200,
                    "head": (*APP_HEADERS, (ACAO, APP), VARY),
                    "body": b"",
                    "crash": None,
                    "raises": Boom,
                }
            },
        ),
    ),
    # Streaming, other statuses, bodies.
    pytest.param(
        ONE,
        Vector(
            id="streamed-body-passes-through",
            request=FROM_APP,
            reply=Reply(chunks=(b"one", b"two", b"three")),
            head=(*APP_HEADERS, (ACAO, APP), VARY),
            chunks=(b"one", b"two", b"three"),
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="written-body-passes-through",
            request=FROM_APP,
            reply=Reply(written=(b"written ",), chunks=(b"iterated",)),
            head=(*APP_HEADERS, (ACAO, APP), VARY),
            chunks=(b"written ", b"iterated"),
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="exc-info-restart-gets-the-headers",
            request=FROM_APP,
            reply=Reply(restart=Reply(status=503, chunks=(b"later",))),
            status=503,
            head=(*APP_HEADERS, (ACAO, APP), VARY),
            body=b"later",
        ),
    ),
    *(
        pytest.param(
            ONE,
            Vector(
                id=f"headers-on-{status}",
                request=FROM_APP,
                reply=Reply(
                    status=status,
                    headers=() if status in (204, 304) else APP_HEADERS,
                    chunks=() if status in (204, 304) else (b"x",),
                ),
                status=status,
                head=((*APP_HEADERS,) if status not in (204, 304) else ()) + ((ACAO, APP), VARY),
                body=b"" if status in (204, 304) else b"x",
            ),
        )
        for status in (201, 204, 304, 404, 500)
    ),
    pytest.param(
        ONE,
        Vector(
            id="preflight-request-body-not-needed",
            request=Request(
                method="OPTIONS",
                headers=[("origin", APP), ("access-control-request-method", "GET")],
            ),
            reply=Reply(status=405),
            body=b"OK",
            app_called=False,
        ),
    ),
    # WSGI's PATH_INFO is latin-1-decoded bytes, ASGI's path is UTF-8 text; `paths` sees the
    # same text on both.
    pytest.param(
        {**ONE, "paths": "/café/"},
        Vector(
            id="paths-non-ascii-path-same-on-both",
            request=Request(path="/café/menu", headers=[("origin", APP)]),
            headers={ACAO: APP},
        ),
    ),
    pytest.param(
        ONE,
        Vector(
            id="disallowed-origin-app-still-answers",
            request=Request(method="POST", headers=[("origin", EVIL)]),
            headers={ACAO: None},
            body=b"hello",
        ),
    ),
    # Construction: the warning is logged once, a quiet configuration logs nothing at all.
    pytest.param(
        {"allow_origins": ["*"], "allow_credentials": True},
        Vector(
            id="star-with-credentials-logs-warning-once",
            logs=(STAR_WARNING,),
            log_level=logging.DEBUG,
        ),
    ),
    pytest.param(
        FULL,
        Vector(id="quiet-configuration-logs-nothing", log_level=logging.DEBUG),
    ),
]


@pytest.mark.parametrize(
    ("options", "vector"), [pytest.param(*p.values, id=p.values[1].id) for p in VECTORS]
)
def test_cors(serve: Any, options: dict[str, Any], vector: Vector) -> None:
    run_vector(serve, cors(**options), vector)


# --- Construction


def test_cors_bad_option_raises_at_construction(serve: Any) -> None:
    vector = Vector(id="bad-option", app_called=False)
    with pytest.raises(ValueError, match="allow_origins entries must be"):
        run_vector(serve, cors(allow_origins=["https://a.example/"]), vector)


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


def _stack(inner: Any) -> Any:
    """CORS with FULL outside the layers ``inner(module)`` lists."""
    return lambda m, app: m.compose(m.Middleware(m.CORSMiddleware, **FULL), *inner(m))(app)


STACKED = [
    pytest.param(
        _stack(lambda m: [m.Middleware(m.CompressionMiddleware, encodings=("gzip",))]),
        Vector(
            id="vary-merged-with-compression",
            request=Request(headers=[("origin", APP), ("accept-encoding", "gzip")]),
            reply=Reply(chunks=(b"x" * 2000,)),
            headers={"content-encoding": "gzip", "vary": "Accept-Encoding, Origin", ACAO: APP},
            body=b"x" * 2000,
        ),
        id="vary-merged-with-compression",
    ),
    pytest.param(
        _stack(lambda m: [m.CompressionMiddleware, m.TimingMiddleware]),
        Vector(
            id="crash-in-full-stack-keeps-every-layer-header",
            request=Request(headers=[("origin", APP), ("accept-encoding", "gzip")]),
            reply=Reply(raise_at=0),
            status=500,
            headers={
                ACAO: APP,
                "server-timing": re.compile(r"app;dur=[0-9.]+"),
                "vary": re.compile(r".*\bOrigin\b.*"),
            },
            body=CRASH,
            crash=Boom,
        ),
        id="crash-in-full-stack-keeps-every-layer-header",
    ),
    pytest.param(
        _stack(lambda m: [m.TimingMiddleware]),
        Vector(
            id="preflight-answered-before-inner-layers",
            request=Request(
                method="OPTIONS",
                headers=[("origin", APP), ("access-control-request-method", "POST")],
            ),
            headers={"server-timing": None},
            body=b"OK",
            app_called=False,
        ),
        id="preflight-answered-before-inner-layers",
    ),
]


@pytest.mark.parametrize(("wrap", "vector"), STACKED)
def test_cors_in_a_stack(serve: Any, wrap: Any, vector: Vector) -> None:
    run_vector(serve, wrap, vector)

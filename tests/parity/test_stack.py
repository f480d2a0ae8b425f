"""All five middleware in one stack: the features compose, on both protocols alike."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from middleware import Middleware
from tests.parity.vectors import Reply, Request, Vector, check, params

ORIGIN = "https://app.example"


def stack(m: Any, app: Any) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        m.TimingMiddleware,
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-tests"),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def _touch_session(ctx: Any) -> None:
    ctx.session["user"] = "ada"


PAGE = b"<p>hello</p>" * 100
HTML = (("content-type", "text/html"),)
ID = re.compile(r"[0-9a-f]{32}")
TIMED = re.compile(r"app;dur=[0-9.]+")

VECTORS = [
    Vector(
        id="every-layer-on-one-response",
        request=Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")]),
        reply=Reply(headers=HTML, chunks=(PAGE,), before=_touch_session),
        headers={
            "content-encoding": "gzip",
            "access-control-allow-origin": ORIGIN,
            "access-control-allow-credentials": "true",
            "server-timing": TIMED,
            "x-request-id": ID,
            "vary": re.compile(r"(?=.*Accept-Encoding)(?=.*Origin)(?=.*Cookie).*"),
            "set-cookie": re.compile(r"session=[^;]+; .*httponly.*"),
        },
    ),
    Vector(
        id="crash-keeps-every-layers-headers",
        request=Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")]),
        reply=Reply(raise_at=0, before=_touch_session),
        status=500,
        headers={
            "access-control-allow-origin": ORIGIN,
            "server-timing": TIMED,
            "x-request-id": ID,
            "content-encoding": None,
            "set-cookie": None,  # a 5xx does not save the session
        },
        body=b"Internal Server Error",
    ),
    Vector(
        id="preflight-answered-inside-the-stack",
        request=Request(
            method="OPTIONS",
            headers=[("origin", ORIGIN), ("access-control-request-method", "GET")],
        ),
        status=200,
        headers={"access-control-allow-origin": ORIGIN, "server-timing": TIMED, "x-request-id": ID},
        body=b"OK",
    ),
]


@pytest.mark.parametrize("vector", params(VECTORS))
def test_full_stack(serve: Any, vector: Vector) -> None:
    result = serve(stack, vector)
    if result.header("content-encoding") == "gzip":
        import gzip

        result.body = gzip.decompress(result.body)
    check(result, vector)


def test_crash_logged_once_and_recorded_once(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    serve(stack, reply=Reply(raise_at=0))
    tracebacks = [r for r in caplog.records if r.exc_info]
    access = [r for r in caplog.records if r.name == "middleware.access"]
    assert len(access) == 1
    assert access[0].status == 500 and access[0].outcome == "error"  # type: ignore[attr-defined]
    # WSGI logs the traceback once on middleware.errors; ASGI re-raises it for the server.
    expected = ["middleware.errors"] if serve.protocol == "wsgi" else []
    assert [r.name for r in tracebacks] == expected

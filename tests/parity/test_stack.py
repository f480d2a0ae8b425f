"""All five middleware in one stack: the features compose, on both protocols alike."""

from __future__ import annotations

import re
from typing import Any

import pytest

from middleware import Middleware
from tests.parity.runner import run_vector
from tests.parity.vectors import Boom, Reply, Request, Vector, params

ORIGIN = "https://app.example"


def stack(m: Any, app: Any) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        m.TimingMiddleware,
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-tests"),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


PAGE = b"<p>hello</p>" * 100
HTML = (("content-type", "text/html"),)
ID = re.compile(r"[0-9a-f]{32}")
TIMED = re.compile(r"app;dur=[0-9.]+")

VECTORS = [
    Vector(
        id="every-layer-on-one-response",
        request=Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")]),
        reply=Reply(headers=HTML, chunks=(PAGE,), session={"user": "ada"}),
        headers={
            "content-encoding": "gzip",
            "access-control-allow-origin": ORIGIN,
            "access-control-allow-credentials": "true",
            "server-timing": TIMED,
            "x-request-id": ID,
            "vary": re.compile(r"(?=.*Accept-Encoding)(?=.*Origin)(?=.*Cookie).*"),
            "set-cookie": re.compile(r"session=[^;]+; .*httponly.*"),
        },
        body=PAGE,
        outcome="completed",
    ),
    Vector(
        id="crash-keeps-every-layers-headers",
        request=Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")]),
        reply=Reply(raise_at=0, session={"user": "ada"}),
        status=500,
        headers={
            "access-control-allow-origin": ORIGIN,
            "server-timing": TIMED,
            "x-request-id": ID,
            "content-encoding": None,
            "set-cookie": None,  # a 5xx does not save the session
        },
        body=b"Internal Server Error",
        # Logged once (WSGI: on middleware.errors; ASGI: re-raised for the server) and
        # recorded once.
        crash=Boom,
        outcome="error",
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
        app_called=False,
        outcome="completed",
    ),
    Vector(
        id="crash-mid-body-recorded-once",
        request=Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")]),
        reply=Reply(headers=HTML, chunks=(PAGE, PAGE), raise_at=1, session={"user": "ada"}),
        headers={"content-encoding": "gzip", "x-request-id": ID, "server-timing": TIMED},
        body=PAGE,
        raises=Boom,
        outcome="error",
    ),
    Vector(
        id="client-leaves-recorded-once",
        request=Request(headers=[("origin", ORIGIN)], leaves_after=1),
        reply=Reply(headers=HTML, chunks=(PAGE, PAGE, PAGE)),
        headers={"content-encoding": None, "x-request-id": ID},
        body=PAGE,
        outcome="disconnected",
        # ASGI: the server's send failed (OSError, as uvicorn's); it propagates.
        differs={"asgi": {"raises": OSError}},
    ),
]


@pytest.mark.parametrize("vector", params(VECTORS))
def test_full_stack(serve: Any, vector: Vector) -> None:
    run_vector(serve, stack, vector)

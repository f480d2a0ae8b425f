"""A response head the server must refuse is a crash, on both protocols (SPEC, Request logging).

CR, LF or NUL in a header name or value the app set: uvicorn closes the connection, hypercorn
sends a bare 500, gunicorn refuses it in ``start_response``; the access record used to say 200.
The layer next to the app checks the head once and raises ValueError into the app, so the
crash rule answers: a plain 500 that keeps every layer's headers, one access record with status
500 and outcome "error", the traceback logged once (ASGI: by the server, re-raised; WSGI: on
``middleware.errors``). Valid heads, tabs and obs-text included, pass untouched.

The WSGI test app is wrapped in ``wsgiref.validate`` only when its head has no control
character: the validator refuses those itself (an AssertionError), which would hide the
middleware's own check. The server side is validated unless the head holds an HTAB, which RFC
9110 allows and the validator refuses (``tests/parity/vectors.py`` decides both).
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest

from middleware import Middleware
from tests.cases.response_heads import HEAD_CASES, HeadCase, params
from tests.parity.runner import crash_of, run_vector
from tests.parity.vectors import Reply, Request, Vector

ORIGIN = "https://app.example"
REQUEST = Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")])
BODY = b"hello"
CRASH_BODY = b"Internal Server Error"


def full_stack(m: ModuleType, app: Any) -> Any:
    """The README's order: RequestLogging > Timing > CORS > Sessions > Compression."""
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN]),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-heads"),
        Middleware(m.CompressionMiddleware),
    )(app)


# Each layer alone is the one next to the app, so each must check. The second value: whether
# the stack writes an access record.
LAYERS: list[Any] = [
    pytest.param(full_stack, True, id="full-stack"),
    pytest.param(lambda m, app: m.RequestLoggingMiddleware(app), True, id="request-logging"),
    pytest.param(lambda m, app: m.TimingMiddleware(app), False, id="timing"),
    pytest.param(lambda m, app: m.CORSMiddleware(app, allow_origins=[ORIGIN]), False, id="cors"),
    pytest.param(
        lambda m, app: m.SessionMiddleware(app, secret_key="s3cret"), False, id="sessions"
    ),
    pytest.param(lambda m, app: m.CompressionMiddleware(app), False, id="compression"),
    pytest.param(lambda m, app: m.GZipMiddleware(app), False, id="gzip"),
]


def head_vector(case: HeadCase, *, lazy: bool, logged: bool) -> Vector:
    """The case as a vector: a valid head passes untouched; a refused one is a crash, answered
    with the plain 500 that carries none of the app's fields."""
    reply = Reply(headers=case.headers, chunks=(BODY,), lazy=lazy)
    if case.refused is None:
        return Vector(
            id=case.id,
            request=REQUEST,
            reply=reply,
            headers={name.lower(): value for name, value in case.headers},
            body=BODY,
            outcome="completed" if logged else None,
        )
    dropped = {name.lower(): None for name, _ in case.headers if name.lower() != "content-type"}
    return Vector(
        id=case.id,
        request=REQUEST,
        reply=reply,
        status=500,
        headers={**dropped, "content-type": "text/plain; charset=utf-8"},
        body=CRASH_BODY,
        crash=ValueError,
        outcome="error" if logged else None,
    )


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
@pytest.mark.parametrize(("wrap", "logged"), LAYERS)
@pytest.mark.parametrize("case", params(HEAD_CASES))
def test_bad_head_is_a_crash(
    serve: Any, case: HeadCase, wrap: Any, logged: bool, lazy: bool
) -> None:
    result = run_vector(serve, wrap, head_vector(case, lazy=lazy, logged=logged))
    if case.refused is not None:
        # The crash (re-raised on ASGI, logged on WSGI) names the field as the app gave it.
        error = crash_of(serve.protocol, result)
        assert isinstance(error, ValueError) and "CR, LF or NUL" in str(error)
        name = case.refused[0]
        assert repr(name if serve.protocol == "wsgi" else name.lower().encode("latin-1")) in str(
            error
        )


def test_crash_answer_keeps_every_layers_headers_and_the_record_says_500(serve: Any) -> None:
    vector = Vector(
        id="crash-keeps-every-layers-headers",
        request=REQUEST,
        reply=Reply(headers=(("Content-Type", "text/html"), ("X-Note", "a\r\nb"))),
        status=500,
        headers={
            "access-control-allow-origin": ORIGIN,
            "server-timing": re.compile(r"app;dur=[0-9.]+"),
            "vary": re.compile(r".+"),
            "x-note": None,
        },
        body=CRASH_BODY,
        crash=ValueError,
        outcome="error",
    )
    run_vector(serve, full_stack, vector)


def test_only_the_layer_next_to_the_app_checks(serve: Any) -> None:
    # The layers' own headers are valid by construction: checking at the app's edge once per
    # response covers the whole head, so a stack pays for one check, not five.
    built: dict[str, Any] = {}

    def wrap(m: ModuleType, app: Any) -> Any:
        built["app"], built["inner"] = app, m.CompressionMiddleware(app)
        built["outer"] = m.TimingMiddleware(built["inner"])
        return built["outer"]

    run_vector(serve, wrap, Vector(id="two-layers", body=BODY))
    assert built["outer"].app is built["inner"]
    assert built["inner"].app is not built["app"]  # the app with its head checked

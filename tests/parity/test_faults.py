"""Fault injection through the full five-layer stack, on both protocols.

Each fault is a vector run through RequestLogging > Timing > CORS > Sessions > Compression, the
order of tests/parity/test_stack.py (the store failures also with the sessions outside timing
and CORS). The runner checks the documented status and headers, what reaches the server, the
one access record and its outcome, the logs, every WSGI iterable closed exactly once and no
asyncio task left behind; each test here adds that ``on_complete`` ran once per request and
that every stream encoder the compression layer made was finished or closed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from logging import ERROR
from typing import Any

import pytest

from middleware import Middleware
from middleware.core import codecs
from tests.parity.runner import Wrap, run_vector
from tests.parity.vectors import Boom, CloseFailed, Log, Reply, Request, Vector

ORIGIN = "https://app.example"
REQUEST = Request(headers=[("origin", ORIGIN), ("accept-encoding", "gzip")])
HTML = (("content-type", "text/html; charset=utf-8"),)
PNG = (("content-type", "image/png"),)
CHUNK = b"<p>" + b"x" * 600 + b"</p>"
ID = re.compile(r"[0-9a-f]{32}")
TIMED = re.compile(r"app;dur=[0-9.]+")
CRASH = b"Internal Server Error"
# The app's session change; a 2xx saves it, a 5xx does not.
ADA = {"user": "ada"}

Stack = Callable[[Any, Callable[[Any], None]], Wrap]


def sessions_inside(store: Any, completed: Callable[[Any], None]) -> Wrap:
    return lambda m, app: m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware, on_complete=completed),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-faults", store=store),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def sessions_outside(store: Any, completed: Callable[[Any], None]) -> Wrap:
    """The sessions layer outside timing and CORS: more layers inside it to pass the failure."""
    return lambda m, app: m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.SessionMiddleware, secret_key="s3cret-for-faults", store=store),
        Middleware(m.TimingMiddleware, on_complete=completed),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.CompressionMiddleware, minimum_size=10),
    )(app)


def page(**fields: Any) -> Reply:
    """The app: touches the session, then three chunks of HTML."""
    return Reply(**{"headers": HTML, "chunks": (CHUNK,) * 3, "session": ADA, **fields})


# "Crashes keep their headers": the plain 500 carries every outer layer's headers.
CRASH_HEADERS = {
    "access-control-allow-origin": ORIGIN,
    "server-timing": TIMED,
    "x-request-id": ID,
    "set-cookie": None,  # a 5xx does not save the session
}
SAVED = {"set-cookie": re.compile(r"session=[^;]+;.*")}
# The documented answer to a failed store (SPEC "Store failures"): 503 with the outer layers'
# headers, handled rather than crashed (nothing reaches the server), one ERROR line naming the
# store and the error, without a traceback, and nothing else above INFO.
UNAVAILABLE = Log(
    logger="middleware.sessions",
    level=ERROR,
    message=re.compile(r".*FlakyStore.*store unreachable"),
)
UNAVAILABLE_HEADERS = {**CRASH_HEADERS}
OUTSIDE_HEADERS = {"access-control-allow-origin": None, "server-timing": None, "x-request-id": ID}


def crash(id: str, reply: Reply, error: type[BaseException] = Boom, **fields: Any) -> Vector:
    return Vector(
        id=id,
        request=REQUEST,
        reply=reply,
        status=500,
        headers=CRASH_HEADERS,
        body=CRASH,
        crash=error,
        outcome="error",
        **fields,
    )


def down(id: str, reply: Reply, headers: dict[str, Any] = UNAVAILABLE_HEADERS) -> Vector:
    return Vector(
        id=id,
        request=REQUEST,
        reply=reply,
        status=503,
        headers=headers,
        body=b"Service Unavailable",
        logs=(UNAVAILABLE,),
        outcome="completed",
    )


# The access record: ASGI writes it when the app returns, so the app's exception makes it an
# "error" (docs/features/request-logging.md); WSGI writes it as the server closes the
# response, and the body had run out: "completed", even though close() then raises.
CLOSE_RAISES_DIFFERS = {"wsgi": {"outcome": "completed"}}


def fault(
    vector: Vector, encoders: int | dict[str, int] = 0, stack: Stack = sessions_inside
) -> Any:
    """A vector, the stream encoders its request makes (each must be released; given per
    protocol where they take different paths to the same bytes), and its stack."""
    return pytest.param(stack, vector, encoders, id=vector.id)


def answered(id: str, reply: Reply, encoders: int | dict[str, int], **fields: Any) -> Any:
    """A fault whose response went out (or began to) through the sessions-inside stack."""
    return fault(Vector(id=id, request=REQUEST, reply=reply, **fields), encoders)


GZIP = {"content-encoding": "gzip", **SAVED}

FAULTS = [
    answered(
        "no-fault",
        page(),
        1,
        headers={**GZIP, "access-control-allow-origin": ORIGIN},
        body=CHUNK * 3,
        outcome="completed",
    ),
    fault(crash("raise-before-start", page(raise_at=0))),
    # PEP 3333: the headers leave with the first body byte, so nothing had left: a 500. ASGI:
    # compression held the start (the first body decides the encoding): nothing had left.
    fault(crash("raise-after-a-held-start", page(raise_after_start=True))),
    fault(crash("raise-after-a-held-start-lazy", page(lazy=True, raise_after_start=True))),
    fault(crash("raise-with-the-work-after-a-held-start", page(start_first=True, raise_at=0))),
    # An image is not compressed, so its ASGI start went straight out: the exception
    # propagates and the client sees a response that never ends.
    fault(
        crash(
            "raise-after-a-forwarded-start",
            page(headers=PNG, raise_after_start=True),
            differs={
                "asgi": {
                    "status": 200,
                    "headers": {**CRASH_HEADERS, "set-cookie": SAVED["set-cookie"]},
                    "body": b"",
                    "chunks": (),
                    "crash": None,
                    "raises": Boom,
                }
            },
        )
    ),
    # What left is a valid prefix of the body: the first chunk, flushed.
    answered(
        "raise-mid-body",
        page(raise_at=1),
        1,
        headers={**GZIP, "access-control-allow-origin": ORIGIN},
        body=CHUNK,
        raises=Boom,
        outcome="error",
    ),
    fault(
        Vector(
            id="client-leaves-mid-body",
            request=Request(headers=REQUEST.headers, leaves_after=1),
            reply=page(),
            headers=GZIP,
            body=CHUNK,
            outcome="disconnected",
            # ASGI: the server's send failed (OSError, as uvicorn's); it propagates.
            differs={"asgi": {"raises": OSError}},
        ),
        1,
    ),
    # The server hears of a failure once the response is over, after every layer finished
    # its work: WSGI from close(), ASGI from the app after its final message.
    *(
        answered(
            f"close-raises-{name}",
            page(headers=headers, close_raises=True),
            encoders,
            headers={"content-encoding": encoding, **SAVED},
            body=CHUNK * 3,
            raises=CloseFailed,
            complete=True,
            outcome="error",
            differs=CLOSE_RAISES_DIFFERS,
        )
        for name, headers, encoding, encoders in [
            ("compressed", HTML, "gzip", 1),
            ("identity", PNG, None, 0),
        ]
    ),
    # An app bug caught before anything left: the plain 500, never the early bytes.
    fault(crash("body-before-start", page(early=b"too early"), RuntimeError)),
    answered(
        "written-then-iterated",
        page(written=(CHUNK, b"", CHUNK), chunks=(CHUNK,)),
        1,
        headers=GZIP,
        body=CHUNK * 3,
        outcome="completed",
    ),
    # WSGI holds the written piece and sends it whole when the app raises; its exchanges are
    # then closed where the exception leaves them (the head had gone, so no 500 can follow).
    answered(
        "raise-after-written",
        page(written=(CHUNK, CHUNK), raise_at=1),
        {"wsgi": 2, "asgi": 1},
        headers=GZIP,
        body=CHUNK,
        raises=Boom,
        outcome="error",
    ),
    # The first answer replaced before any body: the replacement gets every layer's work
    # (ASGI sends only the replacement, one final message, compressed whole).
    answered(
        "exc-info-restart",
        page(restart=Reply(status=404, headers=HTML, chunks=(CHUNK,))),
        {"wsgi": 1, "asgi": 0},
        status=404,
        headers={**GZIP, "access-control-allow-origin": ORIGIN},
        body=CHUNK,
        outcome="completed",
    ),
    answered(
        "exc-info-restart-to-500",
        page(restart=Reply(status=500, headers=HTML, chunks=(CHUNK,))),
        {"wsgi": 1, "asgi": 0},
        status=500,
        headers=CRASH_HEADERS,
        body=CHUNK,
        outcome="completed",
    ),
    # Reading, the app's first touch raises StoreError (WSGI: it returns no iterable);
    # writing, the store fails after the app returned, when the session is saved (its
    # response was being compressed).
    fault(down("store-down-on-read", page(store_fails="read"))),
    fault(down("store-down-on-write", page(store_fails="write")), 1),
    # The failure passes every layer inside the sessions one, whenever the app touches the
    # session: before its start or after it, lazily (WSGI: in its iterable) or not.
    *(
        fault(
            down(f"store-down-{where}{name}", page(store_fails="read", **fields), headers),
            stack=stack,
        )
        for stack, where, headers in [
            (sessions_inside, "", UNAVAILABLE_HEADERS),
            # The 503 leaves the sessions layer, outside timing and CORS.
            (sessions_outside, "sessions-outside-", OUTSIDE_HEADERS),
        ]
        for name, fields in [
            ("lazy-app", {"lazy": True}),
            ("after-start", {"start_first": True}),
            ("lazy-after-start", {"lazy": True, "start_first": True}),
        ]
    ),
    fault(
        down("store-down-sessions-outside", page(store_fails="read"), OUTSIDE_HEADERS),
        stack=sessions_outside,
    ),
]

# Differences found by these vectors and not yet fixed in the middleware: strict xfails, so the
# fix turns them into failures that ask for the entry to go.
KNOWN: dict[tuple[str, str], str] = {}


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every stream encoder the compression layer makes during the test."""
    made: list[Any] = []
    original = codecs.GzipCodec.encoder

    def tracked(self: Any, size_hint: int | None) -> Any:
        encoder = original(self, size_hint)
        made.append(encoder)
        return encoder

    monkeypatch.setattr(codecs.GzipCodec, "encoder", tracked)
    return made


def assert_released(encoders: list[Any]) -> None:
    # finish() and close() both drop the zlib stream; one still held is a leaked compressor.
    assert all(encoder._zlib is None for encoder in encoders), "an encoder was left open"


def run_fault(serve: Any, stack: Stack, vector: Vector) -> None:
    completed: list[Any] = []
    run_vector(serve, stack(serve.store, completed.append), vector)
    # Timing's on_complete ran once per request, the failed ones too (a store failure is
    # served after one request that made the session).
    assert len(completed) == (2 if vector.reply.store_fails else 1)


@pytest.mark.parametrize(("stack", "vector", "made"), FAULTS)
def test_fault(
    request: pytest.FixtureRequest,
    serve: Any,
    encoders: list[Any],
    stack: Stack,
    vector: Vector,
    made: int | dict[str, int],
) -> None:
    known = KNOWN.get((serve.protocol, vector.id))
    if known is not None:
        request.applymarker(pytest.mark.xfail(reason=known, strict=True))
    run_fault(serve, stack, vector)
    # The request that made the session (for a store failure) compressed its page too.
    made = made if isinstance(made, int) else made[serve.protocol]
    assert len(encoders) == made + (vector.reply.store_fails is not None)
    assert_released(encoders)


class _FailingEncoder:
    """A stream encoder whose library fails on the first chunk."""

    def __init__(self, made: list[Any]) -> None:
        self._zlib: object = object()
        made.append(self)

    def compress(self, data: bytes) -> bytes:
        raise zlib.error("encoder failed")

    def finish(self) -> bytes:
        raise AssertionError("finish() after a failure")

    def close(self) -> None:
        self._zlib = None


@pytest.fixture
def failing_encoder(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    monkeypatch.setattr(codecs.GzipCodec, "encoder", lambda self, hint: _FailingEncoder(made))
    return made


def test_compressor_fails(serve: Any, failing_encoder: list[Any]) -> None:
    # Nothing had left: the failure is answered like an app crash, with every header.
    run_fault(serve, sessions_inside, crash("compressor-fails", page(), zlib.error))
    assert len(failing_encoder) == 1
    assert_released(failing_encoder)

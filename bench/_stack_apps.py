"""The stack benchmark's apps: one small app, three variants, on every protocol and framework.

    from bench._stack_apps import build
    app = build("asgi_peers")          # or look it up as a server target:
    .venv/bin/uvicorn bench._stack_apps:asgi_ours

Routes (the same bytes everywhere): ``/json`` a 200-byte JSON object, ``/page`` a 50 KB HTML
page, ``/stream`` NDJSON in 20 body pieces of ~60 bytes (a generator, a streamed response).

Variants, per family:

- ``raw``: the app alone.
- ``ours``: the five middleware of this package, outermost first RequestLogging > Timing >
  CORS > Sessions > Compression, every option at its default except what the peers are also
  given (the CORS policy and the session secret).
- ``quiet`` (in process only): ``ours`` with its access logger above INFO, so no line is
  written (the request ID still is): the like-for-like comparison with the ASGI peers, who
  write none.
- ``peers``: what a user would otherwise build, each at its defaults with the same CORS policy.
  ASGI (a bare ASGI app and Starlette): asgi-correlation-id > timing-asgi (a client that drops
  the metric) > Starlette CORSMiddleware > SessionMiddleware > GZipMiddleware. No ASGI peer
  writes an access log (the server's is off for every variant), so this stack does less
  than ours: no access line, no Server-Timing header. Flask: flask-compress, flask-cors,
  Flask's cookie sessions (a secret key) and a before/after_request pair that sets
  X-Request-ID, Server-Timing and writes an access line. Django: the same pair as a middleware
  class, django-cors-headers, GZipMiddleware, SessionMiddleware (signed cookies) and
  CommonMiddleware.

Every access line (ours and the peers') is formatted by a ``logging.StreamHandler`` writing to a
null stream, so the record and the formatting are paid for, and no I/O. The app never touches
the session (no request carries a cookie): the cost measured is the cost of having the layer.

Server targets are the names in ``TARGETS`` (``bench._stack_apps:flask_ours``, ...); each is
built on first use, so a server process builds only the one it serves.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

ORIGIN = "https://app.example"
SECRET = "bench-secret-key-0123456789abcdef"

# The same CORS policy for every stack: one allowed origin, credentials, two exposed headers.
CORS_OPTIONS: dict[str, Any] = {
    "allow_origins": [ORIGIN],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["X-Demo"],
    "allow_credentials": True,
    "expose_headers": ["X-Request-ID", "Server-Timing"],
}


def _json_body() -> bytes:
    item = {"id": 1, "name": "widget", "tags": ["a", "b"], "price": 9.5, "stock": 12}
    body = json.dumps({"items": [item, item], "total": 2, "page": 1}).encode()
    return body + b" " * (200 - len(body))


JSON_BODY = _json_body()
PAGE = (
    b"<!doctype html><html><head><title>bench</title></head><body>\n"
    + b"".join(
        b'<tr><td class="n">%05d</td><td>item %05d</td><td>in stock</td></tr>\n' % (i, i)
        for i in range(800)
    )
)[: 50 * 1024]
LINES = [json.dumps({"n": n, "text": "x" * 40}).encode() + b"\n" for n in range(20)]

ROUTES = ("/json", "/page", "/stream")
JSON_TYPE = "application/json"
PAGE_TYPE = "text/html; charset=utf-8"
STREAM_TYPE = "application/x-ndjson"


class NullStream:
    """A text stream that keeps nothing: handlers format, nothing is written."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


def null_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(NullStream())  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


# Our access lines and the peers' go through the same kind of handler.
null_logger("middleware.access")
PEER_ACCESS = null_logger("bench.peer.access")
# The "quiet" variants: our stack with its access logger above INFO (request IDs, no line),
# which is what the ASGI peers' stack does.
null_logger("bench.quiet.access").setLevel(logging.WARNING)


def peer_access_line(
    method: str, path: str, status: int, length: object, agent: str, rid: str
) -> None:
    """The peers' access line: combined-like, with the request ID (one logging call)."""
    PEER_ACCESS.info(
        '127.0.0.1 - - [%s] "%s %s HTTP/1.1" %s %s "-" "%s" %s',
        time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        method,
        path,
        status,
        length,
        agent,
        rid,
    )


# -- bare ASGI -----------------------------------------------------------------------------------


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", STREAM_TYPE.encode())],
            }
        )
        for line in LINES:
            await send({"type": "http.response.body", "body": line, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/page":
        body, kind = PAGE, PAGE_TYPE
    else:
        body, kind = JSON_BODY, JSON_TYPE
    # A fresh start message and header list per response, as apps build them (some peers
    # append to the app's list).
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", kind.encode()),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _ours_asgi(app: Any, *, quiet: bool = False) -> Any:
    from middleware import Middleware
    from middleware.asgi import (
        CompressionMiddleware,
        CORSMiddleware,
        RequestLoggingMiddleware,
        SessionMiddleware,
        TimingMiddleware,
        compose,
    )

    return compose(
        Middleware(RequestLoggingMiddleware, logger=_access_logger(quiet)),
        TimingMiddleware,
        Middleware(CORSMiddleware, **CORS_OPTIONS),
        Middleware(SessionMiddleware, secret_key=SECRET),
        CompressionMiddleware,
    )(app)


def _peer_asgi_layers() -> list[tuple[Any, dict[str, Any]]]:
    from asgi_correlation_id import CorrelationIdMiddleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.sessions import SessionMiddleware
    from timing_asgi import TimingClient, TimingMiddleware

    class NullClient(TimingClient):  # type: ignore[misc]
        def timing(self, metric_name: str, timing: float, tags: Any = None) -> None:
            return None

    return [
        (CorrelationIdMiddleware, {}),
        (TimingMiddleware, {"client": NullClient()}),
        (CORSMiddleware, CORS_OPTIONS),
        (SessionMiddleware, {"secret_key": SECRET}),
        (GZipMiddleware, {}),
    ]


def _peers_asgi(app: Any) -> Any:
    for cls, options in reversed(_peer_asgi_layers()):
        app = cls(app, **options)
    return app


def _access_logger(quiet: bool) -> str:
    return "bench.quiet.access" if quiet else "middleware.access"


# -- Starlette -----------------------------------------------------------------------------------


def _starlette(variant: str) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware as StarletteMiddleware
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def json_view(request: Request) -> Response:
        return Response(JSON_BODY, media_type=JSON_TYPE)

    async def page_view(request: Request) -> Response:
        return Response(PAGE, media_type=PAGE_TYPE)

    async def lines() -> Any:
        for line in LINES:
            yield line

    async def stream_view(request: Request) -> Response:
        return StreamingResponse(lines(), media_type=STREAM_TYPE)

    routes = [Route("/json", json_view), Route("/page", page_view), Route("/stream", stream_view)]
    if variant == "raw":
        return Starlette(routes=routes)
    if variant in ("ours", "quiet"):
        from middleware import Middleware
        from middleware.asgi import (
            CompressionMiddleware,
            CORSMiddleware,
            RequestLoggingMiddleware,
            SessionMiddleware,
            TimingMiddleware,
        )

        return Starlette(
            routes=routes,
            middleware=[
                Middleware(RequestLoggingMiddleware, logger=_access_logger(variant == "quiet")),
                Middleware(TimingMiddleware),
                Middleware(CORSMiddleware, **CORS_OPTIONS),
                Middleware(SessionMiddleware, secret_key=SECRET),
                Middleware(CompressionMiddleware),
            ],
        )
    return Starlette(
        routes=routes,
        middleware=[StarletteMiddleware(cls, **options) for cls, options in _peer_asgi_layers()],
    )


# -- bare WSGI -----------------------------------------------------------------------------------


def _lines() -> Iterator[bytes]:
    yield from LINES


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", STREAM_TYPE)])
        return _lines()
    if path == "/page":
        body, kind = PAGE, PAGE_TYPE
    else:
        body, kind = JSON_BODY, JSON_TYPE
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


def _ours_wsgi(app: Any, *, quiet: bool = False) -> Any:
    from middleware import Middleware
    from middleware.wsgi import (
        CompressionMiddleware,
        CORSMiddleware,
        RequestLoggingMiddleware,
        SessionMiddleware,
        TimingMiddleware,
        compose,
    )

    return compose(
        Middleware(RequestLoggingMiddleware, logger=_access_logger(quiet)),
        TimingMiddleware,
        Middleware(CORSMiddleware, **CORS_OPTIONS),
        Middleware(SessionMiddleware, secret_key=SECRET),
        CompressionMiddleware,
    )(app)


# -- Flask ---------------------------------------------------------------------------------------


def _flask(variant: str) -> Any:
    from flask import Flask, Response, g, request

    app = Flask(f"bench_{variant}")

    @app.get("/json")
    def json_view() -> Response:
        return Response(JSON_BODY, mimetype=JSON_TYPE)

    @app.get("/page")
    def page_view() -> Response:
        return Response(PAGE, content_type=PAGE_TYPE)

    @app.get("/stream")
    def stream_view() -> Response:
        return Response(_lines(), mimetype=STREAM_TYPE)

    if variant in ("ours", "quiet"):
        app.wsgi_app = _ours_wsgi(  # type: ignore[method-assign]
            app.wsgi_app, quiet=variant == "quiet"
        )
    elif variant == "peers":
        from flask_compress import Compress
        from flask_cors import CORS

        app.secret_key = SECRET
        CORS(
            app,
            origins=CORS_OPTIONS["allow_origins"],
            methods=CORS_OPTIONS["allow_methods"],
            allow_headers=CORS_OPTIONS["allow_headers"],
            supports_credentials=True,
            expose_headers=CORS_OPTIONS["expose_headers"],
        )
        Compress(app)

        @app.before_request
        def start_timer() -> None:
            g.started = time.perf_counter()
            g.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex

        @app.after_request
        def access_log(response: Response) -> Response:
            ms = (time.perf_counter() - g.started) * 1000.0
            response.headers["Server-Timing"] = f"app;dur={ms:.3f}"
            response.headers["X-Request-ID"] = g.request_id
            peer_access_line(
                request.method,
                request.full_path.rstrip("?"),
                response.status_code,
                response.content_length or "-",
                request.headers.get("User-Agent", "-"),
                g.request_id,
            )
            return response

    return app


# -- Django --------------------------------------------------------------------------------------

PEER_DJANGO_MIDDLEWARE = [
    "bench._stack_apps.DjangoAccessLog",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def _django_setup() -> None:
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY=SECRET,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="bench._stack_apps",
        INSTALLED_APPS=["corsheaders"],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        CORS_ALLOWED_ORIGINS=CORS_OPTIONS["allow_origins"],
        CORS_ALLOW_METHODS=CORS_OPTIONS["allow_methods"],
        CORS_ALLOW_HEADERS=CORS_OPTIONS["allow_headers"],
        CORS_ALLOW_CREDENTIALS=True,
        CORS_EXPOSE_HEADERS=CORS_OPTIONS["expose_headers"],
        LOGGING_CONFIG=None,
    )
    import django

    django.setup()


def _django_urls() -> list[Any]:
    from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
    from django.urls import path

    def json_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(JSON_BODY, content_type=JSON_TYPE)

    def page_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(PAGE, content_type=PAGE_TYPE)

    def stream_view(request: HttpRequest) -> StreamingHttpResponse:
        return StreamingHttpResponse(_lines(), content_type=STREAM_TYPE)

    return [path("json", json_view), path("page", page_view), path("stream", stream_view)]


class DjangoAccessLog:
    """The peers' request ID, Server-Timing and access line, as a Django middleware."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        started = time.perf_counter()
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        response = self.get_response(request)
        ms = (time.perf_counter() - started) * 1000.0
        response["Server-Timing"] = f"app;dur={ms:.3f}"
        response["X-Request-ID"] = rid
        length = "-" if response.streaming else len(response.content)
        peer_access_line(
            request.method,
            request.get_full_path(),
            response.status_code,
            length,
            request.headers.get("User-Agent", "-"),
            rid,
        )
        return response


def _django(variant: str) -> Any:
    _django_setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    if variant == "peers":
        settings.MIDDLEWARE = PEER_DJANGO_MIDDLEWARE
        try:
            return WSGIHandler()
        finally:
            settings.MIDDLEWARE = []
    handler = WSGIHandler()
    if variant == "raw":
        return handler
    return _ours_wsgi(handler, quiet=variant == "quiet")


def __getattr__(name: str) -> Any:
    # Django reads ROOT_URLCONF's urlpatterns from this module, built on first use.
    if name == "urlpatterns":
        value = _django_urls()
    elif name in TARGETS:
        value = build(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


BUILDERS: dict[str, Callable[[], Any]] = {
    "asgi_raw": lambda: asgi_app,
    "asgi_ours": lambda: _ours_asgi(asgi_app),
    "asgi_quiet": lambda: _ours_asgi(asgi_app, quiet=True),
    "asgi_peers": lambda: _peers_asgi(asgi_app),
    "starlette_raw": lambda: _starlette("raw"),
    "starlette_ours": lambda: _starlette("ours"),
    "starlette_quiet": lambda: _starlette("quiet"),
    "starlette_peers": lambda: _starlette("peers"),
    "wsgi_raw": lambda: wsgi_app,
    "wsgi_ours": lambda: _ours_wsgi(wsgi_app),
    "wsgi_quiet": lambda: _ours_wsgi(wsgi_app, quiet=True),
    "flask_raw": lambda: _flask("raw"),
    "flask_ours": lambda: _flask("ours"),
    "flask_quiet": lambda: _flask("quiet"),
    "flask_peers": lambda: _flask("peers"),
    "django_raw": lambda: _django("raw"),
    "django_ours": lambda: _django("ours"),
    "django_quiet": lambda: _django("quiet"),
    "django_peers": lambda: _django("peers"),
}
TARGETS = frozenset(BUILDERS)


def build(name: str) -> Any:
    """A fresh app for target ``name`` (``"asgi_ours"``, ``"flask_peers"``, ...)."""
    return BUILDERS[name]()


__all__ = ["ROUTES", "TARGETS", "build"]

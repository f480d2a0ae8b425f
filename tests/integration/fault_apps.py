"""Apps for ``tests/integration/test_server_faults.py`` and ``bench/store_outage.py``: the
README's stack (RequestLogging > Timing > CORS > Sessions > Compression) around a small app,
served by real servers.

    REDIS_URL=redis://127.0.0.1:6379/0 gunicorn tests.integration.fault_apps:wsgi_app
    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn tests.integration.fault_apps:asgi_app

Routes, the same on both protocols but ``/stream``:

- ``/session``: bumps a counter in the session, kept in a ``RedisStore`` at ``REDIS_URL`` (a
  cookie session without it).
- ``/bad-header``: a response whose ``X-Note`` header holds CR LF.
- ``/stream`` (ASGI): 40 pieces of about 1 KB of HTML, 20 ms apart, sent whatever happens,
  while a task listens for ``http.disconnect`` (as Starlette's StreamingResponse does).
- anything else: ``hello``.

Every log record goes to stderr as ``LOG <logger> <LEVEL> <message>`` (a traceback as further
lines), access records as JSON, so a test can count what a request costs in log lines. The
ASGI app is wrapped, outside the stack, in a counter of what reaches the server after the app
heard the client leave; it writes one ``LOG probe INFO after-disconnect ...`` line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

import middleware.asgi as masgi
import middleware.wsgi as mwsgi
from middleware import Middleware
from middleware.stores import RedisStore

ORIGIN = "https://app.example"
BAD_NOTE = "a\r\nInjected: 1"
PIECE = b"<p>" + b"stream " * 140 + b"</p>\n"
PIECES = 40

logging.basicConfig(
    stream=sys.stderr, level=logging.INFO, format="LOG %(name)s %(levelname)s %(message)s"
)
probe = logging.getLogger("probe")


def _store() -> Any:
    url = os.environ.get("REDIS_URL")
    return RedisStore(url) if url else None


def _stack(m: Any, app: Any) -> Any:
    return m.compose(
        Middleware(m.RequestLoggingMiddleware, format="json"),
        Middleware(m.TimingMiddleware),
        Middleware(m.CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(m.SessionMiddleware, secret_key="fault-apps-secret-key", store=_store()),
        Middleware(m.CompressionMiddleware),
    )(app)


def _wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/session":
        session = environ["middleware.session"]
        session["n"] = session.get("n", 0) + 1
        body = str(session["n"]).encode()
    elif path == "/bad-header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Note", BAD_NOTE)])
        return [b"never sent"]
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await _stream(receive, send)
        return
    if path == "/session":
        session = scope["session"]
        session["n"] = session.get("n", 0) + 1
        body = str(session["n"]).encode()
    elif path == "/bad-header":
        headers = [(b"content-type", b"text/plain"), (b"x-note", BAD_NOTE.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"never sent"})
        return
    else:
        body = b"hello"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(receive: Any, send: Any) -> None:
    async def listen() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    listener = asyncio.create_task(listen())
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/html")],
    }
    await send(start)
    for _ in range(PIECES):
        await send({"type": "http.response.body", "body": PIECE, "more_body": True})
        await asyncio.sleep(0.02)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    listener.cancel()


def _count_after_disconnect(app: Any) -> Any:
    """What the server is handed once the client left: messages and body bytes."""

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/stream":
            await app(scope, receive, send)
            return
        gone = False
        after = [0, 0]

        async def watched_receive() -> Any:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def counted_send(message: Any) -> None:
            if gone and message["type"] == "http.response.body":
                after[0] += 1
                after[1] += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, watched_receive, counted_send)
        finally:
            probe.info("after-disconnect messages=%d body_bytes=%d", *after)

    return counted


wsgi_app = _stack(mwsgi, _wsgi)
asgi_app = _count_after_disconnect(_stack(masgi, _asgi))

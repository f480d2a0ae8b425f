"""The app the decoding-bomb test serves: CompressionMiddleware(decompress_requests=True) around
an app that answers with the length of the body it read, on each protocol.

    .venv/bin/uvicorn tests.integration.bomb_app:asgi_app
    .venv/bin/gunicorn tests.integration.bomb_app:wsgi_app
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from middleware.asgi import CompressionMiddleware as AsgiCompression
from middleware.wsgi import CompressionMiddleware as WsgiCompression


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % len(body)]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"%d" % size})


wsgi_app = WsgiCompression(_wsgi, decompress_requests=True)
asgi_app = AsgiCompression(_asgi, decompress_requests=True)

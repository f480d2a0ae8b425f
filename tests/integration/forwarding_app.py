"""A tiny app behind ``RequestLoggingMiddleware(trusted_proxies=["127.0.0.1", "::1"])``, served by
real servers in ``test_forwarding.py``: it answers with what it saw, and ``/record?id=<request
ID>`` answers with the client that request's access record logged.

    {"peer": "127.0.0.1", "x_forwarded_for": "203.0.113.9", "forwarded": null,
     "x_request_id": "one,two", "request_id": "one,two"}

``peer`` is ``REMOTE_ADDR`` or the ASGI ``client`` host; header values are as the app received
them (on ASGI, repeated lines are joined here with "," to compare with WSGI's environ; on WSGI,
as the server joined them). Every server in the test runs one process, so the records kept here
are the ones the test asks for.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from middleware import asgi as asgi_middleware
from middleware import request_id
from middleware import wsgi as wsgi_middleware

TRUSTED = ["127.0.0.1", "::1"]

# request ID -> logged client, the most recent few only.
_RECORDS: OrderedDict[str, str | None] = OrderedDict()


def _keep(record: Any) -> str:
    _RECORDS[record.request_id] = record.client
    while len(_RECORDS) > 100:
        _RECORDS.popitem(last=False)
    return "forwarding-app access record"


_access = logging.getLogger("tests.integration.forwarding_app.access")
_access.setLevel(logging.INFO)
_access.propagate = False
_access.addHandler(logging.NullHandler())


def _body(path: str, query: str, seen: dict[str, str | None]) -> bytes:
    if path == "/record":
        wanted = query.removeprefix("id=")
        return json.dumps({"found": wanted in _RECORDS, "client": _RECORDS.get(wanted)}).encode()
    return json.dumps({**seen, "request_id": request_id.get()}).encode()


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    seen = {
        "peer": environ.get("REMOTE_ADDR"),
        "x_forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        "forwarded": environ.get("HTTP_FORWARDED"),
        "x_request_id": environ.get("HTTP_X_REQUEST_ID"),
    }
    body = _body(environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), seen)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers: dict[bytes, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.lower(), []).append(value.decode("latin-1"))

    def joined(name: bytes) -> str | None:
        return ",".join(headers[name]) if name in headers else None

    client = scope.get("client")
    seen = {
        "peer": client[0] if client else None,
        "x_forwarded_for": joined(b"x-forwarded-for"),
        "forwarded": joined(b"forwarded"),
        "x_request_id": joined(b"x-request-id"),
    }
    body = _body(scope["path"], scope.get("query_string", b"").decode("latin-1"), seen)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


wsgi = wsgi_middleware.RequestLoggingMiddleware(
    _wsgi, logger=_access, format=_keep, trusted_proxies=TRUSTED
)
asgi = asgi_middleware.RequestLoggingMiddleware(
    _asgi, logger=_access, format=_keep, trusted_proxies=TRUSTED
)

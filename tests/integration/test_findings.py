"""Middleware bugs found while integrating the examples, shown in process, one test each.

Each was fixed; the tests stay as regression tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from middleware.asgi.compression import CompressionMiddleware as AsgiCompression
from middleware.wsgi.compression import CompressionMiddleware as WsgiCompression
from tests.drivers import call_asgi, call_wsgi

PAGE = b"<p>hello from Django</p>\n" * 200
GZIP = [("accept-encoding", "gzip")]


@pytest.fixture
def quiet_errors() -> Iterator[None]:
    errors = logging.getLogger("middleware.errors")
    errors.disabled = True
    try:
        yield
    finally:
        errors.disabled = False


@pytest.mark.usefixtures("quiet_errors")
def test_crash_500_headers_are_the_same_on_both_protocols() -> None:
    def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        raise RuntimeError("crashed on purpose")

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("crashed on purpose")

    wsgi = call_wsgi(WsgiCompression(wsgi_app), headers=GZIP)
    asgi = call_asgi(AsgiCompression(asgi_app), headers=GZIP)
    assert isinstance(asgi.error, RuntimeError)
    assert (wsgi.status, wsgi.body) == (asgi.status, asgi.body) == (500, b"Internal Server Error")
    assert sorted(wsgi.headers) == sorted(asgi.headers)

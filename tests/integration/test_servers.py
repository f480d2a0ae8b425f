"""The stack under the real servers the WSGI and ASGI guides name, over real HTTP."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.servers import ASGI_SERVERS, WSGI_SERVERS, running

pytestmark = pytest.mark.integration

CASES = [(server, "examples.wsgi_app:application") for server in WSGI_SERVERS] + [
    (server, "examples.asgi_app:application") for server in ASGI_SERVERS
]


@pytest.mark.parametrize(("server", "target"), CASES, ids=[c[0] for c in CASES])
def test_stack_under_real_server(server: str, target: str) -> None:
    with running(server, target) as base, httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["x-request-id"]
        assert page.headers["server-timing"].startswith("app;dur=")
        assert "render;dur=" in page.headers["server-timing"]
        assert page.headers["timing-allow-origin"] == "*"

        # The ASGI layer re-raises after answering, and uvicorn then drops the connection;
        # ask for that up front so a kept-alive connection cannot race the close.
        crash = client.get("/crash", headers={"connection": "close"})
        assert crash.status_code == 500
        assert crash.text == "Internal Server Error"
        assert crash.headers["server-timing"].startswith("app;dur=")

        for coding in ("zstd", "br", "gzip"):
            encoded = client.get("/", headers={"accept-encoding": coding})
            assert encoded.headers["content-encoding"] == coding
            assert encoded.content == page.content  # decoded by httpx's real decoders

        arrivals = []
        with client.stream("GET", "/stream", headers={"accept-encoding": "gzip"}) as response:
            assert response.headers["content-encoding"] == "gzip"
            for line in response.iter_lines():
                arrivals.append((time.monotonic(), line))
        assert [line for _, line in arrivals] == [f'{{"n": {n}}}' for n in range(5)]
        # Lines arrive as they are produced (50 ms apart), not all at once at the end.
        assert arrivals[-1][0] - arrivals[0][0] > 0.12

"""HTTP/2 through hypercorn, to the full ASGI stack: h2c with prior knowledge, and TLS with ALPN.

One hypercorn per mode (a module-scoped fixture): plain TCP spoken to with HTTP/2 from the first
byte (``httpx.Client(http1=False, http2=True)``), and TLS with a self-signed certificate the test
makes (``tls.py``), where ALPN picks h2. Over each, with httpx[http2] (h2): zstd, br and gzip
bodies decoded, an NDJSON stream arriving line by line, a CORS preflight (allowed and refused), a
session kept by a cookie jar, Server-Timing, and several requests running at once as streams of
one connection. httpx does not expose trailers, so the trailers check speaks h2 itself (the
``h2`` package) over a raw socket: hypercorn sends ``http.response.trailers`` on HTTP/2 when the
request says ``te: trailers``.

The app is ``tests/integration/h2_app.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from tests.integration.h2_app import ORIGIN, PAGE, SLOW_SECONDS, STREAM_GAP_SECONDS
from tests.integration.servers import serving
from tests.integration.tls import self_signed

pytestmark = pytest.mark.integration

TARGET = "tests.integration.h2_app:application"
CONCURRENT = 6


@dataclass(frozen=True)
class H2Server:
    mode: str  # "h2c" or "tls"
    base_url: str
    port: int
    cert: Path

    def client(self) -> httpx.Client:
        return httpx.Client(**self._options())

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(**self._options())

    def _options(self) -> dict[str, Any]:
        if self.mode == "h2c":
            return {"base_url": self.base_url, "http1": False, "http2": True, "timeout": 10}
        context = ssl.create_default_context(cafile=str(self.cert))
        return {"base_url": self.base_url, "http2": True, "verify": context, "timeout": 10}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=["h2c", "tls"])
def server(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[H2Server]:
    cert, key = certificate
    options = ["--certfile", str(cert), "--keyfile", str(key)] if request.param == "tls" else []
    with serving("hypercorn", TARGET, options=options) as served:
        base = served.base_url
        if request.param == "tls":
            base = base.replace("http://", "https://")
        yield H2Server(request.param, base, served.port, cert)


def test_spoken_over_http2(server: H2Server) -> None:
    with server.client() as client:
        answer = client.get("/")
    assert answer.http_version == "HTTP/2"
    assert answer.status_code == 200


def test_compressed_bodies_decoded(server: H2Server) -> None:
    with server.client() as client:
        plain = client.get("/", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == PAGE
        for coding in ("zstd", "br", "gzip"):
            encoded = client.get("/", headers={"accept-encoding": coding})
            assert encoded.http_version == "HTTP/2"
            assert encoded.headers["content-encoding"] == coding
            assert "accept-encoding" in encoded.headers["vary"].lower()
            assert encoded.content == PAGE
            assert encoded.num_bytes_downloaded < len(PAGE) // 4


def test_stream_arrives_piece_by_piece(server: H2Server) -> None:
    arrivals: list[tuple[float, str]] = []
    with (
        server.client() as client,
        client.stream("GET", "/stream", headers={"accept-encoding": "gzip"}) as answer,
    ):
        assert answer.http_version == "HTTP/2"
        assert answer.headers["content-encoding"] == "gzip"
        for line in answer.iter_lines():
            arrivals.append((time.monotonic(), line))
    assert [json.loads(line) for _, line in arrivals] == [{"n": n} for n in range(5)]
    gaps = [
        later - earlier for (earlier, _), (later, _) in zip(arrivals, arrivals[1:], strict=False)
    ]
    # Lines are produced 100 ms apart; buffered anywhere, they would arrive together.
    assert min(gaps) > STREAM_GAP_SECONDS / 2, gaps


def test_preflight(server: H2Server) -> None:
    request = {"origin": ORIGIN, "access-control-request-method": "POST"}
    with server.client() as client:
        allowed = client.options(
            "/session", headers={**request, "access-control-request-headers": "x-demo"}
        )
        refused = client.options("/session", headers={**request, "origin": "https://evil.example"})
    assert allowed.http_version == "HTTP/2"
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-demo" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_session_cookie_kept(server: H2Server) -> None:
    with server.client() as browser:
        first = browser.get("/session")
        assert first.http_version == "HTTP/2"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("session=") and "httponly" in cookie.lower()
        visits = [first.json()["visits"]] + [browser.get("/session").json()["visits"] for _ in "ab"]
        answer = browser.post("/session", headers={"origin": ORIGIN})
    assert visits == [1, 2, 3]
    assert answer.json() == {"visits": 4}
    assert answer.headers["access-control-allow-origin"] == ORIGIN


def test_server_timing(server: H2Server) -> None:
    with server.client() as client:
        answer = client.get("/")
    entries = [entry.strip() for entry in answer.headers["server-timing"].split(",")]
    assert entries[0].startswith("app;dur=")
    assert any(entry.startswith("render;dur=") for entry in entries[1:])
    assert answer.headers["timing-allow-origin"] == "*"


def test_concurrent_streams_share_one_connection(server: H2Server) -> None:
    # asyncio, not threads: httpcore multiplexes streams on one connection from one event loop;
    # its sync client shared by threads lost the connection now and then under TLS.
    async def fetch_all() -> tuple[list[httpx.Response], float]:
        async with server.async_client() as client:
            await client.get("/")  # opens the connection, so every request below finds it
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get("/slow") for _ in range(CONCURRENT)))
            return list(answers), time.monotonic() - started

    answers, elapsed = asyncio.run(fetch_all())
    assert {answer.http_version for answer in answers} == {"HTTP/2"}
    # The app reports the client's port: one port, one connection.
    assert len({answer.json()["port"] for answer in answers}) == 1
    # Each takes 400 ms; one after another they would take 2.4 s.
    assert elapsed < SLOW_SECONDS * CONCURRENT / 2, elapsed


def _h2_exchange(server: H2Server, headers: list[tuple[str, str]]) -> list[Any]:
    """Send one GET as stream 1 and return the h2 events of that stream until it ends."""
    sock: socket.socket = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if server.mode == "tls":
        context = ssl.create_default_context(cafile=str(server.cert))
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
        assert sock.selected_alpn_protocol() == "h2"  # type: ignore[attr-defined]
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    scheme = "https" if server.mode == "tls" else "http"
    pseudo = [(":method", "GET"), (":scheme", scheme), (":authority", "127.0.0.1")]
    connection.send_headers(1, [*pseudo, *headers], end_stream=True)
    sock.sendall(connection.data_to_send())
    events: list[Any] = []
    try:
        while not any(isinstance(event, h2.events.StreamEnded) for event in events):
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in connection.receive_data(data):
                if getattr(event, "stream_id", None) != 1:
                    continue
                if isinstance(event, h2.events.DataReceived):
                    connection.acknowledge_received_data(event.flow_controlled_length, 1)
                events.append(event)
            sock.sendall(connection.data_to_send())
    finally:
        sock.close()
    return events


def test_trailers(server: H2Server) -> None:
    events = _h2_exchange(
        server, [(":path", "/trailers"), ("te", "trailers"), ("accept-encoding", "gzip")]
    )
    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "ResponseReceived" and "TrailersReceived" in kinds, kinds
    head = dict(events[0].headers)
    assert head[b":status"] == b"200"
    assert head[b"content-encoding"] == b"gzip"
    assert b"content-length" not in head
    body = b"".join(event.data for event in events if isinstance(event, h2.events.DataReceived))
    assert gzip.decompress(body) == PAGE
    # The trailers come after the whole body, as sent by the app.
    trailers = next(e for e in events if isinstance(e, h2.events.TrailersReceived))
    assert kinds.index("TrailersReceived") > max(
        i for i, kind in enumerate(kinds) if kind == "DataReceived"
    )
    assert dict(trailers.headers) == {b"x-checksum": b"page-ok"}

"""Faults under real servers, with the README's stack (``fault_apps.py``): what the client gets
and what the logs say (issue 16).

- A Redis outage: every request that touches the session gets 503, and costs one ERROR line
  naming the store and the error plus its access record (status 503), no traceback; uvicorn
  keeps the connection open, since nothing is re-raised to it.
- A client that leaves mid-stream (ASGI): uvicorn and hypercorn drop the app's later sends
  silently; the record says "disconnected" with the bytes sent before, and compression hands
  the server empty bodies from then on.
- A header with CR LF from the app: a plain 500 with every layer's headers, and a record of 500.

One server process per case, its output (stdout and stderr) kept in a file the test reads; every
wait is bounded. A real ``redis-server`` is started and stopped by PID (``redis_server.py``).
"""

from __future__ import annotations

import json
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration import servers
from tests.integration.redis_server import REDIS_SERVER, RedisServer

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
ORIGIN = "https://app.example"
HEADERS = {"origin": ORIGIN, "accept-encoding": "gzip"}
FAILED_REQUESTS = 10


class ServerLog:
    """The server's output so far, read from the file it writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark = 0

    def since_mark(self) -> list[str]:
        return self.path.read_bytes()[self.mark :].decode(errors="replace").splitlines()

    def set_mark(self) -> None:
        self.mark = self.path.stat().st_size

    def access_records(self) -> list[dict[str, Any]]:
        prefix = "LOG middleware.access INFO "
        return [
            json.loads(line[len(prefix) :]) for line in self.since_mark() if line.startswith(prefix)
        ]

    def wait_for_records(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + TIMEOUT
        while len(records := self.access_records()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} access records not written within {TIMEOUT} s")
            time.sleep(0.05)
        return records


@contextmanager
def serving(server: str, protocol: str, env: dict[str, str]) -> Iterator[tuple[str, ServerLog]]:
    """Serve ``fault_apps`` with ``server``; yield its base URL and its log."""
    target = f"tests.integration.fault_apps:{protocol}_app"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "server.log"
        with servers.serving(server, target, env, output=path) as served:
            yield served.base_url, ServerLog(path)


SERVERS = [
    pytest.param("gunicorn-sync", "wsgi", id="gunicorn"),
    pytest.param("uvicorn", "asgi", id="uvicorn"),
]


@pytest.mark.redis
@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
@pytest.mark.parametrize(("server", "protocol"), SERVERS)
def test_redis_outage_costs_one_line_per_request(server: str, protocol: str) -> None:
    with RedisServer() as redis, serving(server, protocol, {"REDIS_URL": redis.url}) as (url, log):
        with httpx.Client(base_url=url, headers=HEADERS, timeout=TIMEOUT) as client:
            first = client.get("/session")
            assert first.status_code == 200
            cookie = first.headers["set-cookie"].split(";")[0]
            redis.stop()
            log.set_mark()
            # Reading (a cookie: the record cannot be fetched) and writing (no cookie: the new
            # session cannot be saved), on one kept-alive connection.
            statuses = [client.get("/session", headers={"cookie": cookie}).status_code]
            statuses += [client.get("/session").status_code for _ in range(FAILED_REQUESTS - 1)]
        assert statuses == [503] * FAILED_REQUESTS
        records = log.wait_for_records(FAILED_REQUESTS)
        assert [record["status"] for record in records] == [503] * FAILED_REQUESTS
        others = [line for line in log.since_mark() if not line.startswith("LOG middleware.access")]
        # One line per failed request: the sessions ERROR naming the store and the error.
        assert len(others) == FAILED_REQUESTS, others
        for line in others:
            assert line.startswith("LOG middleware.sessions ERROR Session store failed (Redis at ")
            assert "ConnectionError" in line


@pytest.mark.redis
@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_redis_outage_keeps_uvicorns_connection_open() -> None:
    with RedisServer() as redis, serving("uvicorn", "asgi", {"REDIS_URL": redis.url}) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        cookie = httpx.get(url + "/session", timeout=TIMEOUT).headers["set-cookie"].split(";")[0]
        redis.stop()
        # With a cookie, the app itself runs into the store's error (the path that used to
        # re-raise it to uvicorn, which then dropped the connection).
        request = f"GET /session HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            for _ in range(2):  # the second request goes on the same connection
                sock.sendall(request.encode())
                assert _read_response(sock).startswith(b"HTTP/1.1 503 ")


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(4096)
        assert part, "the server closed the connection"
        data += part
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        part = sock.recv(4096)
        assert part, "the server closed the connection"
        body += part
    return head


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn"])
def test_client_leaving_mid_stream_is_logged_as_disconnected(server: str) -> None:
    with serving(server, "asgi", {}) as (url, log):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(4096)
            received += sock.recv(4096)  # a piece of the body, then the client leaves
        (record,) = log.wait_for_records(1)
        assert (record["status"], record["outcome"]) == (200, "disconnected")
        # What left before the client did: far less than the whole stream, compressed (the
        # whole stream is about 850 bytes gzipped: 40 pieces, 20 ms apart).
        body_received = len(received.split(b"\r\n\r\n", 1)[1])
        assert 0 < record["bytes"] < 600 and body_received > 0
        # Compression stopped encoding: the server was handed empty bodies after the disconnect.
        deadline = time.monotonic() + TIMEOUT
        while not (after := [line for line in log.since_mark() if "after-disconnect" in line]):
            assert time.monotonic() < deadline, "the stream did not end"
            time.sleep(0.05)
        assert after[0].endswith("body_bytes=0"), after
        assert not [line for line in log.since_mark() if "Traceback" in line]


@pytest.mark.parametrize(("server", "protocol"), SERVERS)
def test_bad_header_from_the_app_is_a_500(server: str, protocol: str) -> None:
    with serving(server, protocol, {}) as (url, log):
        response = httpx.get(url + "/bad-header", headers=HEADERS, timeout=TIMEOUT)
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert "x-note" not in response.headers and "injected" not in response.headers
        # The crash rule's 500 keeps every layer's headers.
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "server-timing" in response.headers and "x-request-id" in response.headers
        (record,) = log.wait_for_records(1)
        assert (record["status"], record["outcome"]) == (500, "error")
        assert record["request_id"] == response.headers["x-request-id"]

"""A real redis-server on 127.0.0.1 for the session store tests, started and stopped by PID.

    server = RedisServer()           # a free port, nothing started yet
    with server:                     # starts it, waits for PONG, stops it on exit
        store = RedisStore(server.url)
        server.stop()                # Redis down: requests get 503
        server.start()               # back on the same port (empty: no persistence)

``redis-server`` runs with ``--save '' --appendonly no`` (nothing written to disk), so a
restart comes back empty. ``REDIS_SERVER`` is None when the binary is not installed; tests
skip then (``.ci/run`` installs it with apt).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.integration.servers import free_port

_DEFAULT = Path("/usr/bin/redis-server")
REDIS_SERVER: str | None = str(_DEFAULT) if _DEFAULT.exists() else shutil.which("redis-server")
STARTUP_SECONDS = 10


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on a fixed free port; start/stop as often as needed."""

    def __init__(self) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")

    def start(self) -> None:
        assert self._process is None, "already running"
        self._process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _pong(self.port):
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RuntimeError(f"redis-server exited early with code {code}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the process this object started (by its PID), and wait for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._dir.cleanup()

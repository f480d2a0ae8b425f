"""A real redis-server on 127.0.0.1 for the session store tests, started and stopped by PID.

    server = RedisServer()           # a free port, nothing started yet
    with server:                     # starts it, waits for PONG, stops it on exit
        store = RedisStore(server.url)
        server.stop()                # Redis down: requests get 503
        server.start()               # back on the same port (empty: no persistence)

    with RedisCluster() as cluster:  # three servers, the 16384 slots split between them
        client = redis.RedisCluster(host="127.0.0.1", port=cluster.port)

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
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

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

    def __init__(self, options: Sequence[str] = (), port: int | None = None) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.options = tuple(options)
        self.port = free_port() if port is None else port
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
                *self.options,
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


CLUSTER_OPTIONS = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
SLOTS = 16384
# A cluster node also listens on its port + 10000 (the cluster bus).
BUS_OFFSET = 10000


def free_node_port() -> int:
    """A free port whose cluster bus port is free too (and exists)."""
    while True:
        port = free_port()
        if port + BUS_OFFSET > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + BUS_OFFSET))
            except OSError:
                continue
        return port


class RedisCluster:
    """Three redis-server processes forming one Redis Cluster, each serving a third of the
    slots (no replicas). ``port`` is the first node's; a cluster client finds the others."""

    def __init__(self, nodes: int = 3) -> None:
        self.servers = [RedisServer(CLUSTER_OPTIONS, free_node_port()) for _ in range(nodes)]
        self.port = self.servers[0].port

    def __enter__(self) -> RedisCluster:
        import redis

        try:
            for server in self.servers:
                server.start()
            clients: list[Any] = [redis.Redis(port=server.port) for server in self.servers]
            share = SLOTS // len(clients)
            for n, client in enumerate(clients):
                last = SLOTS - 1 if n == len(clients) - 1 else (n + 1) * share - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", n * share, last)
                if n:
                    client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.port)
            self._wait_until_ok(clients)
            for client in clients:
                client.close()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ok(self, clients: list[Any]) -> None:
        # Every node must know every other one and see all slots served.
        ready = (b"cluster_state:ok", b"cluster_known_nodes:%d" % len(clients))
        deadline = time.monotonic() + STARTUP_SECONDS * 2
        while time.monotonic() < deadline:
            infos = [client.execute_command("CLUSTER", "INFO") for client in clients]
            if all(line in info for info in infos for line in ready):
                return
            time.sleep(0.1)
        raise TimeoutError(f"the cluster was not ready within {STARTUP_SECONDS * 2} s")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for server in self.servers:
            server.stop()
            server._dir.cleanup()

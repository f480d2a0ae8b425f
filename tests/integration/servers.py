"""Real servers on 127.0.0.1 for integration tests, started and stopped by PID, bounded in time.

    with running("gunicorn-sync", "examples.wsgi_app:application") as base_url:
        httpx.get(base_url + "/")

Each server runs in its own process with the repository root on the import path; the context
manager waits (at most ``STARTUP_SECONDS``) until the port accepts connections and always
terminates the process it started, and only that one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 20

WSGI_SERVERS = ("gunicorn-sync", "gunicorn-gthread", "waitress")
ASGI_SERVERS = ("uvicorn", "hypercorn", "gunicorn-uvicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(server: str, target: str, port: int, options: Sequence[str] = ()) -> list[str]:
    """The command line that serves ``target`` ("module:attribute") with ``server``.

    ``options`` are extra command-line options for the server, put before the target.
    """
    bind = f"127.0.0.1:{port}"
    gunicorn = [str(BIN / "gunicorn"), "--bind", bind, "--workers", "1", "--log-level", "warning"]
    commands = {
        "gunicorn-sync": [*gunicorn, "--worker-class", "sync", target],
        "gunicorn-gthread": [*gunicorn, "--worker-class", "gthread", "--threads", "4", target],
        "waitress": [str(BIN / "waitress-serve"), "--listen", bind, target],
        "uvicorn": [
            str(BIN / "uvicorn"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
            target,
        ],
        "hypercorn": [str(BIN / "hypercorn"), "--bind", bind, "--log-level", "warning", target],
        "gunicorn-uvicorn": [*gunicorn, "--worker-class", "uvicorn_worker.UvicornWorker", target],
    }
    *line, app = commands[server]
    return [*line, *options, app]


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {STARTUP_SECONDS} s")


@contextmanager
def running(
    server: str, target: str, env: dict[str, str] | None = None, options: Sequence[str] = ()
) -> Iterator[str]:
    """Serve ``target`` with ``server`` (plus ``options``) on a free port; yield its base URL."""
    port = free_port()
    log = tempfile.TemporaryFile()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(
        command(server, target, port, options),
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        log.seek(0)
        print(f"--- {server} output ---\n" + log.read().decode(errors="replace"))
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        log.close()

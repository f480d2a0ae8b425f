"""Real servers on 127.0.0.1 for integration tests, started and stopped by PID, bounded in time.

    with running("gunicorn-sync", "examples.wsgi_app:application") as base_url:
        httpx.get(base_url + "/")

Each server runs in its own process with the repository root on the import path; the context
manager waits (at most ``STARTUP_SECONDS``) until the port accepts connections and always
terminates the process it started, and only that one. ``serving()`` does the same and also
yields the server's PID, for tests that read the server's memory in ``/proc``
(``process_tree()``, ``peak_rss()``).

uWSGI runs as the ``pyuwsgi`` wheel: its HTTP router (``--http``, keeping connections alive and
chunking bodies of unknown length, as an HTTP/1.1 client expects) in front of one worker, with a
master process only so that SIGTERM (``--die-on-term``) takes the router and the worker down
with it. Daphne runs with its defaults, quiet (``--verbosity 0``).
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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 20

WSGI_SERVERS = ("gunicorn-sync", "gunicorn-gthread", "waitress")
ASGI_SERVERS = ("uvicorn", "hypercorn", "gunicorn-uvicorn")
# Added by issue 18; kept out of the two tuples above so the tests that loop over those do not
# silently grow a server each.
MORE_WSGI_SERVERS = ("uwsgi",)
MORE_ASGI_SERVERS = ("daphne",)


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
        "uwsgi": [
            str(BIN / "uwsgi"),
            "--http",
            bind,
            # Without these the router closes the connection after each response without saying
            # "Connection: close" (HTTP/1.1 keep-alive assumed), and a client that reuses the
            # connection at that moment gets no answer.
            "--http-keepalive",
            "--http-auto-chunked",
            "--master",
            "--processes",
            "1",
            "--die-on-term",
            "--need-app",
            "--single-interpreter",
            "--disable-logging",
            f"--module={target}",
        ],
        "daphne": [
            str(BIN / "daphne"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--verbosity",
            "0",
            target,
        ],
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


@dataclass(frozen=True)
class ServerProcess:
    """A server started by ``serving()``: where it listens and the PID of the process started."""

    base_url: str
    port: int
    pid: int


@contextmanager
def running(
    server: str, target: str, env: dict[str, str] | None = None, options: Sequence[str] = ()
) -> Iterator[str]:
    """Serve ``target`` with ``server`` (plus ``options``) on a free port; yield its base URL."""
    with serving(server, target, env, options) as served:
        yield served.base_url


@contextmanager
def serving(
    server: str,
    target: str,
    env: dict[str, str] | None = None,
    options: Sequence[str] = (),
    output: Path | None = None,
) -> Iterator[ServerProcess]:
    """As ``running()``, yielding the base URL, the port and the PID of the server process.

    The server's output (stdout and stderr) goes to ``output`` when given, for a test to read
    while it runs, else to a temporary file; either way it is printed when the test fails."""
    port = free_port()
    log = tempfile.TemporaryFile() if output is None else output.open("w+b")
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
        yield ServerProcess(f"http://127.0.0.1:{port}", port, process.pid)
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it, read from ``/proc`` (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, ()))
    return tree


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss(pids: Sequence[int]) -> dict[int, int]:
    """Reset each process's peak RSS (VmHWM) to its current RSS; return the RSS in KiB.

    Writing 5 to ``/proc/<pid>/clear_refs`` (Linux 4.0+) does the reset; where it is refused,
    the peak stays what it was, so a later ``peak_rss()`` can only over-report.
    """
    before = {}
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass
        before[pid] = _status_kib(pid, "VmRSS")
    return before


def peak_rss(pids: Sequence[int]) -> dict[int, int]:
    """Each process's peak RSS (VmHWM) in KiB."""
    return {pid: _status_kib(pid, "VmHWM") for pid in pids}

"""What a websocket message and a websocket handshake cost through each layer, in process.

    .venv/bin/python bench/websocket.py [--quick]

A fake server runs websocket connections through each ASGI class alone and through the whole
stack in the README's order (RequestLogging > Timing > CORS > Sessions > Compression), beside
the app with no middleware. Times are this process's CPU time, interleaved rounds, the best
kept (``bench/_harness.py``).

- Per message: a connection whose app sends (or receives) many short text messages; the cost
  of the connection is divided by the messages, so the handshake's share is negligible.
- Per handshake: a connection that is accepted and closed at once, beside what the same layer
  adds to an HTTP request (a 5-byte response), with the same browser-like request headers (an
  allowed Origin, a session cookie the app does not touch). The access record is formatted
  through a ``logging.StreamHandler`` on a null stream, as in ``bench/logging_overhead.py``.

Budget (a limit with headroom over the last measured value, not a goal; docs/benchmarks.md): a
message through the whole stack costs at most 1 µs more than through no middleware.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import asgi_cost, clock, make_scope, within
from middleware import Middleware
from middleware.asgi import (
    CompressionMiddleware,
    CORSMiddleware,
    GZipMiddleware,
    RequestLoggingMiddleware,
    SessionMiddleware,
    TimingMiddleware,
    compose,
)

ORIGIN = "https://app.example"
SECRET = "bench-secret-key-0123456789abcdef"
# µs a message through the whole stack adds over no middleware; kept, last +0.16 µs (quick run).
BUDGET_US = 1.0

HEADERS = [
    (b"host", b"example.com"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"origin", ORIGIN.encode()),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"cookie", b"theme=dark; session=not-read-by-the-app"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
]

CONNECT = {"type": "websocket.connect"}
INCOMING = {"type": "websocket.receive", "text": "hello"}
ACCEPT = {"type": "websocket.accept"}
OUTGOING = {"type": "websocket.send", "text": "hello"}
CLOSE = {"type": "websocket.close", "code": 1000}


class NullStream:
    def write(self, text: str) -> None:
        return None

    def flush(self) -> None:
        return None


def null_logger() -> logging.Logger:
    logger = logging.getLogger("bench.websocket.access")
    logger.handlers[:] = [logging.StreamHandler(NullStream())]  # type: ignore[arg-type]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def ws_scope() -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"",
        "root_path": "",
        "headers": list(HEADERS),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


def layers() -> list[tuple[str, Callable[[Any], Any]]]:
    logger = null_logger()
    stack = compose(
        Middleware(RequestLoggingMiddleware, logger=logger),
        TimingMiddleware,
        Middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_credentials=True),
        Middleware(SessionMiddleware, secret_key=SECRET),
        CompressionMiddleware,
    )
    return [
        ("CompressionMiddleware", CompressionMiddleware),
        ("GZipMiddleware", GZipMiddleware),
        ("CORSMiddleware", lambda app: CORSMiddleware(app, allow_origins=[ORIGIN])),
        ("SessionMiddleware", lambda app: SessionMiddleware(app, secret_key=SECRET)),
        ("RequestLoggingMiddleware", lambda app: RequestLoggingMiddleware(app, logger=logger)),
        ("TimingMiddleware", TimingMiddleware),
        ("whole stack (README order)", stack),
    ]


def apps(messages: int) -> dict[str, Any]:
    """The three apps a connection runs: sending, receiving, and only the handshake."""

    async def sender(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        for _ in range(messages):
            await send(OUTGOING)
        await send(CLOSE)

    async def receiver(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        for _ in range(messages):
            await receive()
        await send(CLOSE)

    async def handshake(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(ACCEPT)
        await send(CLOSE)

    return {"send": sender, "receive": receiver, "handshake": handshake}


class Client:
    """The client's side: the handshake, then the same short text message for ever."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False

    async def receive(self) -> Any:
        if self.connected:
            return INCOMING
        self.connected = True
        return CONNECT


async def connection_cost(app: Any, connections: int) -> float:
    """Microseconds of CPU time per connection, for ``connections`` in a row."""

    async def send(message: Any) -> None:
        return None

    started = clock()
    for _ in range(connections):
        await app(ws_scope(), Client().receive, send)
    return (clock() - started) / connections * 1e6


def measure(rounds: int, messages: int, connections: int) -> dict[str, dict[str, float]]:
    """Best-of-rounds cost per message (send, receive) and per handshake, for every variant."""
    kinds = apps(messages)
    variants = {"no middleware": lambda app: app, **dict(layers())}
    built = {
        name: {kind: wrap(app) for kind, app in kinds.items()} for name, wrap in variants.items()
    }
    best: dict[str, dict[str, float]] = {name: {} for name in built}

    async def run() -> None:
        for _ in range(rounds):  # interleave the variants so drift hits them all alike
            for name, by_kind in built.items():
                for kind, app in by_kind.items():
                    many = connections * (20 if kind == "handshake" else 1)
                    cost = await connection_cost(app, many)
                    if kind != "handshake":
                        cost /= messages
                    best[name][kind] = min(best[name].get(kind, float("inf")), cost)

    asyncio.run(run())
    return best


async def http_app(scope: Any, receive: Any, send: Any) -> None:
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"hello"})


def http_costs(n: int) -> dict[str, float]:
    """What each variant adds to one HTTP request, with the same request headers."""
    scope = make_scope("/chat", headers=list(HEADERS))
    variants = {"no middleware": http_app}
    variants.update({name: wrap(http_app) for name, wrap in layers()})
    best: dict[str, float] = {}
    for _ in range(3):
        for name, app in variants.items():
            cost = asgi_cost(app, scope=scope, n=n, rounds=3)
            best[name] = min(best.get(name, float("inf")), cost)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    rounds = 3 if quick else 7
    messages, connections = (2_000, 5) if quick else (5_000, 10)
    started = time.monotonic()
    costs = measure(rounds, messages, connections)
    http = http_costs(2_000 if quick else 10_000)
    raw, raw_http = costs["no middleware"], http["no middleware"]
    print("### Per message and per handshake (µs of CPU time)")
    print()
    print(
        "| variant | send µs/msg | overhead | receive µs/msg | overhead | handshake µs | overhead | HTTP request overhead |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cost in costs.items():
        print(
            f"| {name} | {cost['send']:.3f} | {cost['send'] - raw['send']:+.3f} "
            f"| {cost['receive']:.3f} | {cost['receive'] - raw['receive']:+.3f} "
            f"| {cost['handshake']:.2f} | {cost['handshake'] - raw['handshake']:+.2f} "
            f"| {http[name] - raw_http:+.2f} |"
        )
    stack = costs["whole stack (README order)"]
    worst = max(stack["send"] - raw["send"], stack["receive"] - raw["receive"])
    print()
    print(
        f"whole stack: {stack['send'] - raw['send']:+.3f} µs per message sent, "
        f"{stack['receive'] - raw['receive']:+.3f} µs per message received over no middleware "
        f"{within(worst, BUDGET_US, unit=' µs', digits=3)}; handshake "
        f"{stack['handshake'] - raw['handshake']:+.2f} µs beside "
        f"{http['whole stack (README order)'] - raw_http:+.2f} µs per HTTP request "
        f"({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()

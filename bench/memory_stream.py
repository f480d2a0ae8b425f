"""Stream 1 GiB through CompressionMiddleware and watch the process's memory stay flat.

    .venv/bin/python bench/memory_stream.py [--coding gzip|br|zstd|all] [--mib 1024]

The app sends the body in 64 KiB chunks, on ASGI (one message each) and on WSGI (a generator).
The client side decodes every chunk as it arrives with the reference decoder and counts the
bytes, so the run also checks that the stream is whole. Resident memory is sampled as the
stream goes: it stays at its starting level plus the encoder's window, whatever the size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import brotli
import zstandard

from middleware.asgi.compression import CompressionMiddleware as AsgiCompression
from middleware.wsgi.compression import CompressionMiddleware as WsgiCompression

CHUNK = 64 * 1024
PAGE_SIZE = resource.getpagesize()


def material() -> list[bytes]:
    """80 different 64 KiB chunks of log-like text (5 MiB, cycled): more than the brotli and
    zstd windows, so no coding can turn the cycle into back-references."""
    rnd = random.Random(1)
    levels = ["INFO", "DEBUG", "WARNING", "ERROR"]
    paths = ["/api/items", "/api/users", "/static/app.js", "/login", "/search"]
    chunks = []
    for _ in range(80):
        lines = []
        size = 0
        while size < CHUNK:
            line = (
                f"2026-11-24T00:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d} "
                f"{rnd.choice(levels)} {rnd.choice(paths)}?id={rnd.randint(1, 10**6)} "
                f"status={rnd.choice([200, 200, 200, 304, 404, 500])} "
                f"ms={rnd.random() * 100:.3f}\n"
            )
            lines.append(line)
            size += len(line)
        chunks.append("".join(lines).encode()[:CHUNK])
    return chunks


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def decoder(coding: str) -> Callable[[bytes], bytes]:
    if coding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if coding == "br":
        return brotli.Decompressor().process  # type: ignore[no-any-return]
    return zstandard.ZstdDecompressor().decompressobj().decompress  # type: ignore[no-any-return]


class Client:
    """Decodes and counts what arrives; samples memory every 1/8 of the stream."""

    def __init__(self, coding: str, total: int) -> None:
        self.decode = decoder(coding)
        self.total = total
        self.wire = 0
        self.decoded = 0
        self.samples: list[tuple[int, float]] = []
        self.next_sample = 0

    def receive(self, data: bytes) -> None:
        self.wire += len(data)
        self.decoded += len(self.decode(data))
        if self.decoded >= self.next_sample:
            self.samples.append((self.decoded, rss_mib()))
            self.next_sample += self.total // 8


def run_asgi(coding: str, chunks: list[bytes], count: int) -> Client:
    client = Client(coding, count * CHUNK)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})  # fmt: skip
        for index in range(count):
            body = chunks[index % len(chunks)]
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            client.receive(message.get("body", b""))

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/logs",
        "root_path": "",
        "headers": [(b"accept-encoding", coding.encode())],
    }
    asyncio.run(AsgiCompression(app)(scope, receive, send))
    return client


def run_wsgi(coding: str, chunks: list[bytes], count: int) -> Client:
    client = Client(coding, count * CHUNK)

    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        for index in range(count):
            yield chunks[index % len(chunks)]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/logs", "HTTP_ACCEPT_ENCODING": coding}
    body = WsgiCompression(app)(environ, lambda status, headers, exc_info=None: None)
    try:
        for data in body:
            client.receive(data)
    finally:
        body.close()  # type: ignore[attr-defined]
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coding", default="zstd", choices=["gzip", "br", "zstd", "all"])
    parser.add_argument("--mib", type=int, default=1024, help="body size in MiB (default 1024)")
    options = parser.parse_args()
    codings = ["zstd", "br", "gzip"] if options.coding == "all" else [options.coding]
    chunks = material()
    count = options.mib * 2**20 // CHUNK
    print(f"Streaming {options.mib} MiB in {count:,} chunks of 64 KiB; RSS at start "
          f"{rss_mib():.1f} MiB\n")  # fmt: skip
    print("| protocol | coding | decoded | on the wire | RSS through the stream (MiB) | "
          "peak RSS (MiB) | time |")  # fmt: skip
    print("|---|---|---:|---:|---|---:|---:|")
    for coding in codings:
        for protocol, run in (("ASGI", run_asgi), ("WSGI", run_wsgi)):
            started = time.perf_counter()
            client = run(coding, chunks, count)
            elapsed = time.perf_counter() - started
            assert client.decoded == count * CHUNK, (client.decoded, count * CHUNK)
            trace = " ".join(f"{rss:.0f}" for _, rss in client.samples)
            print(
                f"| {protocol} | {coding} | {client.decoded / 2**20:,.0f} MiB "
                f"| {client.wire / 2**20:,.1f} MiB | {trace} | {peak_mib():.0f} | {elapsed:.1f} s |"
            )


if __name__ == "__main__":
    main()

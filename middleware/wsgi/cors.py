"""CORS for WSGI apps (Flask, Django, any PEP 3333 callable).

    from middleware.wsgi import CORSMiddleware

    app.wsgi_app = CORSMiddleware(
        app.wsgi_app, allow_origins=["https://app.example"], allow_methods=["GET", "POST"]
    )

Preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are answered here,
before the app, its auth or its CSRF checks see them: 200 "OK" with the allow headers, or 400
naming what was refused. Other requests go to the app and its response gets
``Access-Control-Allow-Origin`` (and friends) for an allowed origin, and ``Vary: Origin`` in
every case; an app crash becomes a plain 500 that keeps them.

Options are Starlette's (``allow_origins``, ``allow_methods``, ``allow_headers``,
``allow_credentials``, ``allow_origin_regex``, ``allow_private_network``, ``expose_headers``,
``max_age``) plus ``paths``, a regex matched with ``re.match`` against ``PATH_INFO`` (the path
inside the app, as Django's and Flask's routes see it). ``websocket_origins`` is accepted for
the same signature as the ASGI class and has no effect: WSGI has no websockets. See
``CORSLayer`` and ``middleware.core.cors``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from .._layers import CORSLayer
from ..core.cors import MANAGED, Block, HeaderBlock, vary_with_origin
from ..core.responses import Response
from ._environ import (
    Exchange,
    WSGILayer,
    added,
    app_path,
    bytes_head,
    canonical,
    native,
    status_line,
)
from ._types import Environ, NativeHeaders, StartResponse

__all__ = ["CORSMiddleware"]

_MANAGED = frozenset(name.decode("latin-1") for name in MANAGED)


class CORSMiddleware(WSGILayer, CORSLayer):
    """Answer CORS preflights and add CORS headers to a WSGI app's responses."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        policy = self.policy
        method = environ["REQUEST_METHOD"]
        path = "" if policy.paths is None else app_path(environ)
        # The request values the policy reads, as bytes; a preflight's three more only for one.
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            answer = policy.decide(method, path, None)
        elif method != "OPTIONS":
            answer = policy.decide(method, path, origin.encode("latin-1"))
        else:
            answer = policy.decide(
                method,
                path,
                origin.encode("latin-1"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
            )
        if answer is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        if isinstance(answer, Response):
            start_response(_status_line(answer.status), list(_native(answer.headers)))
            return [answer.body]
        exchange = _CORSExchange(environ, start_response)
        exchange.block = answer
        body = exchange.run(self.app)
        # Nothing to do after the body: a fully produced list, or another layer's exchange
        # (which answers a crash through this one), goes to the server as it is.
        return exchange.produced_list() or exchange.hand_over() or body


class _CORSExchange(Exchange):
    # Set right after construction: no __init__ of its own saves a Python call per request.
    __slots__ = ("block",)
    block: HeaderBlock

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        block = self.block
        at = _fields_at(headers)
        if at is None:  # no field of CORS's in the app's head
            return [*headers, *_native(block.fields)]
        if at < 0:
            return _merged(block, headers)
        # The usual head inside a stack (one Vary, no CORS field): only that value is
        # converted, 0.5 µs where converting the whole head costs 5 (merge's own shortcut).
        out = [*headers, *_native(block.sets)]
        if block.varies:
            name, value = headers[at]
            out[at] = (name, vary_with_origin(value.encode("latin-1")).decode("latin-1"))
        return out


def _merged(block: HeaderBlock, headers: NativeHeaders) -> NativeHeaders:
    """``block.merge`` on native strings: the app's fields keep their spelling, the ones the
    block sets are spelled canonically."""
    merged = block.merge(bytes_head(headers))
    spelling = {name.lower(): name for name, _ in reversed(headers)}
    for ours, _ in block.sets:
        spelling.pop(ours.decode("latin-1"), None)
    return [(spelling.get(name) or canonical(name), value) for name, value in native(merged)]


def _fields_at(headers: NativeHeaders) -> int | None:
    """``middleware.core.cors._managed_at`` for native names in any case: None when the app's
    head has no field CORS sets or merges, the index of a lone Vary, -1 for any other mix."""
    at = None
    for index, (name, _) in enumerate(headers):
        folded = name.lower()
        if folded in _MANAGED:
            if folded != "vary" or at is not None:
                return -1
            at = index
    return at


@lru_cache(maxsize=256)
def _native(fields: Block) -> tuple[tuple[str, str], ...]:
    """``added(fields)``, remembered: the policy's prebuilt blocks and preflight answers come
    back on every request, and the look-up costs 0.08 µs where converting costs 0.5-1.5."""
    return tuple(added(list(fields)))


@lru_cache(maxsize=16)
def _status_line(code: int) -> str:
    """``status_line``, remembered: a policy answers with two codes, and the look-up costs
    0.04 µs where building the line costs 0.35."""
    return status_line(code)


def _value(environ: Environ, key: str) -> bytes | None:
    value = environ.get(key)
    return None if value is None else value.encode("latin-1")

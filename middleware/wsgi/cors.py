"""CORS for WSGI apps (Flask, Django, any PEP 3333 callable).

    from middleware.wsgi import CORSMiddleware

    app.wsgi_app = CORSMiddleware(
        app.wsgi_app, allow_origins=["https://app.example"], allow_methods=["GET", "POST"]
    )

Preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are answered here,
before the app, its auth or its CSRF checks see them: 200 "OK" with the allow headers, or 400
naming what was refused. Other requests go to the app and its response gets
``Access-Control-Allow-Origin`` (and friends) for an allowed origin and ``Vary: Origin`` unless
every origin is answered with a literal ``*``; an app crash becomes a plain 500 that keeps them.

Options are Starlette's (``allow_origins``, ``allow_methods``, ``allow_headers``,
``allow_credentials``, ``allow_origin_regex``, ``allow_private_network``, ``expose_headers``,
``max_age``) plus ``paths``, a regex matched with ``re.match`` against ``PATH_INFO`` (the path
inside the app, as Django's and Flask's routes see it). See ``middleware.core.cors``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import partial
from typing import Any

from ..core.cors import CORSPolicy, HeaderBlock, Preflight
from ._environ import Environ, Exchange, NativeHeaders, StartResponse, check_app

__all__ = ["CORSMiddleware"]

logger = logging.getLogger("middleware.cors")

_STATUS = {200: "200 OK", 400: "400 Bad Request"}


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers to a WSGI app's responses."""

    _middleware_protocol = "wsgi"

    def __init__(
        self,
        app: Any,
        allow_origins: Iterable[str] = (),
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_private_network: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int = 600,
        *,
        paths: str | re.Pattern[str] | None = None,
    ) -> None:
        self.app = check_app(app, "CORSMiddleware")
        self.policy = CORSPolicy.from_options(
            allow_origins,
            allow_methods,
            allow_headers,
            allow_credentials,
            allow_origin_regex,
            allow_private_network,
            expose_headers,
            max_age,
            paths=paths,
        )
        for warning in self.policy.warnings:
            logger.warning(warning)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        policy = self.policy
        method = environ["REQUEST_METHOD"]
        path = "" if policy.paths is None else _path(environ)
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            answer = policy.decide(method, path, None)
        elif method == "OPTIONS":
            answer = policy.decide(
                method,
                path,
                origin.encode("latin-1"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                _value(environ, "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
            )
        else:
            answer = policy.decide(method, path, origin.encode("latin-1"))
        if answer is None:
            return self.app(environ, start_response)
        if type(answer) is Preflight:
            start_response(_STATUS[answer.status], list(answer.native))
            return [answer.body]
        block = answer
        # The common case needs no per-request object beyond one partial and no per-chunk
        # step: the app starts its response and returns a list, which cannot fail while it is
        # iterated (and, being a list, was returned after start_response), so it goes to the
        # server as it is. Anything else (a generator, a framework's response iterable, a
        # crash) goes through the plumbing's Exchange, which applies PEP 3333's rules and
        # SPEC's "Crashes keep their headers" with the same header step.
        try:
            iterable = self.app(environ, partial(_start, start_response, block))
        except Exception as exc:
            return _CORSExchange(environ, start_response, block).run(_Raise(exc))
        if type(iterable) is list:
            return iterable
        if isinstance(iterable, Exchange):
            # Another layer's exchange applies the crash rule itself, answering through the
            # start_response it was given, which adds this layer's headers: nothing to wrap.
            return iterable
        return _CORSExchange(environ, start_response, block).run(_Return(iterable))


def _start(
    start_response: StartResponse,
    block: HeaderBlock,
    status: str,
    headers: NativeHeaders,
    exc_info: Any = None,
) -> Any:
    # PEP 3333: exc_info is passed on untouched; the server re-raises it when the headers have
    # already been sent.
    return start_response(status, block.apply_native(headers), exc_info)


class _CORSExchange(Exchange):
    __slots__ = ("block",)

    def __init__(self, environ: Environ, start_response: StartResponse, block: HeaderBlock) -> None:
        super().__init__(environ, start_response)
        self.block = block

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        return self.block.apply_native(headers)


class _Return:
    """Stands in for the app once it has answered: hands its iterable to the Exchange."""

    __slots__ = ("iterable",)

    def __init__(self, iterable: Iterable[bytes]) -> None:
        self.iterable = iterable

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self.iterable


class _Raise:
    """Stands in for the app once it has raised: raises again inside the Exchange."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        error, self.error = self.error, None  # type: ignore[assignment]
        raise error


def _value(environ: Environ, key: str) -> bytes | None:
    value = environ.get(key)
    return None if value is None else value.encode("latin-1")


def _path(environ: Environ) -> str:
    # PEP 3333 hands PATH_INFO over as latin-1-decoded bytes; ASGI's path is UTF-8 decoded.
    # Decoding the same way keeps one `paths` regex meaning the same thing on both protocols.
    path: str = environ.get("PATH_INFO", "")
    if path.isascii():
        return path
    return path.encode("latin-1").decode("utf-8", "replace")

"""The public classes' options, written once for both protocols.

Each class here is the shared half of one public middleware: its signature (Starlette's names,
positions and defaults where Starlette has the class), what its options mean, and the policy it
builds from them, validated once at construction. ``middleware.wsgi.X`` and
``middleware.asgi.X`` subclass it and add only what their protocol needs: how the wrapped app is
checked (``_accept``) and ``__call__``. So the twins' signatures are one by construction, and a
bad option raises the same error, naming the option, on both.

    class CORSMiddleware(WSGILayer, CORSLayer):
        def __call__(self, environ, start_response): ...
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from .core.compression import (
    DEFAULT_COMPRESSIBLE_TYPES,
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionPolicy,
)
from .core.cors import CORSPolicy
from .core.forwarded import IPAddress, IPNetwork
from .core.request_logging import RequestLoggingPolicy
from .core.sessions import SessionConfig
from .core.timing import TimingPolicy, Timings
from .stores import new_session_id

__all__ = [
    "CORSLayer",
    "CompressionLayer",
    "GZipLayer",
    "Layer",
    "RequestLoggingLayer",
    "SessionLayer",
    "TimingLayer",
]

cors_logger = logging.getLogger("middleware.cors")


class Layer(ABC):
    """What every middleware class has: the app it wraps, checked for its protocol."""

    #: "wsgi" or "asgi": lets ``compose`` and the app check tell the twins apart.
    _middleware_protocol: ClassVar[str]
    #: The public name, for error messages ("use middleware.asgi.CORSMiddleware instead").
    _name: ClassVar[str]

    app: Any

    @abstractmethod
    def _accept(self, app: Any) -> Any:
        """``app`` ready to be called, or a TypeError naming the twin (per protocol)."""


class CompressionLayer(Layer):
    """Compress responses with the best coding the client accepts (zstd, br or gzip).

    ``minimum_size``: bodies known to be shorter are sent as they are. ``encodings``: the
    server's preference, used when the client weights codings equally (zstd needs the
    ``zstandard`` package and is skipped without it). ``gzip_level``, ``brotli_quality``,
    ``zstd_level`` (up to 22, the window kept within 8 MB): codec settings.
    ``compressible_types``: the media types compressed (replaces the default list).
    ``exclude_paths``: paths never touched (a trailing ``/`` makes a prefix).
    ``decompress_requests``: decode request bodies sent with a Content-Encoding,
    up to ``max_request_size`` decoded bytes (413 past it or past 1024 gzip members or zstd
    frames, 415 unknown coding, 400 corrupt or more than two codings), in linear work.
    """

    _name = "CompressionMiddleware"
    policy: CompressionPolicy

    def __init__(
        self,
        app: Any,
        *,
        minimum_size: int = 500,
        encodings: Iterable[str] = ("zstd", "br", "gzip"),
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        compressible_types: Iterable[str] = DEFAULT_COMPRESSIBLE_TYPES,
        exclude_paths: Iterable[str] = (),
        decompress_requests: bool = False,
        max_request_size: int = 10_485_760,
    ) -> None:
        self.app = self._accept(app)
        self.policy = CompressionPolicy.from_options(
            minimum_size=minimum_size,
            encodings=encodings,
            gzip_level=gzip_level,
            brotli_quality=brotli_quality,
            zstd_level=zstd_level,
            compressible_types=compressible_types,
            exclude_paths=exclude_paths,
            decompress_requests=decompress_requests,
            max_request_size=max_request_size,
        )


class GZipLayer(Layer):
    """Starlette's GZipMiddleware, option for option: gzip only, every media type but
    ``exclude_content_types`` (Starlette's list: images, audio, video, archives, gRPC and
    text/event-stream). On ASGI, chunks of ``thread_minimum_size`` bytes or more are
    compressed in a worker thread; WSGI servers already run the app on worker threads, so
    there it is accepted for the same signature. As Starlette's, a response without a
    Content-Type is compressed, ``Vary`` goes only where the answer could differ by
    Accept-Encoding, and a whole body of ``minimum_size`` or more is gzipped even if it grows;
    negotiation and the other skip and header rules are CompressionMiddleware's."""

    _name = "GZipMiddleware"
    policy: CompressionPolicy

    def __init__(
        self,
        app: Any,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 131_072,
        *,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = self._accept(app)
        self.policy = CompressionPolicy.for_gzip(
            minimum_size=minimum_size,
            compresslevel=compresslevel,
            thread_minimum_size=thread_minimum_size,
            exclude_content_types=exclude_content_types,
        )


class CORSLayer(Layer):
    """Answer CORS preflights and add CORS headers to the app's responses.

    Options are Starlette's (``allow_origins``, ``allow_methods``, ``allow_headers``,
    ``allow_credentials``, ``allow_origin_regex``, ``allow_private_network``,
    ``expose_headers``, ``max_age``), with its positions and defaults, plus ``paths``: a regex
    matched with ``re.match`` against the path inside the app, as its routes see it; CORS
    applies only where it matches. ``websocket_origins``: refuse a websocket handshake whose
    ``Origin`` the policy does not allow, before the app runs (ASGI; WSGI has no websockets,
    so there it is accepted and has no effect). See ``middleware.core.cors`` for what each one
    means.
    """

    _name = "CORSMiddleware"
    policy: CORSPolicy

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
        websocket_origins: bool = True,
    ) -> None:
        self.app = self._accept(app)
        self.policy = CORSPolicy.from_options(
            allow_origins=allow_origins,
            allow_methods=allow_methods,
            allow_headers=allow_headers,
            allow_credentials=allow_credentials,
            allow_origin_regex=allow_origin_regex,
            allow_private_network=allow_private_network,
            expose_headers=expose_headers,
            max_age=max_age,
            paths=paths,
            websocket_origins=websocket_origins,
        )
        for warning in self.policy.warnings:
            cors_logger.warning(warning)


class SessionLayer(Layer):
    """Signed cookie sessions (Starlette's options and cookie format), optionally kept in a
    server-side ``store`` (``MemoryStore``, ``RedisStore``) with only a signed ID in the
    cookie. See ``middleware.core.sessions`` for the rules."""

    _name = "SessionMiddleware"
    config: SessionConfig

    def __init__(
        self,
        app: Any,
        secret_key: Any,
        session_cookie: str = "session",
        max_age: int | None = 1_209_600,
        path: str = "/",
        same_site: str = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
        fallback_secret_keys: Sequence[Any] = (),
        store: Any = None,
    ) -> None:
        self.app = self._accept(app)
        self._accept_store(store)
        self.config = SessionConfig(
            secret_key=secret_key,
            session_cookie=session_cookie,
            max_age=max_age,
            path=path,
            same_site=same_site,
            https_only=https_only,
            domain=domain,
            partitioned=partitioned,
            fallback_secret_keys=fallback_secret_keys,
            store=store,
            clock=time.time,
            new_id=new_session_id,
        )

    def _accept_store(self, store: Any) -> None:
        """Raise TypeError when ``store`` lacks the face this protocol calls (per protocol)."""


class RequestLoggingLayer(Layer):
    """Log one access record per request and give every request an ID.

    ``logger``: a name or a ``logging.Logger``. ``format``: ``"combined"``, ``"json"`` or a
    callable taking the ``AccessRecord``. ``request_id_header``: the header carrying the ID
    both ways. ``trust_request_id``: keep a safe incoming ID. ``exclude_paths``: exact paths,
    or prefixes when they end with ``/``, that are not logged. ``trusted_proxies``: IPs or
    networks whose ``Forwarded`` / ``X-Forwarded-For`` name the client. See
    ``middleware.core.request_logging``.
    """

    _name = "RequestLoggingMiddleware"
    policy: RequestLoggingPolicy
    logger: logging.Logger

    def __init__(
        self,
        app: Any,
        *,
        logger: str | logging.Logger = "middleware.access",
        format: str | Callable[[Any], object] = "combined",
        request_id_header: str = "X-Request-ID",
        trust_request_id: bool = True,
        exclude_paths: Iterable[str] = (),
        trusted_proxies: Iterable[str | IPAddress | IPNetwork] = (),
    ) -> None:
        self.app = self._accept(app)
        self.policy = RequestLoggingPolicy.build(
            logger=logger,
            format=format,
            request_id_header=request_id_header,
            trust_request_id=trust_request_id,
            exclude_paths=exclude_paths,
            trusted_proxies=trusted_proxies,
        )
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger


class TimingLayer(Layer):
    """Add ``Server-Timing`` to every HTTP response.

    ``metric``: the name of the app's own entry (time to the response start). ``header``: the
    header's name. ``timing_allow_origin``: ``"*"``, an origin or a list of origins; no
    ``Timing-Allow-Origin`` when None. ``on_complete(timings)``: called once after the body.
    """

    _name = "TimingMiddleware"
    policy: TimingPolicy

    def __init__(
        self,
        app: Any,
        *,
        metric: str = "app",
        header: str = "Server-Timing",
        timing_allow_origin: str | Iterable[str] | None = None,
        on_complete: Callable[[Timings], object] | None = None,
    ) -> None:
        self.app = self._accept(app)
        self.policy = TimingPolicy.build(
            metric=metric,
            header=header,
            timing_allow_origin=timing_allow_origin,
            on_complete=on_complete,
        )

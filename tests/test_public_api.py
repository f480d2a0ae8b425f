"""The two adapters expose the same names, with the same signatures; compose and Middleware."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import middleware
import middleware.asgi as asgi
import middleware.wsgi as wsgi
from tests.drivers import call_asgi, call_wsgi
from tests.parity.vectors import Reply, asgi_app, wsgi_app


def test_same_names_in_both_adapters() -> None:
    assert wsgi.__all__ == asgi.__all__ == sorted(wsgi.__all__)
    for name in wsgi.__all__:
        assert hasattr(wsgi, name) and hasattr(asgi, name)


@pytest.mark.parametrize(
    "name", [n for n in wsgi.__all__ if n.endswith("Middleware") and n != "Middleware"]
)
def test_same_signature_in_both_adapters(name: str) -> None:
    w, a = getattr(wsgi, name), getattr(asgi, name)
    assert inspect.signature(w) == inspect.signature(a)
    assert w._middleware_protocol == "wsgi" and a._middleware_protocol == "asgi"


def test_top_level_exports() -> None:
    assert middleware.Middleware is wsgi.Middleware is asgi.Middleware
    assert callable(middleware.request_id.get) and middleware.request_id.get() is None
    assert callable(middleware.timing.record) and callable(middleware.timing.measure)


def test_middleware_spec_unpacks_like_starlettes() -> None:
    spec = middleware.Middleware(wsgi.TimingMiddleware, metric="total")
    cls, args, kwargs = spec
    assert (cls, args, kwargs) == (wsgi.TimingMiddleware, (), {"metric": "total"})
    assert repr(spec) == "Middleware(TimingMiddleware, metric='total')"
    with pytest.raises(TypeError, match="needs a middleware class"):
        middleware.Middleware(42)  # type: ignore[arg-type]


def _order_probe(protocol: str, tag: str) -> Any:
    """A third-party-style middleware that appends its tag to an X-Order header."""
    if protocol == "wsgi":

        def factory(app: Any) -> Any:
            def layer(environ: Any, start_response: Any) -> Any:
                def sr(status: str, headers: Any, exc_info: Any = None) -> Any:
                    return start_response(status, [*headers, ("X-Order", tag)], exc_info)

                return app(environ, sr)

            return layer

        return factory

    def afactory(app: Any) -> Any:
        async def layer(scope: Any, receive: Any, send: Any) -> None:
            async def s(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message = {
                        **message,
                        "headers": [*message["headers"], (b"x-order", tag.encode())],
                    }
                await send(message)

            await app(scope, receive, s)

        return layer

    return afactory


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_compose_first_layer_is_outermost(protocol: str) -> None:
    module = wsgi if protocol == "wsgi" else asgi
    stack = module.compose(
        _order_probe(protocol, "outer"),
        middleware.Middleware(module.TimingMiddleware, metric="t"),
        _order_probe(protocol, "inner"),
    )
    if protocol == "wsgi":
        result = call_wsgi(stack(wsgi_app(Reply())))
    else:
        result = call_asgi(stack(asgi_app(Reply())))
    # Headers are added on the way out: the innermost layer adds first.
    assert result.header_all("x-order") == ["inner", "outer"]
    assert (result.header("server-timing") or "").startswith("t;dur=")


def test_compose_decorator_form() -> None:
    @wsgi.compose(wsgi.TimingMiddleware)
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    assert isinstance(app, wsgi.TimingMiddleware)
    assert call_wsgi(app).body == b"ok"


@pytest.mark.parametrize(
    ("compose", "layer", "hint"),
    [
        (wsgi.compose, asgi.TimingMiddleware, r"use middleware\.wsgi\.TimingMiddleware"),
        (asgi.compose, wsgi.TimingMiddleware, r"use middleware\.asgi\.TimingMiddleware"),
    ],
)
def test_compose_rejects_the_other_protocols_class(compose: Any, layer: Any, hint: str) -> None:
    with pytest.raises(TypeError, match=hint):
        compose(layer)


def test_wrong_app_kind_fails_at_decoration_time() -> None:
    async def asgi_only(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"use middleware\.asgi\.TimingMiddleware"):
        wsgi.compose(wsgi.TimingMiddleware)(asgi_only)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "bad name"}, "metric name must be an RFC 9110 token, got 'bad name'"),
        ({"metric": 3}, "metric must be a string, got 3"),
        ({"header": "Bad Header"}, "header must be a header name, got 'Bad Header'"),
        ({"timing_allow_origin": ["ok", "\n"]}, "timing_allow_origin must be"),
        ({"timing_allow_origin": []}, "timing_allow_origin must be"),
        ({"on_complete": 5}, "on_complete must be callable, got 5"),
    ],
)
@pytest.mark.parametrize("module", [wsgi, asgi], ids=["wsgi", "asgi"])
def test_timing_bad_configuration_fails_at_construction(
    module: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=message.replace("(", r"\(")):
        module.TimingMiddleware(
            wsgi_app(Reply()) if module is wsgi else asgi_app(Reply()), **options
        )


def test_one_version_in_the_code_and_the_distribution() -> None:
    import importlib.metadata

    import middleware

    assert middleware.__version__ == importlib.metadata.version("gateway-middleware")


def test_every_asgi_class_is_recognised_as_asgi3() -> None:
    # Servers tell ASGI 3 from ASGI 2 by a coroutine __call__ (uvicorn's --interface auto):
    # a plain __call__ returning an awaitable is taken for ASGI 2 and called with one argument.
    import inspect

    import middleware.asgi

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    for name in (
        "CompressionMiddleware",
        "GZipMiddleware",
        "CORSMiddleware",
        "RequestLoggingMiddleware",
        "TimingMiddleware",
    ):
        layer = getattr(middleware.asgi, name)(app)
        assert inspect.iscoroutinefunction(layer.__call__), name
    session = middleware.asgi.SessionMiddleware(app, secret_key="k" * 32)
    assert inspect.iscoroutinefunction(session.__call__)

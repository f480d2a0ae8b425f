"""PEP 3333 plumbing shared by every WSGI adapter.

All protocol translation and all WSGI rules live here, once, so the feature adapters read as
"translate, ask the core, translate back":

- ``Exchange`` is one request through one layer. It is the ``start_response`` the app gets
  (``exchange(status, headers, exc_info)``) and the iterable the server gets back, so a layer
  costs one object per request. Subclasses override ``on_start`` (adjust the headers, on every
  ``start_response`` call including ``exc_info`` restarts), ``on_body`` (change the body) and
  ``on_close`` (runs exactly once).
- "Crashes keep their headers" (SPEC): when the app raises before any body byte left this
  layer, the exchange answers a plain 500 through its own ``start_response`` path, so this
  layer and every layer outside it add their headers, logs the traceback once on
  ``middleware.errors``, and marks ``environ["middleware.error"]`` for the access log. A layer
  may answer such an exception with a response of its own instead (``Exchange.answer_for``),
  through the same path, with nothing logged or raised: the SessionMiddleware answers so a
  session store's failure (SPEC "Store failures": 503), and the layers inside it end their
  exchange and pass that failure on to it (``store_failure``).
- The inner iterable's ``close()`` is called exactly once, whatever happens.
- ``check_app`` has the response head of an app that is not one of these layers (the
  innermost layer's app, or a foreign middleware) checked in ``start_response``: a header name
  or value with CR, LF or NUL, which a server must refuse, raises ValueError into the app, as
  gunicorn's ``start_response`` would, and the layer answers it as a crash (above), so the
  access record says 500. The layers' own headers are valid by construction, so one check at
  the app's edge covers the whole head; see ``_checked_head``.
- A layer whose app returned another layer's exchange, and that has no per-chunk work, hands
  that exchange to the server (``hand_over``) and runs its own end there (``after_close``),
  so a stack of layers does not nest one generator per layer.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from http import HTTPStatus
from typing import Any, Generic, TypeVar

from .._apps import app_kind, mismatch
from .._layers import Layer
from ..core.headers import Headers, forbidden_native_field, refused_head
from ..core.outcome import Outcome
from ..core.responses import CRASH_BODY, Response, crash_headers
from ..core.sessions import Session
from ._types import Environ, ExcInfo, NativeHeaders, StartResponse, Write, WSGIApp

__all__ = [
    "Environ",
    "Exchange",
    "HeadFields",
    "InContext",
    "bytes_head",
    "spelled_as",
    "WSGILayer",
    "added",
    "app_path",
    "canonical",
    "NativeHeaders",
    "StartResponse",
    "WSGIApp",
    "check_app",
    "file_blocks",
    "native",
    "request_body",
    "status_code",
    "status_line",
]


errors = logging.getLogger("middleware.errors")

T = TypeVar("T")

_ERROR_KEY = "middleware.error"
_CRASH_LINE = "500 Internal Server Error"


def check_app(app: Any, cls_name: str) -> WSGIApp:
    """``app`` if it can be a WSGI application, else the TypeError that names the ASGI twin."""
    if app_kind(app) in ("asgi3", "asgi2"):
        raise mismatch(cls_name, "wsgi", app)
    if not callable(app):
        raise TypeError(f"middleware.wsgi.{cls_name} needs a WSGI application, got {app!r}.")
    if getattr(app, "_middleware_protocol", None) == "wsgi":
        # Another layer of this package: it checks its own app's head.
        return app  # type: ignore[no-any-return]
    return _checked_head(app)


def _checked_head(app: WSGIApp) -> WSGIApp:
    """``app`` with its ``start_response`` headers checked before the layer sees them.

    SPEC (Request logging): a response head that the server must refuse (CR, LF or NUL in a
    header name or value set by the app) is treated as a crash on both protocols. The app's
    ``start_response`` raises, as gunicorn's does; the app's exception then reaches the layer
    before any body byte left, so the layer answers the plain 500 that keeps every layer's
    headers and logs the traceback once. Closures, not objects: about 0.15 µs per request
    besides the check.
    """

    def checked_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def checked_start(
            status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
        ) -> Write:
            field = forbidden_native_field(headers)
            if field is not None:
                raise ValueError(refused_head(*field))
            return start_response(status, headers, exc_info)

        return app(environ, checked_start)

    return checked_app


def status_code(status: str) -> int:
    """The integer code of a WSGI status line such as ``"404 Not Found"``."""
    # Remembered per line: parsing one costs more than the dict look-up (0.18 µs against 0.04),
    # and an app uses a handful. Bounded, so that invented reason phrases cannot fill memory.
    code = _STATUS_CODES.get(status)
    if code is None:
        code = int(status[:3])
        if len(_STATUS_CODES) < _STATUS_CODES_ENTRIES:
            _STATUS_CODES[status] = code
    return code


_STATUS_CODES: dict[str, int] = {}
_STATUS_CODES_ENTRIES = 256


def status_line(code: int) -> str:
    """A WSGI status line for ``code`` with its standard reason phrase."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def native(headers: Headers) -> NativeHeaders:
    """The core's bytes pairs as WSGI native strings."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


def added(fields: Iterable[tuple[bytes, bytes]]) -> NativeHeaders:
    """Fields a layer adds to a response, as WSGI native strings in the usual spelling
    (``server-timing`` becomes ``Server-Timing``)."""
    # A plain loop and a dict of the layers' few names: every response pays this (callgrind:
    # a third of a comprehension with a decode and an lru_cache call per name).
    out = []
    for name, value in fields:
        spelled = _SPELLED.get(name)
        if spelled is None:
            spelled = canonical(name.decode("latin-1"))
            if len(_SPELLED) < 256:
                _SPELLED[name] = spelled
        out.append((spelled, value.decode("latin-1")))
    return out


_SPELLED: dict[bytes, str] = {}


class HeadFields:
    """The fields of a native WSGI head that one rule reads or changes, converted alone.

    A rule reads a few fields (compression's Content-Type and Content-Length, the session's
    Vary): ``read`` converts only those to the core's bytes pairs, and ``edit`` sends the rest
    as the app wrote them. Converting a whole head costs about 0.15 µs a field each way,
    on every response. The result is the rule's on the whole head, converted: the core's rules
    edit a field in place of its first line, drop fields and append new ones, and when an
    answer on the read fields alone cannot say where a field goes, the rule runs again on the
    whole head.
    """

    def __init__(self, names: Iterable[bytes]) -> None:
        self.names = frozenset(names)
        # Each native name seen, as the core's name when the rule reads it, else b"": one
        # look-up instead of lower() and encode() per field (``key`` fills it). Bounded
        # against invented names.
        self.seen: dict[str, bytes] = {}

    def edit(
        self,
        headers: NativeHeaders,
        read: Headers,
        head: Headers,
        rule: Callable[..., Headers | None],
        *args: object,
    ) -> NativeHeaders:
        """The head to send: ``headers`` with ``head``, the answer of ``rule(*args, read)``
        (a function with no state) for the fields ``read`` from them, in their place.

        The app's own list when the rule changed nothing; else the app's list with the
        values the rule changed in place and the fields it appended; else, when the rule
        dropped or moved a field, the rule's answer for the whole head, converted.
        """
        if head is read:
            return headers
        count = len(read)
        if head[:count] == read:
            return [*headers, *added(head[count:])]
        edited = self._in_place(headers, read, head)
        if edited is not None:
            return edited
        given = bytes_head(headers)
        whole = rule(*args, given)
        if whole is None:
            raise RuntimeError(f"{rule!r} decided on the whole head as it did not on its fields.")
        return spelled_as(headers, given, whole)

    def read(self, headers: NativeHeaders) -> Headers:
        """The fields of ``headers`` the rule reads, as bytes pairs with lower-case names."""
        fields = []
        seen = self.seen
        for name, value in headers:
            key = seen.get(name)
            if key is None:
                key = self.key(name)
            if key:
                fields.append((key, value.encode("latin-1")))
        return fields

    def _in_place(
        self, headers: NativeHeaders, read: Headers, head: Headers
    ) -> NativeHeaders | None:
        """``headers`` with ``head`` in place of ``read``, when ``head`` is ``read`` with some
        values changed (in place of the field's line), then new fields; None when the rule
        dropped or moved a field."""
        count = len(read)
        if [name for name, _ in head[:count]] != [name for name, _ in read]:
            return None
        out = list(headers)
        at = 0
        seen = self.seen
        for index, (name, _) in enumerate(headers):
            key = seen.get(name)
            if key is None:
                key = self.key(name)
            if key:
                if head[at][1] != read[at][1]:
                    out[index] = (name, head[at][1].decode("latin-1"))
                at += 1
                if at == count:
                    break
        out.extend(added(head[count:]))
        return out

    def key(self, name: str) -> bytes:
        """The core's name for a native name not yet ``seen`` when the rule reads it, else
        b""."""
        key = name.lower().encode("latin-1")
        if key not in self.names:
            key = b""
        if len(self.seen) < 1024:
            self.seen[name] = key
        return key


def bytes_head(headers: NativeHeaders) -> Headers:
    """A whole native head as the core's bytes pairs, names lower-cased."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def spelled_as(headers: NativeHeaders, given: Headers, head: Headers) -> NativeHeaders:
    """``head``, the core's answer for the whole of ``headers`` (``given`` to it as bytes), as
    native strings: the app's own list when the core changed nothing, or with what the core
    appended; else each name spelled as the app first spelled it, a new one canonically."""
    if head is given:
        return headers
    count = len(given)
    if head[:count] == given:
        return [*headers, *added(head[count:])]
    spelling = {name.lower(): name for name, _ in reversed(headers)}
    out = []
    for name, value in head:
        text = name.decode("latin-1")
        out.append((spelling.get(text) or canonical(text), value.decode("latin-1")))
    return out


@lru_cache(maxsize=256)
def canonical(name: str) -> str:
    """A lower-case header name in the capitalisation WSGI apps and servers usually write.

    Remembered: layers add the same few names to every response."""
    return "-".join(part.capitalize() for part in name.split("-"))


def app_path(environ: Environ) -> str:
    """The path inside the app (``PATH_INFO``), decoded as ASGI's ``path`` is.

    PEP 3333 hands ``PATH_INFO`` over as the request's bytes decoded as latin-1; ASGI's path is
    UTF-8 decoded. Decoding the same way keeps one ``paths`` option (CORS, compression's
    ``exclude_paths``) meaning the same thing on both protocols.
    """
    path: str = environ.get("PATH_INFO", "")
    if path.isascii():
        return path
    return path.encode("latin-1").decode("utf-8", "replace")


def request_body(environ: Environ, size: int) -> Iterator[tuple[bytes, bool]]:
    """The request body from ``wsgi.input`` in blocks of at most ``size`` bytes, each with
    whether more follows (the last one, maybe empty, says no).

    PEP 3333: a server need not signal the end of input, so only ``CONTENT_LENGTH`` bytes are
    read, unless it promises an end with ``wsgi.input_terminated``.
    """
    length: str = environ.get("CONTENT_LENGTH") or ""
    remaining = (
        int(length) if length.isdigit() else -1 if environ.get("wsgi.input_terminated") else 0
    )
    stream = environ["wsgi.input"]
    while True:
        wanted = size if remaining < 0 else min(remaining, size)
        block = stream.read(wanted) if wanted else b""
        if remaining > 0:
            remaining -= len(block)
        more = bool(block) and remaining != 0
        yield block, more
        if not more:
            return


def file_blocks(body: Iterable[bytes], size: int) -> Iterable[bytes]:
    """A file body (``wsgi.file_wrapper``, or an iterable with ``read()``) in blocks of
    ``size`` bytes, never line by line; any other body as it is."""
    read = getattr(body, "read", None) or getattr(getattr(body, "filelike", None), "read", None)
    if read is None:
        return body
    return iter(lambda: read(size), b"")


class Exchange:
    """One request through one WSGI layer: ``start_response`` wrapper and response iterable."""

    # The response's state, read from these class-level defaults until a request sets it:
    # one exchange per layer and request, and each store saved is one less per layer.
    _iterable: Iterable[bytes] | None = None
    status: str | None = None
    """The status line the app started the response with; None until it did."""
    bytes_sent = 0
    closed = False
    outcome: Outcome | None = None
    _after: list[Callable[[], object]] | None = None

    def __init__(self, environ: Environ, start_response: StartResponse) -> None:
        self.environ = environ
        self._start_response = start_response

    # Hooks for the feature adapters.

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        """Adjust the response headers; called on every ``start_response`` call."""
        return headers

    def on_close(self) -> None:
        """Runs once, when the server closes the response (``self.outcome`` is set)."""

    def on_body(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        """The chunks the server gets for the app's (the same by default). A layer that changes
        the body overrides it; it is called for the app's body, and again for a crash answer's."""
        return chunks

    # The start_response the app is given.

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        self.status = status
        headers = self.on_start(status, headers)
        # PEP 3333: exc_info is passed on untouched; the server re-raises it when the headers
        # have already been sent. No reference to it is kept.
        return self._start_response(status, headers, exc_info)

    # The iterable the server is given.

    def run(self, app: WSGIApp) -> Iterable[bytes]:
        """Call ``app`` with this exchange as its ``start_response`` and return the response."""
        try:
            self._iterable = app(self.environ, self)
        except Exception:
            self._answer_crash()
        return self

    def produced_list(self) -> list[bytes] | None:
        """The app's body when it is a list: fully produced, nothing left to run or close.

        A layer with no work at the end of the response can hand such a body straight back
        to the server instead of this exchange (after doing its ``on_close`` work itself).
        """
        iterable = self._iterable
        if type(iterable) is list and self.outcome is None:
            return iterable
        return None

    def produced_list_closed(self) -> list[bytes] | None:
        """``produced_list``, with this exchange's end run now: for a layer whose ``on_close``
        does not wait for the body to be sent."""
        # produced_list's test, inline: a Python call less per layer and request.
        produced = self._iterable
        if type(produced) is list and self.outcome is None:
            self._iterable = None
            self.closed = True
            self.outcome = Outcome.COMPLETED
            self.on_close()
            return produced
        return None

    def hand_over(self) -> Exchange | None:
        """The response of the layer inside, when it is another exchange of this plumbing,
        taken out of this one; else None.

        That exchange applies the crash rule and the close-once rule itself, and answers a
        crash through its ``start_response``, which is this exchange: this layer's headers
        are still added. So a layer with no per-chunk work can give it to the server as it is
        and move its own end-of-response work there with ``after_close``: in a stack of these
        layers each request and each chunk then passes one generator less per such layer.
        """
        iterable = self._iterable
        if isinstance(iterable, Exchange) and self.outcome is None and not iterable.closed:
            # This exchange no longer owns it (nor, so, forms a cycle with it).
            self._iterable = None
            return iterable
        return None

    def after_close(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` once this exchange is closed, after its own ``on_close``.

        Hooks run in the order they were added (an inner layer's before an outer one's, as
        when each layer closes the one inside it first); one that raises does not stop the
        others.
        """
        after = self._after
        if after is None:
            self._after = [hook]
        else:
            after.append(hook)

    def __iter__(self) -> Iterator[bytes]:
        # A generator does the per-chunk work at C speed; close() stays on this object, so it
        # reaches the app even when the server never starts iterating.
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self.on_body(self._iterable or ()):
                if chunk:
                    self.bytes_sent += len(chunk)
                yield chunk
        except Exception:
            if self.bytes_sent:
                self.outcome = Outcome.ERROR
                raise
            self._close_inner()
            self._answer_crash()
            # The plain 500's body, or answer_for's response's.
            yield from self.on_body(self._iterable or ())
            return
        if self.outcome is None:
            self.outcome = Outcome.COMPLETED

    def close(self) -> None:
        """PEP 3333: called by the server once the response is done, however it ended."""
        if self.closed:
            return
        self.closed = True
        if self.outcome is None:
            self.outcome = Outcome.DISCONNECTED
        try:
            self._close_inner()
        finally:
            try:
                self.on_close()
            finally:
                after = self._after
                if after is not None:
                    self._after = None
                    _run_hooks(after, 0)

    def _close_inner(self) -> None:
        iterable = self._iterable
        if iterable is not None:
            self._iterable = None
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    def answer_for(self, error: BaseException | None) -> Response | None:
        """The response that answers ``error``, raised by the app before any body byte left
        this layer, in place of a crash; None (the default): it is one.

        A response goes out through this exchange's ``start_response`` path, so this layer
        and every layer outside it add their headers, and ``error`` is neither re-raised nor
        logged: the SessionMiddleware answers a store failure that the app let through with
        its 503.
        """
        return None

    def _answer_crash(self) -> None:
        """Answer the exception being handled: with ``answer_for``'s response, with the plain
        500, or by passing a store failure on."""
        error = sys.exc_info()[1]
        answer = self.answer_for(error)
        if answer is not None:
            self.outcome = Outcome.ERROR
            self._answer(status_line(answer.status), native(list(answer.headers)), answer.body)
        elif store_failure(self.environ, error):
            # Nothing will close this exchange once the exception leaves it: end it here, so
            # its layer's close work (timing's on_complete, the access record) still runs.
            self.outcome = Outcome.ERROR
            self.close()
            raise error  # type: ignore[misc]
        else:
            self._answer_500()

    def _answer_500(self) -> None:
        """Answer the exception being handled with the plain 500; log its traceback once."""
        self.outcome = Outcome.ERROR
        self.environ[_ERROR_KEY] = True
        self._answer(_CRASH_LINE, native(crash_headers()), CRASH_BODY)
        errors.error("Exception in WSGI application, answered with a 500", exc_info=True)

    def _answer(self, status: str, headers: NativeHeaders, body: bytes) -> None:
        """Answer the exception being handled with this response in place of the app's."""
        exc_info = sys.exc_info()
        try:
            self(status, headers, exc_info)  # type: ignore[arg-type]
        except BaseException:
            # The head had already left (write() sent it): PEP 3333's start_response
            # re-raises, the exception leaves the layer, and nothing will close this
            # exchange, so its close work (timing's on_complete, the record) runs here.
            self.close()
            raise
        finally:
            del exc_info
        self._iterable = (body,)


class InContext(Generic[T]):
    """An app's iterable, run with a context variable set to ``value`` while it produces or
    closes.

    The server iterates after the layer returned, maybe from another context; setting the
    variable around each step (not once for the whole body) keeps it out of the server's own
    code and always resets it where it was set. The iterator is taken at the first step, not
    here: an ``__iter__`` that raises must still leave the iterable to be closed (PEP 3333).
    """

    __slots__ = ("_iterable", "_iterator", "_value", "_var")

    def __init__(self, iterable: Iterable[bytes], var: ContextVar[T], value: T) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None
        self._var = var
        self._value = value

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = self._var.set(self._value)
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            return next(iterator)
        finally:
            self._var.reset(token)

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            token = self._var.set(self._value)
            try:
                close()
            finally:
                self._var.reset(token)


def _run_hooks(hooks: list[Callable[[], object]], index: int) -> None:
    try:
        hooks[index]()
    finally:
        if index + 1 < len(hooks):
            _run_hooks(hooks, index + 1)


def store_failure(environ: Environ, error: BaseException | None) -> bool:
    """Whether ``error`` is the session store's failure that the SessionMiddleware outside
    this layer answers with 503: handled there, so not a crash for this layer to answer."""
    session = environ.get("middleware.session")
    return isinstance(session, Session) and session.store_failed(error)


def app_failed(environ: Environ) -> bool:
    """Whether a layer inside this one answered an app crash with a 500."""
    return environ.get(_ERROR_KEY, False) is True


class WSGILayer(Layer):
    """The WSGI half every middleware class shares: its app is checked for WSGI."""

    _middleware_protocol = "wsgi"

    def _accept(self, app: Any) -> WSGIApp:
        return check_app(app, self._name)

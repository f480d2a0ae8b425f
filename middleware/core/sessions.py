"""Signed cookie sessions: a lazy session object and the Set-Cookie decision.

    config = SessionConfig(secret_key="s3cret", clock=time.time)
    session = Session(config, cookie_header)          # nothing is parsed yet
    session["user"] = 42                               # the app: decoded here, on first touch
    commit = respond(session, 200, vary)               # when the headers leave
    headers = apply(commit, response_headers)          # when commit is not None
    events = close(session)                            # after the body: lost changes, bad cookies

``SessionConfig`` takes SessionMiddleware's options, validates them and precomputes everything
that does not depend on a request: the signing keys (``session_codec.SessionCodec``), the
Set-Cookie attributes, the deletion header. ``Session`` is a ``dict`` (so ``json.dumps`` and
Starlette's ``request.session`` work on it) that decodes the Cookie header only when the app
first touches it, and records whether it was read and changed. ``respond`` decides what the
response carries: ``Vary: Cookie`` when the session was read; a Set-Cookie only when it changed,
or when it was read and its signature is older than half of ``max_age`` (so active users stay
signed in); a deletion when it was emptied; nothing at all on a 5xx; and a 500 in place of the
app's response when the cookie would be too large for a browser to keep. ``close`` reports a
change made after the headers left, which no cookie can carry any more.

Options (``SessionConfig``, the same as Starlette's SessionMiddleware plus two):

- ``secret_key`` (required) and ``fallback_secret_keys=()``: see ``session_codec``.
- ``session_cookie="session"``: the cookie name.
- ``max_age=1_209_600`` (14 days): the cookie's Max-Age and the signature's lifetime.
  ``None`` makes a browser-session cookie (no Max-Age); the signature still expires after
  14 days, refreshed like any other, so a stolen cookie does not stay valid forever.
- ``path="/"``, ``domain=None``, ``same_site="lax"``, ``https_only=False`` (Secure),
  ``partitioned=False`` (CHIPS): the cookie's attributes; HttpOnly is always set.
- ``store=None``: a server-side store (``middleware.stores``); the cookie then carries only a
  signed session ID and ``middleware.core.session_store`` makes the decisions.
- ``clock``: a function returning seconds since the epoch (``time.time``), injected by the
  adapter so the core never reads the clock itself; ``new_id`` (with a store): a function
  returning a fresh random session ID, injected for the same reason.

Bad cookies (tampered, signed with an unknown key, expired, truncated, garbage, several
``session=`` cookies) never raise: the session starts empty and ``respond`` returns an event
naming the reason, for a DEBUG log line.

Server-side stores (``store=``) are ``middleware.core.session_store``: a ``Session`` subclass
whose cookie is a signed session ID and whose data comes from the store, and a ``respond``
that also returns the store operations for the adapter to perform before the headers leave.

A cookie session cannot merge the changes of two requests of one session running at once: the
cookie is the whole session, so the response the browser receives last wins. A store commits
only the keys each request changed.

Websocket connections use ``Session.read_only``: the session reads the same, and ``close``
reports any change as not saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from .cookies import (
    build_delete_cookie,
    build_set_cookie,
    check_cookie_name,
    cookie_values,
    normalize_same_site,
)
from .headers import Headers, merge_vary
from .responses import plain_headers
from .session_codec import (
    MAX_TOKEN_LENGTH,
    BadCookie,
    SessionCodec,
    UnserializableSession,
    dumps,
    loads,
)

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from .session_store import StoreOps

__all__ = [
    "FAILURE_BODY",
    "FAILURE_HEADERS",
    "MAX_COOKIE_SIZE",
    "BadCookie",
    "EventKind",
    "Session",
    "SessionCommit",
    "SessionConfig",
    "SessionEvent",
    "apply",
    "close",
    "respond",
]

# RFC 6265 §6.1: "At least 4096 bytes per cookie (as measured by the sum of the length of the
# cookie's name, value, and attributes)." Browsers drop a larger cookie without a word, which
# signs the user out; the whole Set-Cookie value is measured, as the RFC does.
MAX_COOKIE_SIZE = MAX_TOKEN_LENGTH

DEFAULT_MAX_AGE = 1_209_600

FAILURE_STATUS = 500
FAILURE_BODY = b"Internal Server Error"
FAILURE_HEADERS: Headers = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(FAILURE_BODY)).encode("ascii")),
]

_VARY = (b"Cookie",)
_SET_COOKIE = b"set-cookie"
_COOKIE = b"cookie"


def _check_attribute(name: str, value: object, *, leading_slash: bool) -> str:
    # RFC 6265 §4.1.1: path-value = <any CHAR except CTLs or ";">; a domain is the same, and
    # neither may contain a space that would end the attribute for lenient parsers.
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, got {value!r}.")
    if any(not 0x20 <= ord(char) < 0x7F or char == ";" for char in value) or (
        name == "domain" and " " in value
    ):
        raise ValueError(f"{name} may only hold printable ASCII without ';', got {value!r}.")
    if leading_slash and not value.startswith("/"):
        raise ValueError(f"{name} must start with '/', got {value!r}.")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """SessionMiddleware's options, validated, with keys and cookie headers precomputed."""

    secret_key: object = field(repr=False)
    session_cookie: str = "session"
    max_age: int | None = DEFAULT_MAX_AGE
    path: str = "/"
    same_site: str = "lax"
    https_only: bool = False
    domain: str | None = None
    partitioned: bool = False
    fallback_secret_keys: Sequence[object] = field(default=(), repr=False)
    store: object | None = None
    clock: Callable[[], float] = field(repr=False)
    new_id: Callable[[], str] | None = field(default=None, repr=False)

    codec: SessionCodec = field(init=False, repr=False, compare=False)
    # The signature's lifetime, and the age past which a read session is re-signed.
    signature_max_age: int = field(init=False, repr=False, compare=False)
    refresh_age: int = field(init=False, repr=False, compare=False)
    # A Set-Cookie value is set_prefix + token + set_suffix.
    set_prefix: bytes = field(init=False, repr=False, compare=False)
    set_suffix: bytes = field(init=False, repr=False, compare=False)
    delete_cookie: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            check_cookie_name(self.session_cookie)
        except ValueError:
            raise ValueError(
                f"session_cookie must be a cookie name (an RFC 9110 token), "
                f"got {self.session_cookie!r}."
            ) from None
        max_age = self.max_age
        if max_age is not None and (type(max_age) is not int or max_age <= 0):
            raise ValueError(
                f"max_age must be a positive number of seconds or None, got {max_age!r}."
            )
        _check_attribute("path", self.path, leading_slash=True)
        if self.domain is not None:
            _check_attribute("domain", self.domain, leading_slash=False)
        https_only = _check_bool("https_only", self.https_only)
        partitioned = _check_bool("partitioned", self.partitioned)
        same_site = normalize_same_site(self.same_site)
        attributes: dict[str, Any] = {
            "path": self.path,
            "domain": self.domain,
            "secure": https_only,
            "http_only": True,
            "same_site": same_site,
            "partitioned": partitioned,
        }
        template = build_set_cookie(self.session_cookie, "", max_age=max_age, **attributes)
        if same_site == "None" and not https_only:
            raise ValueError(
                "same_site='none' needs https_only=True: browsers reject a SameSite=None "
                "cookie that is not Secure."
            )
        if partitioned and not https_only:
            raise ValueError(
                "partitioned=True needs https_only=True: browsers reject a Partitioned cookie "
                "that is not Secure."
            )
        if self.store is not None:
            _check_store(self.store)
            if not callable(self.new_id):
                raise TypeError(
                    f"new_id must be a function returning a session ID, got {self.new_id!r}."
                )
        if not callable(self.clock):
            raise TypeError(f"clock must be a function returning seconds, got {self.clock!r}.")
        codec = SessionCodec(self.secret_key, self.fallback_secret_keys)
        signature_max_age = DEFAULT_MAX_AGE if max_age is None else max_age
        prefix = self.session_cookie.encode("latin-1") + b"="
        set_ = object.__setattr__
        set_(self, "fallback_secret_keys", tuple(self.fallback_secret_keys))
        set_(self, "codec", codec)
        set_(self, "signature_max_age", signature_max_age)
        set_(self, "refresh_age", signature_max_age // 2)
        set_(self, "set_prefix", prefix)
        set_(self, "set_suffix", template[len(prefix) :])
        set_(self, "delete_cookie", build_delete_cookie(self.session_cookie, **attributes))


# What a session store must offer: a synchronous face (WSGI) and an asynchronous one (ASGI).
STORE_METHODS = (
    "get",
    "add",
    "update",
    "touch",
    "forward",
    "delete",
    "aget",
    "aadd",
    "aupdate",
    "atouch",
    "aforward",
    "adelete",
)


def _check_store(store: object) -> None:
    missing = [name for name in STORE_METHODS if not callable(getattr(store, name, None))]
    if missing:
        raise TypeError(
            "store must be a session store (middleware.stores.MemoryStore, RedisStore or a "
            f"middleware.stores.Store subclass), got {store!r}, which has no "
            f"{', '.join(missing)}."
        )


class EventKind(Enum):
    """What an adapter should log about a session."""

    BAD_COOKIE = "bad_cookie"
    DISCARDED = "discarded"
    LOST = "lost"
    OVERSIZE = "oversize"
    UNSERIALIZABLE = "unserializable"
    # With a store:
    STORE_FAILED = "store_failed"
    GONE = "gone"
    BAD_RECORD = "bad_record"
    MERGED = "merged"  # saved under the new ID of a session regenerated meanwhile
    DROPPED = "dropped"  # not saved: the session was regenerated meanwhile

    @property
    def level(self) -> int:
        """The ``logging`` level number to log it at: DEBUG, INFO, WARNING or ERROR."""
        return _LEVELS[self]


# logging.DEBUG, INFO, WARNING and ERROR, by number, so the core need not import logging.
_LEVELS = {
    EventKind.BAD_COOKIE: 10,
    EventKind.DISCARDED: 10,
    EventKind.LOST: 30,
    EventKind.OVERSIZE: 40,
    EventKind.UNSERIALIZABLE: 40,
    EventKind.STORE_FAILED: 40,
    EventKind.GONE: 20,
    EventKind.BAD_RECORD: 30,
    EventKind.MERGED: 20,
    EventKind.DROPPED: 30,
}


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """A log line for the adapter: ``logger.log(event.kind.level, event.message)``."""

    kind: EventKind
    message: str
    size: int | None = None
    reason: BadCookie | None = None

    @property
    def level(self) -> int:
        return self.kind.level


class SessionCommit(NamedTuple):
    """What a response carries, decided when its headers leave.

    - ``status``: the response's status (the app's, or 500 when ``body`` is set).
    - ``vary``: the response's new Vary value, to replace any Vary field it has; None leaves
      Vary as it is.
    - ``set_cookie``: a Set-Cookie field value to add (a new cookie or a deletion), or None.
    - ``body``: when not None, the session could not be saved (see ``events``): the app's
      response is replaced by a 500 with ``FAILURE_HEADERS`` and this body, and its body is
      discarded.
    - ``events``: what to log.
    - ``store``: with a server-side store, the operations to perform before the headers leave
      (``session_store.StoreOps``); None without a store or when the store is left alone.

    A named tuple rather than a frozen dataclass: one is built for every response that touched
    the session, and a tuple is several times cheaper to build.
    """

    status: int
    vary: bytes | None
    set_cookie: bytes | None
    body: bytes | None
    events: tuple[SessionEvent, ...]
    store: StoreOps | None = None


class _Phase(Enum):
    OPEN = "open"  # the response has not started: changes will be saved
    SENT = "sent"  # the response headers left: changes are lost
    READ_ONLY = "read_only"  # no response can carry a cookie (a websocket)


# A module global: reading an Enum member through its class costs more than the rest of
# Session.__init__.
_OPEN = _Phase.OPEN


def joined_cookie(source: bytes | Headers | None) -> bytes | None:
    """The request's Cookie header as one value (None when there is none)."""
    if source is None or isinstance(source, bytes):
        return source
    header = None
    for name, value in source:
        if name == _COOKIE:
            # RFC 9113 §8.2.3: HTTP/2 may split the Cookie header into several fields, which
            # are joined with "; " before they are read as one.
            header = value if header is None else header + b"; " + value
    return header


def signed_cookie(
    config: SessionConfig, source: bytes | Headers | None
) -> tuple[bytes, int] | BadCookie | None:
    """The session cookie's verified payload segment and timestamp, why it was refused, or
    None when the request has no session cookie.

    ``source`` is the Cookie header (bytes) or the request's header list. Both session kinds
    read their cookie here: data cookies and signed-ID cookies are signed alike.
    """
    header = joined_cookie(source)
    if header is None:
        return None
    values = cookie_values(header, config.session_cookie)
    if not values:
        return None
    if len(values) > 1:
        return BadCookie.SEVERAL
    # SessionCodec.decode's first step, without its result object: this is the hot path.
    return config.codec.unsign(
        values[0].encode("latin-1"), now=int(config.clock()), max_age=config.signature_max_age
    )


class Session(dict[str, Any]):
    """The session: a dict decoded on first touch, tracking reads (``accessed``) and changes.

    Every read (``[]``, ``get``, ``in``, ``len``, iteration, ``keys`` ...) decodes the cookie
    the first time and marks the session accessed; every change also marks it modified.
    Changes inside a value (``session["cart"].append(x)``) are not seen: assign the value again
    or set ``session.modified = True``. Starlette's ``request.session`` calls
    ``mark_accessed()``, which decodes it too.
    """

    __slots__ = (
        "_config",
        "_source",
        "_loaded",
        "_modified",
        "_phase",
        "_late",
        "_present",
        "_verified",
        "_reason",
        "_reason_reported",
    )

    def __init__(self, config: SessionConfig, cookie: bytes | Headers | None = None) -> None:
        # ``cookie`` is the raw Cookie header, or (ASGI) the request's header list, searched
        # only when the session is first touched. The other slots are set by _load(): a
        # session never touched costs four stores (this runs on every request).
        self._config = config
        self._source = cookie
        self._loaded = False
        self._phase = _OPEN

    @classmethod
    def read_only(cls, config: SessionConfig, cookie: bytes | Headers | None = None) -> Session:
        """A session on a connection that cannot set cookies (a websocket): it can be read,
        and ``close`` reports any change as not saved."""
        session = cls(config, cookie)
        session._phase = _Phase.READ_ONLY
        return session

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        self._loaded = True
        self._modified = self._present = self._late = self._reason_reported = False
        # The payload segment and timestamp of a valid incoming cookie.
        self._verified: tuple[bytes, int] | None = None
        self._reason: BadCookie | None = None
        verified = signed_cookie(self._config, self._source)
        if verified is None:
            return
        self._present = True
        if isinstance(verified, BadCookie):
            self._reason = verified
            return
        data = loads(verified[0])
        if isinstance(data, BadCookie):
            self._reason = data
            return
        self._verified = verified
        dict.update(self, data)

    def _change(self) -> None:
        if not self._loaded:
            self._load()
        self._modified = True
        if self._phase is not _OPEN:
            self._late = True

    # -- state -----------------------------------------------------------------------------

    @property
    def accessed(self) -> bool:
        """Whether the app read or changed the session (the response then varies on Cookie)."""
        return self._loaded

    @property
    def modified(self) -> bool:
        """Whether the app changed the session; set it after changing a value in place."""
        return self._loaded and self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if value:
            self._change_unseen()
        elif self._loaded:
            self._modified = False

    def mark_accessed(self) -> None:
        """Decode the session now (Starlette's ``request.session`` calls this)."""
        if not self._loaded:
            self._load()

    def mark_modified(self) -> None:
        """Mark the session changed, so it is saved."""
        self._change_unseen()

    def _change_unseen(self) -> None:
        # A change the dict could not see (inside a value). A cookie carries the whole session
        # anyway; a store session then compares every key with what it read.
        self._change()

    def regenerate(self) -> None:
        """Issue a fresh cookie for the same data (call it at login, against fixation).

        A cookie session has no ID to replace: it is re-signed with a new timestamp. With a
        server-side store the data moves to a new ID and the old one forwards to it briefly.
        """
        self._change()

    # -- reads -----------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if not self._loaded:
            self._load()
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        if not self._loaded:
            self._load()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        if not self._loaded:
            self._load()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        if not self._loaded:
            self._load()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        if not self._loaded:
            self._load()
        return dict.__len__(self)

    def get(self, key: str, default: Any = None) -> Any:
        if not self._loaded:
            self._load()
        return dict.get(self, key, default)

    def keys(self) -> dict_keys[str, Any]:
        if not self._loaded:
            self._load()
        return dict.keys(self)

    def values(self) -> dict_values[str, Any]:
        if not self._loaded:
            self._load()
        return dict.values(self)

    def items(self) -> dict_items[str, Any]:
        if not self._loaded:
            self._load()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A plain ``dict`` with the session's data."""
        if not self._loaded:
            self._load()
        return dict.copy(self)

    def __eq__(self, other: object) -> bool:
        if not self._loaded:
            self._load()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if not self._loaded:
            self._load()
        return dict.__ne__(self, other)

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        if not self._loaded:
            self._load()
        return dict.__or__(dict.copy(self), other)

    def __ror__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(other, dict):
            return NotImplemented
        if not self._loaded:
            self._load()
        return dict.__or__(dict(other), dict.copy(self))

    def __repr__(self) -> str:
        # Not a read: error reporters and wsgiref.validate format the whole environ or scope,
        # which must not decode the session and add Vary: Cookie.
        if not self._loaded:
            return f"<{type(self).__name__}, not decoded yet>"
        return f"{type(self).__name__}({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # copy, deepcopy and pickle give a plain dict: the per-request state is not data.
        return (dict, (self.copy(),))

    # -- changes ---------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self._change()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if not self._loaded:
            self._load()
        dict.__delitem__(self, key)
        self._change()

    def clear(self) -> None:
        """Empty the session; the response then deletes the cookie."""
        self._change()
        dict.clear(self)

    def pop(self, key: str, *default: Any) -> Any:
        if not self._loaded:
            self._load()
        if dict.__contains__(self, key):
            self._change()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        if not self._loaded:
            self._load()
        item = dict.popitem(self)
        self._change()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if not self._loaded:
            self._load()
        if not dict.__contains__(self, key):
            self._change()
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if not self._loaded:
            self._load()
        if args or kwargs:
            dict.update(self, *args, **kwargs)
            self._change()

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.update(other)
        return self


def _vary(vary: bytes | None) -> bytes | None:
    # RFC 9110 §12.5.5: the Vary header field "describes what parts of a request message,
    # aside from the method and URL, might have influenced the content of the response".
    if vary is None:
        return _VARY[0]
    merged = merge_vary([(b"vary", vary)], _VARY)
    return merged[0][1] if merged[0][1] != vary else None


def _bad_cookie_event(session: Session) -> tuple[SessionEvent, ...]:
    reason = session._reason
    if reason is None or session._reason_reported:
        return ()
    session._reason_reported = True
    name = session._config.session_cookie
    return (
        SessionEvent(
            EventKind.BAD_COOKIE,
            f"Ignored the {name!r} cookie ({reason.value}); the session starts empty.",
            reason=reason,
        ),
    )


def _commit(
    status: int,
    vary: bytes | None,
    set_cookie: bytes | None,
    events: tuple[SessionEvent, ...],
) -> SessionCommit:
    # tuple.__new__ directly: half the cost of the named tuple's generated __new__.
    return _new_tuple(SessionCommit, (status, vary, set_cookie, None, events, None))


_new_tuple = tuple.__new__


def _commit_with(
    status: int,
    vary: bytes | None,
    set_cookie: bytes | None,
    events: tuple[SessionEvent, ...],
    store: StoreOps | None,
) -> SessionCommit:
    return _new_tuple(SessionCommit, (status, vary, set_cookie, None, events, store))


def _failure(events: tuple[SessionEvent, ...], event: SessionEvent) -> SessionCommit:
    return SessionCommit(FAILURE_STATUS, None, None, FAILURE_BODY, (*events, event))


def respond(session: Session, status: int, vary: bytes | None = None) -> SessionCommit | None:
    """Decide what the response carries when its headers leave; None when nothing changes.

    ``vary`` is the response's Vary value (its fields joined with ", "), or None. Called at
    most once per response; after it, a change to the session can no longer reach the client
    and ``close`` reports it. A session the app has not touched needs nothing (``respond``
    returns None), so adapters may skip the call when ``session.accessed`` is False: a change
    made later is reported by ``close`` all the same.
    """
    if not session._loaded or session._phase is not _OPEN:
        return None
    session._phase = _Phase.SENT
    config = session._config
    events = () if session._reason is None else _bad_cookie_event(session)
    vary = _vary(vary)
    if status >= 500:
        # As Django: a failed request does not persist what it half did.
        if session._modified:
            events += (
                SessionEvent(
                    EventKind.DISCARDED,
                    f"Session changes not saved: the response status is {status}.",
                ),
            )
        return _commit(status, vary, None, events)
    if session._modified:
        if not dict.__len__(session):
            cookie = config.delete_cookie if session._present else None
            return _commit(status, vary, cookie, events)
        try:
            payload = dumps(dict.copy(session))
        except UnserializableSession as exc:
            return _failure(
                events,
                SessionEvent(
                    EventKind.UNSERIALIZABLE,
                    f"Session data cannot be saved as JSON ({exc}); the request fails "
                    "rather than losing the session.",
                ),
            )
        now = int(config.clock())
    else:
        verified = session._verified
        now = int(config.clock())
        if verified is None or now - verified[1] <= config.refresh_age:
            return _commit(status, vary, None, events)
        # Re-signing the payload as it came keeps an active user signed in; the data is not
        # encoded again.
        payload = verified[0]
    cookie = config.set_prefix + config.codec.sign(payload, now=now) + config.set_suffix
    if len(cookie) > MAX_COOKIE_SIZE:
        return _failure(
            events,
            SessionEvent(
                EventKind.OVERSIZE,
                f"Session cookie {config.session_cookie!r} would be {len(cookie)} bytes, "
                f"over the {MAX_COOKIE_SIZE}-byte limit browsers keep; the request fails "
                "rather than losing the session. Keep less in the session, or keep it "
                "server-side with store=.",
                size=len(cookie),
            ),
        )
    return _commit(status, vary, cookie, events)


def apply(commit: SessionCommit, headers: Headers) -> Headers:
    """``headers`` (a response's, never changed) with ``commit`` applied, as a new list.

    With ``commit.body`` set, the app's headers are replaced by a plain text answer's
    (``FAILURE_HEADERS`` for the 500, the same with its own length for a store's 503).
    """
    if commit.body is not None:
        return plain_headers(commit.body)
    if commit.vary is not None:
        headers = [(name, value) for name, value in headers if name != b"vary"]
        headers.append((b"vary", commit.vary))
    else:
        headers = list(headers)
    if commit.set_cookie is not None:
        headers.append((_SET_COOKIE, commit.set_cookie))
    return headers


def close(session: Session) -> tuple[SessionEvent, ...]:
    """What to log once the response is over: a change that came too late, a bad cookie
    read after the response started (or on a connection with no response, a websocket)."""
    if not session._loaded:
        return ()
    events = _bad_cookie_event(session)
    phase = session._phase
    # Still OPEN after the response: respond() never ran on a touched session, so every
    # change came after the headers (the session was first touched after they left).
    if session._late or (phase is _OPEN and session._modified):
        session._late = session._modified = False
        if phase is not _Phase.READ_ONLY:
            message = "Session changed after the response headers were sent; the change is lost."
        else:
            message = (
                "Session changed on a connection that cannot set cookies (a websocket); "
                "the change is not saved."
            )
        events += (SessionEvent(EventKind.LOST, message),)
    return events

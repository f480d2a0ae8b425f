"""Signed cookie sessions: a lazy session object that decides the response's Set-Cookie.

    config = SessionConfig(secret_key="s3cret", clock=time.time)
    session = Session(config, cookie_header)          # nothing is parsed yet
    session["user"] = 42                               # the app: decoded here, on first touch
    commit = session.respond(200, vary)                # when the headers leave
    headers = commit.apply(response_headers)           # or send commit.answer in their place
    events = session.close()                           # after the body: lost changes, bad cookies

``SessionConfig`` takes SessionMiddleware's options, validates them and precomputes everything
that does not depend on a request: the signing keys (``session_codec.SessionCodec``), the
Set-Cookie attributes, the deletion header. ``Session`` is a ``dict`` (so ``json.dumps`` and
Starlette's ``request.session`` work on it) that decodes the Cookie header only when the app
first touches it, and records whether it was read and changed. ``respond`` decides what the
response carries (a ``SessionCommit``): ``Vary: Cookie`` when the session was read; a
Set-Cookie only when it changed, or when it was read and its signature is older than half of
``max_age`` (so active users stay signed in); a deletion when it was emptied; nothing at all on
a 5xx; and a whole 500 answer in place of the app's response when the cookie would be too large
for a browser to keep. ``close`` reports a change made after the headers left, which no cookie
can carry any more.

Options (``SessionConfig``, the same as Starlette's SessionMiddleware plus two):

- ``secret_key`` (required) and ``fallback_secret_keys=()``: see ``session_codec``.
- ``session_cookie="session"``: the cookie name.
- ``max_age=1_209_600`` (14 days): the cookie's Max-Age and the signature's lifetime.
  ``None`` makes a browser-session cookie (no Max-Age); the signature still expires after
  14 days, refreshed like any other, so a stolen cookie does not stay valid forever.
- ``path="/"``, ``domain=None``, ``same_site="lax"``, ``https_only=False`` (Secure),
  ``partitioned=False`` (CHIPS): the cookie's attributes; httponly is always set. The
  Set-Cookie line and the deletion cookie are spelled and ordered exactly as Starlette's
  SessionMiddleware writes them (``cookies.starlette_set_cookie``).
- ``store=None``: a server-side store (``middleware.stores``); the cookie then carries only a
  signed session ID and ``middleware.core.session_store`` makes the decisions.
- ``clock``: a function returning seconds since the epoch (``time.time``), injected by the
  adapter so the core never reads the clock itself; ``new_id`` (with a store): a function
  returning a fresh random session ID, injected for the same reason.

Bad cookies (tampered, signed with an unknown key, expired, truncated, garbage, several
``session=`` cookies) never raise: the session starts empty and ``respond`` returns an event
naming the reason, for a DEBUG log line.

Server-side stores (``store=``) are ``middleware.core.session_store``: ``StoredSession``, a
``Session`` whose cookie is a signed session ID and whose data comes from the store, and whose
``respond`` also returns the store operations for the adapter to perform before the headers
leave.

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
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from .cookies import (
    check_cookie_name,
    cookie_values,
    normalize_same_site,
    starlette_delete_cookie,
    starlette_set_cookie,
)
from .headers import Headers, merge_vary, replace
from .responses import Response, plain
from .session_codec import (
    MAX_TOKEN_LENGTH,
    BadCookie,
    SessionCodec,
    UnserializableSession,
    dumps,
    loads,
)
from .session_records import Saved, StoreError, StoreOps

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = [
    "FAILURE",
    "MAX_COOKIE_SIZE",
    "BadCookie",
    "EventKind",
    "Phase",
    "Session",
    "SessionCommit",
    "SessionConfig",
    "SessionEvent",
    "vary_with_cookie",
]

# RFC 6265 §6.1: "At least 4096 bytes per cookie (as measured by the sum of the length of the
# cookie's name, value, and attributes)." Browsers drop a larger cookie without a word, which
# signs the user out; the whole Set-Cookie value is measured, as the RFC does.
MAX_COOKIE_SIZE = MAX_TOKEN_LENGTH

DEFAULT_MAX_AGE = 1_209_600

# The answer when the session cannot be saved (too large, not JSON): the request fails rather
# than losing the session.
FAILURE = plain(500, b"Internal Server Error")

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
        attributes = self._cookie_attributes()
        # SPEC: the Set-Cookie line and the deletion cookie are spelled and ordered exactly
        # as Starlette's SessionMiddleware writes them (see cookies.starlette_set_cookie).
        name = self.session_cookie
        template = starlette_set_cookie(name, "", max_age=self.max_age, **attributes)
        if attributes["same_site"].lower() == "none" and not self.https_only:
            raise ValueError(
                "same_site='none' needs https_only=True: browsers reject a SameSite=None "
                "cookie that is not Secure."
            )
        if self.partitioned and not self.https_only:
            raise ValueError(
                "partitioned=True needs https_only=True: browsers reject a Partitioned cookie "
                "that is not Secure."
            )
        self._check_functions()
        codec = SessionCodec(self.secret_key, self.fallback_secret_keys)
        signature_max_age = DEFAULT_MAX_AGE if self.max_age is None else self.max_age
        prefix = self.session_cookie.encode("latin-1") + b"="
        set_ = object.__setattr__
        set_(self, "fallback_secret_keys", tuple(self.fallback_secret_keys))
        set_(self, "codec", codec)
        set_(self, "signature_max_age", signature_max_age)
        set_(self, "refresh_age", signature_max_age // 2)
        set_(self, "set_prefix", prefix)
        set_(self, "set_suffix", template[len(prefix) :])
        set_(self, "delete_cookie", starlette_delete_cookie(name, **attributes))

    def _cookie_attributes(self) -> dict[str, Any]:
        """The cookie's attributes, each option checked, as ``starlette_set_cookie`` takes
        them (``same_site`` as given: Starlette writes it so)."""
        try:
            check_cookie_name(self.session_cookie)
        except ValueError:
            raise ValueError(
                f"session_cookie must be a cookie name (an RFC 9110 token), "
                f"got {self.session_cookie!r}."
            ) from None
        max_age = self.max_age
        # Starlette accepts 0 or -1, with which no session survives a request (RFC 6265
        # §5.2.2: the browser drops the cookie at once; with -1 the signature is already
        # expired too), silently. Elsewhere -1
        # (Java's Cookie.setMaxAge) and 0 (PHP's session.cookie_lifetime) mean "until the
        # browser closes", which is None here: the mistake shows at start-up instead.
        if max_age is not None and (type(max_age) is not int or max_age <= 0):
            raise ValueError(
                f"max_age must be a positive number of seconds, or None for a cookie that "
                f"lasts until the browser closes, got {max_age!r}."
            )
        _check_attribute("path", self.path, leading_slash=True)
        if self.domain is not None:
            _check_attribute("domain", self.domain, leading_slash=False)
        normalize_same_site(self.same_site)
        return {
            "path": self.path,
            "domain": self.domain,
            "secure": _check_bool("https_only", self.https_only),
            "partitioned": _check_bool("partitioned", self.partitioned),
            "same_site": self.same_site,
        }

    def _check_functions(self) -> None:
        """The store, and the functions the adapter injects."""
        if self.store is not None:
            _check_store(self.store)
            if not callable(self.new_id):
                raise TypeError(
                    f"new_id must be a function returning a session ID, got {self.new_id!r}."
                )
        if not callable(self.clock):
            raise TypeError(f"clock must be a function returning seconds, got {self.clock!r}.")


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
    """What a response carries, decided by ``Session.respond`` when its headers leave.

    - ``vary``: the response's new Vary value, to replace any Vary field it has; None leaves
      Vary as it is.
    - ``set_cookie``: a Set-Cookie field value to add (a new cookie or a deletion), or None.
    - ``events``: what to log.
    - ``answer``: when not None, the session could not be saved (see ``events``): this whole
      response (a 500, or a store's 503) is sent in place of the app's, whose body is
      discarded.
    - ``store``: with a server-side store, the operations to perform before the headers leave
      (``StoredSession.settle`` then gives the final commit); None without a store or when the
      store is left alone.

    A named tuple rather than a frozen dataclass: one is built for every response that touched
    the session, and a tuple is about half as costly to build.
    """

    vary: bytes | None
    set_cookie: bytes | None
    events: tuple[SessionEvent, ...] = ()
    answer: Response | None = None
    store: StoreOps | None = None

    def apply(self, headers: Headers) -> Headers:
        """``headers`` (a response's, never changed) with this commit applied, as a new list:
        the Vary fields coalesced into one with the new value, in place of the first (as
        ``merge_vary`` does), then the Set-Cookie."""
        applied = list(headers) if self.vary is None else replace(headers, b"vary", self.vary)
        if self.set_cookie is not None:
            applied.append((b"set-cookie", self.set_cookie))
        return applied


class Phase(Enum):
    """Where a session is in its response."""

    OPEN = "open"  # the response has not started: changes will be saved
    SENT = "sent"  # the response headers left: changes are lost
    READ_ONLY = "read_only"  # no response can carry a cookie (a websocket)


# Phase.OPEN, looked up once: reading an Enum member through its class costs about 0.05 µs on
# Python 3.11, and the phase is checked several times in every request that touches the session
# (and set in every Session()).
_OPEN = Phase.OPEN


def vary_with_cookie(vary: bytes | None) -> bytes | None:
    """The Vary value of a response whose session was read (None: ``vary`` already covers
    Cookie, or is ``*``).

    RFC 9110 §12.5.5: the Vary header field "describes what parts of a request message, aside
    from the method and URL, might have influenced the content of the response".
    """
    if vary is None:
        return b"Cookie"
    merged = merge_vary([(b"vary", vary)], (b"Cookie",))
    return merged[0][1] if merged[0][1] != vary else None


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


class Session(dict[str, Any]):
    """The session: a dict decoded on first touch, tracking reads (``accessed``) and changes.

    Every read (``[]``, ``get``, ``in``, ``len``, iteration, ``keys`` ...) decodes the cookie
    the first time and marks the session accessed; every change also marks it modified.
    Changes inside a value (``session["cart"].append(x)``) are not seen: assign the value again
    or set ``session.modified = True``. Starlette's ``request.session`` calls
    ``mark_accessed()``, which decodes it too.

    The adapter asks ``respond`` once, when the response's headers leave (with a store, it
    performs the commit's ``store`` operations and hands their outcome to ``settle``), and
    ``close`` once the response is over. ``store_failed`` tells a store's failure that the app
    let through from a crash.
    """

    __slots__ = (
        "_config",
        "_source",
        "_loaded",
        "touched",
        "_modified",
        "_phase",
        "_late",
        "_present",
        "_verified",
        "_unreported",
    )

    def __init__(self, config: SessionConfig, cookie: bytes | Headers | None = None) -> None:
        # ``cookie`` is the raw Cookie header, or (ASGI) the request's header list, searched
        # only when the session is first touched. The other slots are set by _load(): a
        # session never touched costs four stores (this runs on every request).
        self._config = config
        self._source = cookie
        self._loaded = False
        # Whether ``respond`` has anything to decide: the app read or changed the session
        # (adapters skip reading the response's Vary otherwise). A plain attribute, not a
        # property: adapters read it twice per request.
        self.touched = False
        self._phase = _OPEN

    @classmethod
    def read_only(cls, config: SessionConfig, cookie: bytes | Headers | None = None) -> Self:
        """A session on a connection that cannot set cookies (a websocket): it can be read,
        and ``close`` reports any change as not saved."""
        session = cls(config, cookie)
        session._phase = Phase.READ_ONLY
        return session

    # -- loading -------------------------------------------------------------------------

    def _load(self) -> None:
        self._loaded = self.touched = True
        self._modified = self._present = self._late = False
        # The payload segment and timestamp of a valid incoming cookie.
        self._verified: tuple[bytes, int] | None = None
        # What loading found that is worth a log line, until it is reported.
        self._unreported: tuple[SessionEvent, ...] = ()
        verified = self._signed_cookie()
        if verified is None:
            return
        data = loads(verified[0])
        if isinstance(data, BadCookie):
            self._refuse_cookie(data)
            return
        self._verified = verified
        dict.update(self, data)

    def _signed_cookie(self) -> tuple[bytes, int] | None:
        """The request's session cookie, its signature checked: the payload segment and the
        timestamp, or None when there is none (``_present`` says whether there was one) or
        it was refused (an event says why).

        Both session kinds read their cookie here: data cookies and signed-ID cookies are
        signed alike.
        """
        config = self._config
        header = joined_cookie(self._source)
        if header is None:
            return None
        values = cookie_values(header, config.session_cookie)
        if not values:
            return None
        self._present = True
        if len(values) > 1:
            self._refuse_cookie(BadCookie.SEVERAL)
            return None
        # SessionCodec.decode's first step, without its result object: this is the hot path.
        verified = config.codec.unsign(
            values[0].encode("latin-1"), now=int(config.clock()), max_age=config.signature_max_age
        )
        if isinstance(verified, BadCookie):
            self._refuse_cookie(verified)
            return None
        return verified

    def _refuse_cookie(self, reason: BadCookie) -> None:
        """The session starts empty: the cookie was not valid (an event says why)."""
        name = self._config.session_cookie
        message = f"Ignored the {name!r} cookie ({reason.value}); the session starts empty."
        self._unreported = (SessionEvent(EventKind.BAD_COOKIE, message, reason=reason),)

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

    # -- the response ----------------------------------------------------------------------

    def respond(self, status: int, vary: bytes | None = None) -> SessionCommit | None:
        """Decide what the response carries when its headers leave; None when nothing changes.

        ``vary`` is the response's Vary value (its fields joined with ", "), or None. Called at
        most once per response; after it, a change to the session can no longer reach the
        client and ``close`` reports it. A session the app has not touched needs nothing
        (``respond`` returns None), so adapters may skip the call when ``touched`` is False: a
        change made later is reported by ``close`` all the same.
        """
        if not self._loaded or self._phase is not _OPEN:
            return None
        self._phase = Phase.SENT
        events = self._unreported
        self._unreported = ()
        vary = vary_with_cookie(vary)
        if status >= 500:
            # As Django: a failed request does not persist what it half did.
            if self._modified:
                message = f"Session changes not saved: the response status is {status}."
                events += (SessionEvent(EventKind.DISCARDED, message),)
            return SessionCommit(vary, None, events)
        return self._decide(vary, events)

    def _decide(self, vary: bytes | None, events: tuple[SessionEvent, ...]) -> SessionCommit:
        """``respond`` for a response that may save the session (not a 5xx)."""
        config = self._config
        if self._modified:
            if not dict.__len__(self):
                return SessionCommit(vary, config.delete_cookie if self._present else None, events)
            try:
                payload = dumps(dict.copy(self))
            except UnserializableSession as exc:
                return self._unserializable(events, exc)
            now = int(config.clock())
        else:
            verified = self._verified
            now = int(config.clock())
            if verified is None or now - verified[1] <= config.refresh_age:
                return SessionCommit(vary, None, events)
            # Re-signing the payload as it came keeps an active user signed in; the data is
            # not encoded again.
            payload = verified[0]
        cookie = config.set_prefix + config.codec.sign(payload, now=now) + config.set_suffix
        if len(cookie) > MAX_COOKIE_SIZE:
            message = (
                f"Session cookie {config.session_cookie!r} would be {len(cookie)} bytes, over "
                f"the {MAX_COOKIE_SIZE}-byte limit browsers keep; the request fails rather "
                "than losing the session. Keep less in the session, or keep it server-side "
                "with store=."
            )
            event = SessionEvent(EventKind.OVERSIZE, message, size=len(cookie))
            return SessionCommit(None, None, (*events, event), answer=FAILURE)
        return SessionCommit(vary, cookie, events)

    def _unserializable(
        self, events: tuple[SessionEvent, ...], error: UnserializableSession
    ) -> SessionCommit:
        message = (
            f"Session data cannot be saved as JSON ({error}); the request fails rather than "
            "losing the session."
        )
        event = SessionEvent(EventKind.UNSERIALIZABLE, message)
        return SessionCommit(None, None, (*events, event), answer=FAILURE)

    def settle(self, commit: SessionCommit, outcome: Saved | StoreError) -> SessionCommit:
        """The final commit once the store performed ``commit.store`` (``StoredSession``).

        A cookie session's commits ask nothing of a store, so there is nothing to settle:
        ``commit`` as it is. (Adapters call it only when ``commit.store`` is not None.)
        """
        return commit

    def store_failed(self, error: BaseException | None) -> bool:
        """Whether ``error``, raised out of the app, is this session's store failure: not a
        crash, but the 503 that ``respond`` answers. Never, without a store."""
        return False

    def close(self) -> tuple[SessionEvent, ...]:
        """What to log once the response is over: a change that came too late, a bad cookie
        read after the response started (or on a connection with no response, a websocket)."""
        if not self._loaded:
            return ()
        events = self._unreported
        self._unreported = ()
        phase = self._phase
        # Still OPEN after the response: respond() never ran on a touched session, so every
        # change came after the headers (the session was first touched after they left).
        if self._late or (phase is _OPEN and self._modified):
            self._late = self._modified = False
            if phase is not Phase.READ_ONLY:
                message = (
                    "Session changed after the response headers were sent; the change is lost."
                )
            else:
                message = (
                    "Session changed on a connection that cannot set cookies (a websocket); "
                    "the change is not saved."
                )
            events += (SessionEvent(EventKind.LOST, message),)
        return events

"""Cookie and Set-Cookie, as RFC 6265 writes them.

    >>> parse_cookies(b"a=1; session=abc; a=2")
    [('a', '1'), ('session', 'abc'), ('a', '2')]
    >>> build_set_cookie("session", "abc", max_age=60, same_site="lax")
    b'session=abc; Max-Age=60; Path=/; HttpOnly; SameSite=Lax'
    >>> starlette_set_cookie("session", "abc", path="/", max_age=60, same_site="lax")
    b'session=abc; path=/; Max-Age=60; httponly; samesite=lax'

Parsing is lenient (a browser's Cookie header is what it is; malformed pairs are skipped) and
keeps duplicates, so a caller can tell one ``session=`` from several. Building is strict: a name
or value that RFC 6265 does not allow raises ValueError, because it comes from configuration or
from the application, never from the client.

Building comes in two spellings. ``build_set_cookie`` and ``build_delete_cookie`` write RFC
6265's (``Path=``, ``HttpOnly``, ``SameSite=Lax``). ``starlette_set_cookie`` and
``starlette_delete_cookie`` write the session cookie exactly as Starlette's SessionMiddleware
does, attribute names lower-case and in its order, so that a test suite written against
Starlette passes unchanged; the session middleware uses these. Browsers read both alike: RFC
6265 §5.2 matches attribute names case-insensitively and in any order.
"""

from __future__ import annotations

from .headers import is_token

# RFC 6265 §4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
_COOKIE_OCTETS = frozenset(
    [0x21, *range(0x23, 0x2C), *range(0x2D, 0x3B), *range(0x3C, 0x5C), *range(0x5D, 0x7F)]
)
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
# What Starlette's SessionMiddleware writes as the value of the cookie that deletes a session.
STARLETTE_DELETED_VALUE = "null"


def parse_cookies(header: bytes) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a Cookie header, in order, duplicates kept.

    RFC 6265 §5.4 leaves the server to split on ";" and the first "="; a surrounding pair of
    DQUOTEs is part of the grammar (§4.1.1) and is removed. Bytes outside ASCII are decoded
    as latin-1 so that nothing here can raise on a client's input.
    """
    out: list[tuple[str, str]] = []
    for part in header.decode("latin-1").split(";"):
        name, eq, value = part.partition("=")
        name = name.strip(" \t")
        if not eq or not name:
            continue
        value = value.strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out.append((name, value))
    return out


def cookie_values(header: bytes | None, name: str) -> list[str]:
    """Every value the Cookie header gives for ``name`` (usually zero or one)."""
    if not header or name.encode("latin-1") not in header:
        return []
    return [value for key, value in parse_cookies(header) if key == name]


def check_cookie_name(name: str) -> str:
    """Return ``name`` if it is a valid cookie name (an RFC 9110 token), else raise ValueError."""
    if not isinstance(name, str) or not is_token(name.encode("latin-1", "replace")):
        raise ValueError(f"A cookie name must be a non-empty token, got {name!r}.")
    return name


def build_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: str | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    http_only: bool = True,
    same_site: str | None = None,
    partitioned: bool = False,
) -> bytes:
    """A Set-Cookie field value.

    ``max_age=None`` makes a browser-session cookie. ``same_site`` is "lax", "strict" or
    "none" (any case). ``partitioned`` adds CHIPS' ``Partitioned`` attribute, which browsers
    only accept together with ``Secure``.
    """
    parts = [_pair(name, value)]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        parts.append(f"Expires={expires}")
    if path is not None:
        parts.append(f"Path={path}")
    if domain is not None:
        parts.append(f"Domain={domain}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if same_site is not None:
        parts.append(f"SameSite={normalize_same_site(same_site)}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts).encode("latin-1")


def build_delete_cookie(name: str, **attributes: object) -> bytes:
    """A Set-Cookie value that makes the browser drop ``name`` at once.

    RFC 6265 §5.3 step 11: a cookie whose expiry is in the past is evicted; both Max-Age=0 and
    a 1970 Expires are sent, for clients that only know one of them. The Path and Domain must
    match the ones the cookie was set with.
    """
    return build_set_cookie(name, "", max_age=0, expires=_EPOCH, **attributes)  # type: ignore[arg-type]


def starlette_set_cookie(
    name: str,
    value: str,
    *,
    path: str,
    max_age: int | None,
    same_site: str,
    secure: bool = False,
    domain: str | None = None,
    partitioned: bool = False,
) -> bytes:
    """A Set-Cookie field value spelled and ordered as Starlette's SessionMiddleware writes it.

    Starlette 1.10 (``starlette/middleware/sessions.py``) writes
    ``{name}={value}; path={path}; Max-Age={max_age}; httponly; samesite={same_site}``, then
    ``; secure``, ``; domain={domain}`` and ``; partitioned`` when set; ``max_age=None`` leaves
    out Max-Age (a browser-session cookie). ``same_site`` is written as given (Starlette does
    not change its case): check it with ``normalize_same_site`` first.
    """
    max_age_part = "" if max_age is None else f"Max-Age={int(max_age)}; "
    head = f"{_pair(name, value)}; path={path}; {max_age_part}"
    return (head + _starlette_flags(same_site, secure, domain, partitioned)).encode("latin-1")


def starlette_delete_cookie(
    name: str,
    *,
    path: str,
    same_site: str,
    secure: bool = False,
    domain: str | None = None,
    partitioned: bool = False,
) -> bytes:
    """The Set-Cookie value that deletes a session, as Starlette's SessionMiddleware writes it:
    ``{name}=null; path={path}; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; ...``.

    RFC 6265 §5.3: the new cookie replaces the stored one with the same name, domain and path
    (step 11), and "the user agent MUST evict all expired cookies"; an Expires in the past is
    understood by every client (Max-Age is the newer attribute). The path, domain and flags are
    the cookie's own, so the deletion names the very cookie it replaces.
    """
    head = f"{_pair(name, STARLETTE_DELETED_VALUE)}; path={path}; expires={_EPOCH}; "
    return (head + _starlette_flags(same_site, secure, domain, partitioned)).encode("latin-1")


def _starlette_flags(same_site: str, secure: bool, domain: str | None, partitioned: bool) -> str:
    """Starlette's ``security_flags``: what follows Max-Age (or expires) in its cookies."""
    flags = "httponly; samesite=" + same_site
    if secure:
        flags += "; secure"
    if domain is not None:
        flags += f"; domain={domain}"
    if partitioned:
        flags += "; partitioned"
    return flags


def _pair(name: str, value: str) -> str:
    """``name=value``, or ValueError when RFC 6265 §4.1.1 does not allow either."""
    check_cookie_name(name)
    if any(ord(char) not in _COOKIE_OCTETS for char in value):
        raise ValueError(f"A cookie value may only hold RFC 6265 cookie-octets, got {value!r}.")
    return f"{name}={value}"


def normalize_same_site(value: str) -> str:
    """The canonical spelling of a SameSite value, or ValueError naming the bad one."""
    try:
        return _SAME_SITE[value.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"same_site must be 'lax', 'strict' or 'none', got {value!r}.") from None

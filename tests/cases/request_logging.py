"""Request logging case tables, shared by the core tests and the parity tests.

Plain data: the request as a client sends it (header pairs as latin-1 text), and what the
access log or the response must show. The core tests feed the values to the core directly;
the parity tests send the same requests through the WSGI and the ASGI class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

Pairs = tuple[tuple[str, str], ...]

NEW_ID = r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}"  # a fresh uuid4().hex


def params(cases: list[Any]) -> list[Any]:
    """``pytest.param`` objects carrying the cases' ids."""
    return [pytest.param(case, id=case.id) for case in cases]


@dataclass(frozen=True, kw_only=True)
class RequestIdCase:
    """An incoming request ID and the ID the response (and the record) must carry.

    ``kept`` is the incoming value when it must be kept, None when a new ID must be made.
    ``app_headers`` are response headers the app sets itself.
    """

    id: str
    headers: Pairs = ()
    trust: bool = True
    app_headers: Pairs = ()
    kept: str | None


REQUEST_ID_CASES = [
    RequestIdCase(id="absent-new", kept=None),
    RequestIdCase(
        id="uuid-kept",
        headers=(("X-Request-ID", "7f0c3b4e-2a51-4c1e-9d3a-5b6f7e8d9c0a"),),
        kept="7f0c3b4e-2a51-4c1e-9d3a-5b6f7e8d9c0a",
    ),
    RequestIdCase(
        id="nginx-hex-kept",
        headers=(("X-Request-ID", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),),
        kept="0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ),
    RequestIdCase(
        id="visible-ascii-kept",
        headers=(("X-Request-ID", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"),),
        kept="!#$%&'()*+,-./:;<=>?@[]^_`{|}~",
    ),
    RequestIdCase(
        id="quote-and-backslash-kept",
        headers=(("X-Request-ID", 'a"b\\c'),),
        kept='a"b\\c',
    ),
    RequestIdCase(
        id="header-name-case-insensitive", headers=(("x-request-id", "abc"),), kept="abc"
    ),
    RequestIdCase(id="200-chars-kept", headers=(("X-Request-ID", "a" * 200),), kept="a" * 200),
    RequestIdCase(id="201-chars-new", headers=(("X-Request-ID", "a" * 201),), kept=None),
    RequestIdCase(id="empty-new", headers=(("X-Request-ID", ""),), kept=None),
    RequestIdCase(id="space-new", headers=(("X-Request-ID", "a b"),), kept=None),
    RequestIdCase(id="tab-new", headers=(("X-Request-ID", "a\tb"),), kept=None),
    RequestIdCase(id="crlf-new", headers=(("X-Request-ID", "a\r\nSet-Cookie: x=1"),), kept=None),
    RequestIdCase(id="esc-new", headers=(("X-Request-ID", "\x1b[2Jabc"),), kept=None),
    RequestIdCase(id="nul-new", headers=(("X-Request-ID", "a\x00b"),), kept=None),
    RequestIdCase(id="del-new", headers=(("X-Request-ID", "a\x7fb"),), kept=None),
    RequestIdCase(id="latin1-new", headers=(("X-Request-ID", "caf\xe9"),), kept=None),
    # Repeated lines are one value: joined by "," by gunicorn and by the ASGI adapter, by ", " by
    # waitress; whitespace beside a comma is list syntax, so every server gives "one,two".
    RequestIdCase(
        id="repeated-lines-joined-kept",
        headers=(("X-Request-ID", "one"), ("X-Request-ID", "two")),
        kept="one,two",
    ),
    RequestIdCase(
        id="waitress-join-kept-without-the-space",
        headers=(("X-Request-ID", "one, two"),),
        kept="one,two",
    ),
    RequestIdCase(
        id="whitespace-beside-commas-dropped",
        headers=(("X-Request-ID", "one \t,\t two,three"),),
        kept="one,two,three",
    ),
    RequestIdCase(
        id="space-not-beside-a-comma-new", headers=(("X-Request-ID", "o ne,two"),), kept=None
    ),
    RequestIdCase(
        id="untrusted-new",
        headers=(("X-Request-ID", "abc"),),
        trust=False,
        kept=None,
    ),
    RequestIdCase(
        id="app-header-replaced-by-kept",
        headers=(("X-Request-ID", "abc"),),
        app_headers=(("X-Request-ID", "from-app"),),
        kept="abc",
    ),
    RequestIdCase(
        id="app-header-replaced-by-new",
        app_headers=(("x-request-id", "from-app"), ("X-Request-Id", "again")),
        kept=None,
    ),
]


@dataclass(frozen=True, kw_only=True)
class InjectionCase:
    """A hostile value and how each format must write it.

    ``path`` is the decoded path as the server presents it; ``combined`` and ``json`` are
    exact fragments of the lines. ``request_id`` is the ID the record must carry, None when
    the incoming one must be refused for a new one.
    """

    id: str
    path: str = "/"
    query: str = ""
    headers: Pairs = ()
    combined: str
    json: str
    request_id: str | None = None


_UA = "User-Agent"
_REF = "Referer"
_RID = "X-Request-ID"

INJECTION_CASES = [
    InjectionCase(
        id="path-crlf",
        path='/a\r\n127.0.0.1 - - [01/Jan/2000:00:00:00 +0000] "GET /admin',
        combined='"GET /a%0D%0A127.0.0.1%20-%20-%20%5B01/Jan/2000:00:00:00%20+0000%5D'
        '%20%22GET%20/admin HTTP/1.1"',
        json='"path":"/a%0D%0A127.0.0.1%20-%20-%20%5B01/Jan/2000:00:00:00%20+0000%5D'
        '%20%22GET%20/admin"',
    ),
    InjectionCase(
        id="path-esc-quote-backslash",
        path='/\x1b[31m"\\',
        combined='"GET /%1B%5B31m%22%5C HTTP/1.1"',
        json='"path":"/%1B%5B31m%22%5C"',
    ),
    InjectionCase(
        id="path-non-ascii",
        path="/caf\xe9",
        combined='"GET /caf%C3%A9 HTTP/1.1"',
        json='"path":"/caf%C3%A9"',
    ),
    InjectionCase(
        id="query-quote-and-control",
        path="/q",
        query='a="b"\\%0D',
        combined='"GET /q?a=\\"b\\"\\\\%0D HTTP/1.1"',
        json='"query":"a=\\"b\\"\\\\%0D"',
    ),
    InjectionCase(
        id="query-raw-esc-and-newline",
        path="/q",
        query="a=\x1b[0m&b=\n",
        combined='"GET /q?a=\\x1b[0m&b=\\n HTTP/1.1"',
        json='"query":"a=\\u001b[0m&b=\\n"',
    ),
    InjectionCase(
        id="user-agent-crlf",
        headers=((_UA, 'x"\r\n1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 "-" "y'),),
        combined='"x\\"\\r\\n1.2.3.4 - - [x] \\"GET / HTTP/1.1\\" 200 1 \\"-\\" \\"y"',
        json='"user_agent":"x\\"\\r\\n1.2.3.4 - - [x] \\"GET / HTTP/1.1\\" 200 1 \\"-\\" \\"y"',
    ),
    InjectionCase(
        id="user-agent-esc-sequence",
        headers=((_UA, "\x1b]0;pwned\x07\x1b[2J"),),
        combined='"\\x1b]0;pwned\\x07\\x1b[2J"',
        json='"user_agent":"\\u001b]0;pwned\\u0007\\u001b[2J"',
    ),
    InjectionCase(
        id="user-agent-nul-del-backspace",
        headers=((_UA, "a\x00b\x7fc\bd\te\vf"),),
        combined='"a\\x00b\\x7fc\\bd\\te\\vf"',
        json='"user_agent":"a\\u0000b\\u007fc\\bd\\te\\u000bf"',
    ),
    InjectionCase(
        id="user-agent-backslash",
        headers=((_UA, "C:\\path\\x41"),),
        combined='"C:\\\\path\\\\x41"',
        json='"user_agent":"C:\\\\path\\\\x41"',
    ),
    InjectionCase(
        id="user-agent-latin1-bytes",
        headers=((_UA, "caf\xc3\xa9 \x85 \xff"),),
        combined='"caf\\xc3\\xa9 \\x85 \\xff"',
        json='"user_agent":"caf\\u00c3\\u00a9 \\u0085 \\u00ff"',
    ),
    InjectionCase(
        id="referer-crlf-and-quote",
        headers=((_REF, 'https://evil.example/"\r\nforged'),),
        combined='"https://evil.example/\\"\\r\\nforged"',
        json='"referer":"https://evil.example/\\"\\r\\nforged"',
    ),
    InjectionCase(
        id="referer-esc",
        headers=((_REF, "\x1b[1mbold"),),
        combined='"\\x1b[1mbold"',
        json='"referer":"\\u001b[1mbold"',
    ),
    InjectionCase(
        id="request-id-crlf-refused",
        headers=((_RID, "abc\r\nforged"),),
        combined='"GET / HTTP/1.1"',
        json='"request_id":"',
    ),
    InjectionCase(
        id="request-id-esc-refused",
        headers=((_RID, "\x1b[31mred"),),
        combined='"GET / HTTP/1.1"',
        json='"request_id":"',
    ),
    InjectionCase(
        id="request-id-quote-backslash-escaped",
        headers=((_RID, 'id"},{"forged":"\\'),),
        combined='"GET / HTTP/1.1"',
        json='"request_id":"id\\"},{\\"forged\\":\\"\\\\"',
        request_id='id"},{"forged":"\\',
    ),
]


@dataclass(frozen=True, kw_only=True)
class ClientCase:
    """The peer the server saw, the forwarding headers, the trusted proxies, and the client."""

    id: str
    peer: str | None = "10.0.0.1"
    headers: Pairs = ()
    trusted: tuple[str, ...] = ("10.0.0.0/8",)
    client: str | None


_XFF = "X-Forwarded-For"
_FWD = "Forwarded"

CLIENT_CASES = [
    ClientCase(id="no-headers-peer", client="10.0.0.1"),
    ClientCase(
        id="nothing-trusted-xff-ignored",
        trusted=(),
        headers=((_XFF, "6.6.6.6"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="nothing-trusted-forwarded-ignored",
        trusted=(),
        headers=((_FWD, "for=6.6.6.6"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="untrusted-peer-spoof-ignored",
        peer="198.51.100.7",
        headers=((_XFF, "6.6.6.6"), (_FWD, "for=6.6.6.6")),
        client="198.51.100.7",
    ),
    ClientCase(id="xff-single", headers=((_XFF, "203.0.113.9"),), client="203.0.113.9"),
    ClientCase(
        id="xff-spoofed-left-ignored",
        headers=((_XFF, "6.6.6.6, 203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="xff-trusted-hops-skipped",
        headers=((_XFF, "6.6.6.6, 203.0.113.9, 10.1.2.3, 10.4.5.6"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="xff-spoofed-trusted-address-left-of-client",
        headers=((_XFF, "10.9.9.9, 203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="xff-all-trusted-leftmost",
        headers=((_XFF, "10.1.1.1, 10.2.2.2"),),
        client="10.1.1.1",
    ),
    ClientCase(
        id="xff-multiple-lines-joined",
        headers=((_XFF, "6.6.6.6"), (_XFF, "203.0.113.9")),
        client="203.0.113.9",
    ),
    ClientCase(
        id="xff-empty-members-ignored",
        headers=((_XFF, "203.0.113.9, , "),),
        client="203.0.113.9",
    ),
    ClientCase(id="xff-empty-peer", headers=((_XFF, ""),), client="10.0.0.1"),
    ClientCase(
        id="xff-garbage-rightmost-peer",
        headers=((_XFF, "203.0.113.9, not-an-ip"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="xff-garbage-left-of-client-ignored",
        headers=((_XFF, "<script>, 203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="xff-crlf-garbage-peer",
        headers=((_XFF, "1.2.3.4\r\nforged"),),
        client="10.0.0.1",
    ),
    ClientCase(id="xff-ipv4-port", headers=((_XFF, "203.0.113.9:51000"),), client="203.0.113.9"),
    ClientCase(id="xff-ipv6", headers=((_XFF, "2001:DB8:0:0::1"),), client="2001:db8::1"),
    ClientCase(
        id="xff-ipv6-bracketed-port", headers=((_XFF, "[2001:db8::1]:443"),), client="2001:db8::1"
    ),
    ClientCase(
        id="xff-ipv4-mapped-ipv6", headers=((_XFF, "::ffff:203.0.113.9"),), client="203.0.113.9"
    ),
    ClientCase(id="xff-bad-port-peer", headers=((_XFF, "203.0.113.9:http"),), client="10.0.0.1"),
    ClientCase(id="xff-leading-zeros-peer", headers=((_XFF, "010.0.0.1"),), client="10.0.0.1"),
    ClientCase(
        id="forwarded-for",
        headers=((_FWD, "for=203.0.113.9;proto=https;by=10.0.0.1"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-wins-over-xff",
        headers=((_XFF, "198.51.100.1"), (_FWD, "for=203.0.113.9")),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-name-case-insensitive",
        headers=((_FWD, "proto=http; For=203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-quoted-ipv4-port",
        headers=((_FWD, 'for="203.0.113.9:4711"'),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-quoted-ipv6-port",
        headers=((_FWD, 'for="[2001:db8:cafe::17]:4711"'),),
        client="2001:db8:cafe::17",
    ),
    ClientCase(
        id="forwarded-obfuscated-port",
        headers=((_FWD, 'for="203.0.113.9:_abc"'),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-chain-trusted-skipped",
        headers=((_FWD, "for=6.6.6.6, for=203.0.113.9, for=10.2.3.4"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-multiple-lines-joined",
        headers=((_FWD, "for=6.6.6.6"), (_FWD, "for=203.0.113.9")),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-unbalanced-quote-left-ignored",
        headers=((_FWD, 'for="6.6.6.6, for=203.0.113.9'),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="forwarded-unknown-peer",
        headers=((_FWD, "for=unknown"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-obfuscated-peer",
        headers=((_FWD, "for=_hidden"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-no-for-peer",
        headers=((_FWD, "proto=https;host=example.com"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-repeated-for-peer",
        headers=((_FWD, "for=203.0.113.9;for=6.6.6.6"),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-unterminated-quote-peer",
        headers=((_FWD, 'for="203.0.113.9'),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-garbage-peer-not-xff",
        headers=((_FWD, "garbage"), (_XFF, "203.0.113.9")),
        client="10.0.0.1",
    ),
    ClientCase(
        id="forwarded-ipv6-unbracketed-port-peer",
        headers=((_FWD, 'for="2001:db8::1]:80"'),),
        client="10.0.0.1",
    ),
    ClientCase(
        id="single-address-entry",
        peer="192.0.2.1",
        trusted=("192.0.2.1",),
        headers=((_XFF, "203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="ipv6-peer-in-network",
        peer="fd00::5",
        trusted=("fd00::/8",),
        headers=((_XFF, "203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="ipv4-mapped-peer-in-network",
        peer="::ffff:10.0.0.1",
        headers=((_XFF, "203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="ipv4-network-does-not-trust-ipv6-peer",
        peer="::1",
        trusted=("0.0.0.0/0",),
        headers=((_XFF, "6.6.6.6"),),
        client="::1",
    ),
    ClientCase(
        id="peer-not-an-address",
        peer="testclient",
        headers=((_XFF, "6.6.6.6"),),
        client="testclient",
    ),
]

# Cases whose peer is not a TCP address: the core tests run them, the parity drivers cannot.
UNIX_CLIENT_CASES = [
    ClientCase(
        id="unix-peer-trusted",
        peer=None,
        trusted=("unix",),
        headers=((_XFF, "203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="unix-peer-empty-trusted",
        peer="",
        trusted=("unix",),
        headers=((_XFF, "203.0.113.9"),),
        client="203.0.113.9",
    ),
    ClientCase(
        id="unix-peer-untrusted",
        peer=None,
        headers=((_XFF, "6.6.6.6"),),
        client=None,
    ),
]


@dataclass(frozen=True, kw_only=True)
class ExcludeCase:
    id: str
    exclude_paths: tuple[str, ...]
    path: str
    excluded: bool


EXCLUDE_CASES = [
    ExcludeCase(id="exact", exclude_paths=("/health",), path="/health", excluded=True),
    ExcludeCase(id="exact-not-prefix", exclude_paths=("/health",), path="/healthz", excluded=False),
    ExcludeCase(
        id="exact-not-subpath", exclude_paths=("/health",), path="/health/db", excluded=False
    ),
    ExcludeCase(
        id="exact-trailing-slash-differs",
        exclude_paths=("/health",),
        path="/health/",
        excluded=False,
    ),
    ExcludeCase(id="prefix", exclude_paths=("/static/",), path="/static/app.js", excluded=True),
    ExcludeCase(id="prefix-itself", exclude_paths=("/static/",), path="/static/", excluded=True),
    ExcludeCase(
        id="prefix-needs-slash", exclude_paths=("/static/",), path="/static", excluded=False
    ),
    ExcludeCase(
        id="prefix-not-lookalike", exclude_paths=("/static/",), path="/staticx/a", excluded=False
    ),
    ExcludeCase(
        id="several", exclude_paths=("/ping", "/metrics/"), path="/metrics/x", excluded=True
    ),
    ExcludeCase(id="root-prefix-everything", exclude_paths=("/",), path="/a/b", excluded=True),
    ExcludeCase(id="case-sensitive", exclude_paths=("/health",), path="/HEALTH", excluded=False),
    ExcludeCase(id="none", exclude_paths=(), path="/health", excluded=False),
]


@dataclass(frozen=True, kw_only=True)
class ConfigError:
    """Options RequestLoggingMiddleware must refuse at construction, and the message."""

    id: str
    options: dict[str, Any]
    error: type[Exception]
    message: str


CONFIG_ERRORS = [
    ConfigError(
        id="logger-int",
        options={"logger": 42},
        error=TypeError,
        message="logger must be a logger name or a logging.Logger, got 42.",
    ),
    ConfigError(
        id="format-unknown",
        options={"format": "xml"},
        error=ValueError,
        message="format must be 'combined', 'json' or a callable taking the access record, "
        "got 'xml'.",
    ),
    ConfigError(
        id="format-not-callable",
        options={"format": 3},
        error=TypeError,
        message="format must be 'combined', 'json' or a callable taking the access record, got 3.",
    ),
    ConfigError(
        id="request-id-header-space",
        options={"request_id_header": "X Request"},
        error=ValueError,
        message="request_id_header must be a header name such as 'X-Request-ID', got 'X Request'.",
    ),
    ConfigError(
        id="request-id-header-empty",
        options={"request_id_header": ""},
        error=ValueError,
        message="request_id_header must be a header name such as 'X-Request-ID', got ''.",
    ),
    ConfigError(
        id="request-id-header-bytes",
        options={"request_id_header": b"X-Request-ID"},
        error=ValueError,
        message="request_id_header must be a header name such as 'X-Request-ID', "
        "got b'X-Request-ID'.",
    ),
    ConfigError(
        id="request-id-header-non-ascii",
        options={"request_id_header": "X-R\xe9quest"},
        error=ValueError,
        message="request_id_header must be a header name such as 'X-Request-ID', "
        "got 'X-R\xe9quest'.",
    ),
    ConfigError(
        id="trust-request-id-string",
        options={"trust_request_id": "yes"},
        error=TypeError,
        message="trust_request_id must be True or False, got 'yes'.",
    ),
    ConfigError(
        id="exclude-paths-string",
        options={"exclude_paths": "/health"},
        error=TypeError,
        message="exclude_paths must be a list of paths, got '/health'.",
    ),
    ConfigError(
        id="exclude-paths-none",
        options={"exclude_paths": None},
        error=TypeError,
        message="exclude_paths must be a list of paths, got None.",
    ),
    ConfigError(
        id="exclude-paths-relative",
        options={"exclude_paths": ["health"]},
        error=ValueError,
        message="exclude_paths entries must be paths starting with '/', got 'health'.",
    ),
    ConfigError(
        id="trusted-proxies-string",
        options={"trusted_proxies": "10.0.0.1"},
        error=TypeError,
        message="trusted_proxies must be a list of IP addresses or networks, got '10.0.0.1'.",
    ),
    ConfigError(
        id="trusted-proxies-hostname",
        options={"trusted_proxies": ["proxy.internal"]},
        error=ValueError,
        message="trusted_proxies entries must be IP addresses or networks such as "
        "'10.0.0.0/8', or 'unix', got 'proxy.internal'.",
    ),
    ConfigError(
        id="trusted-proxies-host-bits",
        options={"trusted_proxies": ["10.0.0.1/8"]},
        error=ValueError,
        message="trusted_proxies entry '10.0.0.1/8' has host bits set; write '10.0.0.0/8' "
        "for the network.",
    ),
    ConfigError(
        id="trusted-proxies-int",
        options={"trusted_proxies": [167772161]},
        error=TypeError,
        message="trusted_proxies entries must be IP addresses or networks as strings, "
        "got 167772161.",
    ),
]

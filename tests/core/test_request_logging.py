"""The request logging core: request IDs, client addresses, records and their formats."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from middleware.core.forwarded import TrustedProxies, client_address, parse_node
from middleware.core.headers import Headers
from middleware.core.request_logging import (
    FIELDS,
    WEBSOCKET,
    AccessRecord,
    Outcome,
    RequestLoggingPolicy,
    accept_request_id,
    escape,
    format_combined,
    format_json,
    new_request_id,
    websocket_close_code,
)
from tests.cases.request_logging import (
    CLIENT_CASES,
    CONFIG_ERRORS,
    EXCLUDE_CASES,
    INJECTION_CASES,
    NEW_ID,
    REQUEST_ID_CASES,
    UNIX_CLIENT_CASES,
    ClientCase,
    ConfigError,
    ExcludeCase,
    InjectionCase,
    Pairs,
    RequestIdCase,
    params,
)

# 2023-11-14 22:13:20 UTC
EPOCH = 1_700_000_000.0


def raw(pairs: Pairs) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def incoming_id(pairs: Pairs, name: bytes = b"x-request-id") -> str | None:
    values = [value for key, value in raw(pairs) if key == name]
    return b", ".join(values).decode("latin-1") if values else None


def joined(pairs: Pairs, name: bytes) -> str | None:
    """A field's lines joined with ",", as a WSGI server joins them into the environ."""
    values = [value for key, value in raw(pairs) if key == name]
    return b",".join(values).decode("latin-1") if values else None


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the process time zone for one test, restoring it afterwards."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def finish(
    policy: RequestLoggingPolicy,
    *,
    path: str | bytes = "/",
    query: str | bytes = "",
    headers: Pairs = (),
    peer: str | None = "192.0.2.10",
    status: int | None = 200,
    sent: int = 0,
    request_id: str | None = "rid",
    start: float = 100.0,
    end: float = 100.25,
    now: float = EPOCH + 0.25,
    outcome: Outcome = Outcome.COMPLETED,
    protocol: str = "HTTP/1.1",
    close_code: int | None = None,
) -> tuple[AccessRecord, str]:
    """One request through the core, from ``begin`` to ``end``: its record and its line."""
    log = policy.begin(
        method="GET",
        path=path,
        query=query,
        protocol=protocol,
        headers=raw(headers),
        peer=peer,
        now=start,
        request_id=request_id,
    )
    if status is not None:
        log.start(status, [])
    log.sent = sent
    log.ended(outcome, end, close_code)
    entry = log.end(now=end + 5.0, wall=now)
    assert entry is not None
    fields, line = entry
    assert list(fields) == list(FIELDS)
    return AccessRecord(**fields), line


# Request IDs


@pytest.mark.parametrize("case", params(REQUEST_ID_CASES))
def test_request_id_acceptance(case: RequestIdCase) -> None:
    policy = RequestLoggingPolicy.build(trust_request_id=case.trust)
    chosen = policy.request_id(incoming_id(case.headers), generate=lambda: "fresh")
    assert chosen == (case.kept if case.kept is not None else "fresh")


@pytest.mark.parametrize("case", params(REQUEST_ID_CASES))
def test_request_id_of_a_request(case: RequestIdCase) -> None:
    # begin() reads the ID from the request's fields (repeated lines joined with ","), and
    # start() sets it on the response, replacing the app's in whatever case it is spelled.
    policy = RequestLoggingPolicy.build(trust_request_id=case.trust)
    log = policy.begin(
        method="GET",
        path="/",
        query=b"",
        protocol="HTTP/1.1",
        headers=raw(case.headers),
        peer=None,
        now=0.0,
    )
    if case.kept is None:
        assert re.fullmatch(NEW_ID, log.request_id)
    else:
        assert log.request_id == case.kept
    app_headers = [(b"content-type", b"text/plain")]
    app_headers += [(name.encode(), value.encode()) for name, value in case.app_headers]
    headers = log.start(200, app_headers)
    assert [value for name, value in headers if name.lower() == b"x-request-id"] == [
        log.request_id.encode()
    ]
    assert headers[0] == (b"content-type", b"text/plain")
    assert len(app_headers) == 1 + len(case.app_headers)  # the app's list is left as it was


def test_an_id_given_by_an_outer_layer_is_kept() -> None:
    policy = RequestLoggingPolicy.build()
    log = policy.begin(
        method="GET",
        path="/",
        query=b"",
        protocol="HTTP/1.1",
        headers=[(b"x-request-id", b"from-client")],
        peer=None,
        now=0.0,
        request_id="from-outer-layer",
    )
    assert log.request_id == "from-outer-layer"


def test_new_request_id_is_uuid4_hex() -> None:
    # More than one batch of IDs made ahead: the batch boundary changes nothing.
    ids = {new_request_id() for _ in range(600)}
    assert len(ids) == 600
    assert all(re.fullmatch(NEW_ID, value) for value in ids)
    assert all(uuid.UUID(hex=value).version == 4 for value in ids)
    assert all(uuid.UUID(hex=value).variant == uuid.RFC_4122 for value in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_reuses_its_parents_request_ids() -> None:
    new_request_id()  # the parent now holds IDs made ahead
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, " ".join(new_request_id() for _ in range(300)).encode())
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    child = set(b"".join(chunks).decode().split())
    parent = {new_request_id() for _ in range(300)}
    assert len(child) == 300 and not child & parent


def test_accept_request_id_default_generator() -> None:
    assert re.fullmatch(NEW_ID, accept_request_id("a b", trust=True))
    assert re.fullmatch(NEW_ID, accept_request_id(None, trust=True))
    assert accept_request_id("abc", trust=True) == "abc"


def test_request_id_header_name_precomputed() -> None:
    assert RequestLoggingPolicy.build().header_name == b"x-request-id"
    assert RequestLoggingPolicy.build(request_id_header="X-Trace").header_name == b"x-trace"


# Log injection, in every format


@pytest.mark.parametrize("form", ["text", "bytes"])
@pytest.mark.parametrize("fmt", ["combined", "json"])
@pytest.mark.parametrize("case", params(INJECTION_CASES))
def test_injection_escaped(case: InjectionCase, fmt: str, form: str, tz: Any) -> None:
    tz("UTC")
    policy = RequestLoggingPolicy.build(format=fmt)
    # ASGI hands the path over as text, WSGI as the bytes PATH_INFO carried: same record.
    path: str | bytes = case.path if form == "text" else case.path.encode("utf-8")
    query: str | bytes = case.query if form == "text" else case.query.encode("latin-1")
    record, line = finish(policy, path=path, query=query, headers=case.headers, request_id=None)
    if case.request_id is None:
        assert re.fullmatch(NEW_ID, record.request_id)
    else:
        assert record.request_id == case.request_id
    # One line of printable ASCII, whatever the client sent.
    assert all(" " <= char <= "~" for char in line), line
    if fmt == "combined":
        assert case.combined in line
    else:
        assert case.json in line
        assert line == json.dumps(record.as_dict(), ensure_ascii=True, separators=(",", ":"))
        parsed = json.loads(line)
        assert parsed["request_id"] == record.request_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain text/1.0 (x; y)", "plain text/1.0 (x; y)", id="printable-unchanged"),
        pytest.param("", "", id="empty"),
        pytest.param("\r\n", "\\r\\n", id="cr-lf"),
        pytest.param("\b\t\v", "\\b\\t\\v", id="named-escapes"),
        pytest.param("\x1b\x00\x1f\x7f", "\\x1b\\x00\\x1f\\x7f", id="other-controls"),
        pytest.param('say "hi"', 'say \\"hi\\"', id="quotes"),
        pytest.param("a\\b", "a\\\\b", id="backslash"),
        pytest.param("\x85\xa0\xe9\xff", "\\x85\\xa0\\xe9\\xff", id="latin-1-bytes"),
        pytest.param("\u2028\u202e", "\\u2028\\u202e", id="unicode-separators-and-bidi"),
        pytest.param("\U0001f600", "\\U0001f600", id="astral"),
    ],
)
def test_escape(value: str, expected: str) -> None:
    assert escape(value) == expected


def test_escape_fast_path_returns_same_object() -> None:
    value = "Mozilla/5.0 (X11; Linux x86_64)"
    assert escape(value) is value


# Client address


@pytest.mark.parametrize("case", params(CLIENT_CASES + UNIX_CLIENT_CASES))
def test_client_address(case: ClientCase) -> None:
    trusted = TrustedProxies.build(case.trusted)
    forwarded = joined(case.headers, b"forwarded")
    xff = joined(case.headers, b"x-forwarded-for")
    assert (
        client_address(case.peer, trusted=trusted, forwarded=forwarded, x_forwarded_for=xff)
        == case.client
    )


@pytest.mark.parametrize("case", params(CLIENT_CASES + UNIX_CLIENT_CASES))
def test_client_address_in_record(case: ClientCase) -> None:
    policy = RequestLoggingPolicy.build(trusted_proxies=case.trusted)
    record, _ = finish(policy, peer=case.peer, headers=case.headers)
    assert record.client == case.client


def test_client_address_with_wsgi_style_joined_headers() -> None:
    # WSGI servers join repeated fields with "," (no space); the hops are the same.
    trusted = TrustedProxies.build(["10.0.0.0/8"])
    assert (
        client_address("10.0.0.1", trusted=trusted, x_forwarded_for="6.6.6.6,203.0.113.9")
        == "203.0.113.9"
    )


def test_trusted_proxies_accepts_ipaddress_objects() -> None:
    trusted = TrustedProxies.build([ip_address("192.0.2.1"), ip_network("fd00::/8")])
    assert trusted.trusts_peer("192.0.2.1")
    assert trusted.trusts_peer("fd00::1")
    assert not trusted.trusts_peer("192.0.2.2")
    assert trusted.hosts == frozenset({"192.0.2.1"})


def test_trusted_proxies_empty_is_false() -> None:
    assert not TrustedProxies.build([])
    assert TrustedProxies.build(["unix"])
    assert TrustedProxies.build(["::1"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("192.0.2.43", "192.0.2.43", id="ipv4"),
        pytest.param(" 192.0.2.43\t", "192.0.2.43", id="whitespace"),
        pytest.param("192.0.2.43:47011", "192.0.2.43", id="ipv4-port"),
        pytest.param("[2001:db8::1]", "2001:db8::1", id="ipv6-brackets"),
        pytest.param("[2001:db8::1]:_x", "2001:db8::1", id="ipv6-obfuscated-port"),
        pytest.param("[2001:db8::1", None, id="ipv6-unclosed"),
        pytest.param("[2001:db8::1]80", None, id="ipv6-port-without-colon"),
        pytest.param("192.0.2.43:", None, id="empty-port"),
        pytest.param("192.0.2.43:123456", None, id="port-too-long"),
        pytest.param("192.0.2.43:_", None, id="bare-underscore-port"),
        pytest.param("192.0.2.43:\u0661", None, id="non-ascii-digit-port"),
        pytest.param("unknown", None, id="unknown"),
        pytest.param("_hidden", None, id="obfuscated"),
        pytest.param("", None, id="empty"),
        pytest.param("999.1.1.1", None, id="out-of-range"),
    ],
)
def test_parse_node(text: str, expected: str | None) -> None:
    node = parse_node(text)
    assert (None if node is None else str(node)) == expected


def test_forwarded_quoted_pair_unescaped() -> None:
    trusted = TrustedProxies.build(["10.0.0.0/8"])
    assert (
        client_address("10.0.0.1", trusted=trusted, forwarded='for="203.0.113.\\9"')
        == "203.0.113.9"
    )


# Exclusion


@pytest.mark.parametrize("case", params(EXCLUDE_CASES))
def test_exclude_paths(case: ExcludeCase) -> None:
    policy = RequestLoggingPolicy.build(exclude_paths=case.exclude_paths)
    assert policy.excludes(case.path) is case.excluded


def test_exclude_paths_accepts_any_iterable() -> None:
    policy = RequestLoggingPolicy.build(exclude_paths=iter(["/a", "/b/"]))
    assert policy.exclude_paths == ("/a", "/b/")
    assert policy.exact_paths == frozenset({"/a"})
    assert policy.path_prefixes == ("/b/",)


# Configuration


@pytest.mark.parametrize("case", params(CONFIG_ERRORS))
def test_config_errors(case: ConfigError) -> None:
    with pytest.raises(case.error) as caught:
        RequestLoggingPolicy.build(**case.options)
    assert str(caught.value) == case.message


def test_defaults() -> None:
    policy = RequestLoggingPolicy.build()
    assert policy.logger == "middleware.access"
    assert policy.format == "combined"
    assert policy.request_id_header == "X-Request-ID"
    assert policy.trust_request_id is True
    assert policy.exclude_paths == ()
    assert not policy.trusted_proxies


def test_logger_object_accepted() -> None:
    logger = logging.getLogger("tests.access")
    assert RequestLoggingPolicy.build(logger=logger).logger is logger


def test_logger_adapter_refused() -> None:
    # A LoggerAdapter replaces ``extra`` with its own, which would drop the record's fields.
    adapter = logging.LoggerAdapter(logging.getLogger("tests.access"))
    with pytest.raises(TypeError, match="logger must be a logger name or a logging.Logger"):
        RequestLoggingPolicy.build(logger=adapter)


def test_policy_is_frozen() -> None:
    policy = RequestLoggingPolicy.build()
    with pytest.raises(AttributeError):
        policy.format = "json"  # type: ignore[misc]


# Formats


def test_combined_line_exact(tz: Any) -> None:
    tz("UTC")
    policy = RequestLoggingPolicy.build()
    _, line = finish(
        policy,
        path="/apache_pb.gif",
        query="a=1&b=2",
        headers=(("Referer", "http://www.example.com/start.html"), ("User-Agent", "Mozilla/4.08")),
        sent=2326,
    )
    assert line == (
        '192.0.2.10 - - [14/Nov/2023:22:13:20 +0000] "GET /apache_pb.gif?a=1&b=2 HTTP/1.1" '
        '200 2326 "http://www.example.com/start.html" "Mozilla/4.08"'
    )


def test_combined_placeholders(tz: Any) -> None:
    tz("UTC")
    policy = RequestLoggingPolicy.build()
    _, line = finish(policy, peer=None, headers=(("User-Agent", ""), ("Referer", "")), status=204)
    assert line == '- - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 204 - "-" "-"'


@pytest.mark.parametrize(
    ("zone", "now", "stamp"),
    [
        pytest.param("UTC", EPOCH, "14/Nov/2023:22:13:20 +0000", id="utc"),
        pytest.param("Asia/Kolkata", EPOCH, "15/Nov/2023:03:43:20 +0530", id="half-hour-east"),
        pytest.param("America/St_Johns", EPOCH, "14/Nov/2023:18:43:20 -0330", id="half-hour-west"),
        pytest.param("Europe/Berlin", EPOCH, "14/Nov/2023:23:13:20 +0100", id="winter"),
        pytest.param(
            "Europe/Berlin", EPOCH - 120 * 86400, "18/Jul/2023:00:13:20 +0200", id="summer"
        ),
        pytest.param("UTC", 0.0, "01/Jan/1970:00:00:00 +0000", id="epoch"),
    ],
)
def test_combined_timestamp(tz: Any, zone: str, now: float, stamp: str) -> None:
    tz(zone)
    policy = RequestLoggingPolicy.build()
    # The stamp is when the request arrived: ``now`` minus the duration.
    _, line = finish(policy, start=10.0, end=12.0, now=now + 2.0)
    assert f"[{stamp}]" in line


def test_combined_months_are_english_whatever_the_locale(tz: Any) -> None:
    tz("UTC")
    stamps = [
        format_combined(_record(), EPOCH + day * 86400).split("[")[1][3:6]
        for day in range(0, 365, 31)
    ]
    assert stamps == [
        "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct"
    ]  # fmt: skip


def test_json_line_exact() -> None:
    policy = RequestLoggingPolicy.build(format="json")
    _, line = finish(
        policy,
        path="/items",
        query="page=2",
        headers=(("User-Agent", "curl/8.5.0"),),
        sent=12,
        request_id="abc",
    )
    assert line == (
        '{"client":"192.0.2.10","method":"GET","path":"/items","query":"page=2",'
        '"protocol":"HTTP/1.1","status":200,"bytes":12,"duration_ms":250.0,'
        '"user_agent":"curl/8.5.0","referer":null,"request_id":"abc","outcome":"completed",'
        '"close_code":null}'
    )


def test_json_keys_are_the_fields_in_order() -> None:
    assert list(json.loads(format_json(_record()))) == list(FIELDS)
    assert list(_record().as_dict()) == list(FIELDS)


def test_callable_format_receives_the_record() -> None:
    seen: list[AccessRecord] = []

    def fmt(record: AccessRecord) -> str:
        seen.append(record)
        return f"{record.method} {record.status} {record.request_id}"

    policy = RequestLoggingPolicy.build(format=fmt)
    record, line = finish(policy, status=201)
    assert seen == [record]
    assert line == "GET 201 rid"


def test_callable_format_result_made_text() -> None:
    policy = RequestLoggingPolicy.build(format=lambda record: record.status)
    assert finish(policy, status=404)[1] == "404"


# The record


def _record(**changes: Any) -> AccessRecord:
    fields: dict[str, Any] = {
        "client": "192.0.2.10",
        "method": "GET",
        "path": "/",
        "query": "",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": 0,
        "duration_ms": 1.0,
        "user_agent": None,
        "referer": None,
        "request_id": "rid",
        "outcome": Outcome.COMPLETED,
        "close_code": None,
    }
    fields.update(changes)
    return AccessRecord(**fields)


def test_record_has_exactly_the_spec_fields() -> None:
    assert tuple(field.name for field in dataclasses.fields(AccessRecord)) == FIELDS
    record = _record()
    assert AccessRecord(**record.as_dict()) == record
    assert tuple(record.as_dict()) == FIELDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = 500  # type: ignore[misc]
    assert FIELDS == (
        "client", "method", "path", "query", "protocol", "status", "bytes", "duration_ms",
        "user_agent", "referer", "request_id", "outcome", "close_code",
    )  # fmt: skip


def test_record_values() -> None:
    policy = RequestLoggingPolicy.build()
    record, _ = finish(
        policy,
        path=b"/caf\xc3\xa9 x",
        query=b"q=\xe9",
        headers=(("User-Agent", "ua"), ("Referer", "ref")),
        sent=7,
        start=5.0,
        end=5.0123456,
    )
    assert record == _record(
        path="/caf%C3%A9%20x",
        query="q=\xe9",
        bytes=7,
        duration_ms=12.346,
        user_agent="ua",
        referer="ref",
    )


def test_path_sub_delims_and_colon_kept() -> None:
    record, _ = finish(RequestLoggingPolicy.build(), path="/a:b@c!$&'()*+,;=/~_-.")
    assert record.path == "/a:b@c!$&'()*+,;=/~_-."


def test_path_with_percent_and_question_mark_reencoded() -> None:
    # The decoded path had "%" and "?" (sent as %25 and %3F); re-encoding keeps the target
    # unambiguous.
    record, _ = finish(RequestLoggingPolicy.build(), path="/100%?x#y")
    assert record.path == "/100%25%3Fx%23y"


def test_path_lone_surrogate_never_raises() -> None:
    record, _ = finish(RequestLoggingPolicy.build(), path="/\ud800")
    assert record.path == "/%ED%A0%80"


@pytest.mark.parametrize(
    ("status", "outcome", "logged"),
    [
        pytest.param(200, Outcome.COMPLETED, 200, id="completed"),
        pytest.param(None, Outcome.COMPLETED, 500, id="never-started-completed"),
        pytest.param(None, Outcome.ERROR, 500, id="never-started-error"),
        pytest.param(None, Outcome.DISCONNECTED, 499, id="never-started-disconnected"),
        pytest.param(200, Outcome.ERROR, 200, id="error-after-start"),
        pytest.param(206, Outcome.DISCONNECTED, 206, id="disconnected-mid-body"),
    ],
)
def test_status_and_outcome(status: int | None, outcome: Outcome, logged: int) -> None:
    record, line = finish(
        RequestLoggingPolicy.build(format="json"), status=status, sent=3, outcome=outcome
    )
    assert (record.status, record.outcome, record.bytes) == (logged, outcome, 3)
    assert json.loads(line)["outcome"] == outcome.value


def test_logged_request_fields() -> None:
    # Of a repeated User-Agent or Referer the first line is kept; the lines of a list-valued
    # field are joined with "," as a WSGI server joins them; names are compared exactly
    # (ASGI's are lower-case, the WSGI adapter's too), values decoded as latin-1.
    policy = RequestLoggingPolicy.build(trusted_proxies=["10.0.0.0/8"])
    headers: Headers = [
        (b"host", b"example.com"),
        (b"user-agent", b"first"),
        (b"x-forwarded-for", b"1.1.1.1"),
        (b"user-agent", b"second"),
        (b"referer", b"r\xe9f"),
        (b"x-forwarded-for", b"10.3.3.3"),
    ]
    log = policy.begin(
        method="GET", path="/", query=b"", protocol="HTTP/1.1", headers=headers, peer="10.0.0.1",
        now=0.0,
    )  # fmt: skip
    entry = log.end(now=1.0, wall=EPOCH)
    assert entry is not None
    record = AccessRecord(**entry[0])
    assert (record.user_agent, record.referer, record.client) == ("first", "r\xe9f", "1.1.1.1")


def test_forwarded_lines_are_joined_and_win_over_x_forwarded_for() -> None:
    policy = RequestLoggingPolicy.build(trusted_proxies=["10.0.0.0/8"])
    record, _ = finish(
        policy,
        peer="10.0.0.1",
        headers=(
            ("X-Forwarded-For", "198.51.100.1"),
            ("Forwarded", "for=203.0.113.9"),
            ("Forwarded", "for=10.4.4.4"),
        ),
    )
    assert record.client == "203.0.113.9"


def test_an_excluded_path_has_no_record() -> None:
    policy = RequestLoggingPolicy.build(exclude_paths=["/health", "/caf\xe9/"])
    for path in ("/health", "/caf\xe9/x", "/caf\xc3\xa9/x".encode("latin-1")):
        log = policy.begin(
            method="GET", path=path, query=b"", protocol="HTTP/1.1", headers=[], peer=None,
            now=0.0,
        )  # fmt: skip
        # Still a request ID (the response carries it), but nothing to write.
        assert re.fullmatch(NEW_ID, log.request_id)
        assert log.end(now=1.0, wall=EPOCH) is None


def test_json_lines_are_json_dumps_lines() -> None:
    # The plain-value line is written without json.dumps: it must be json.dumps's line.
    for changes in ({}, {"client": None, "user_agent": None}, {"referer": "caf\xe9"}):
        record = _record(**{"user_agent": "curl/8", "referer": "https://e.example/", **changes})
        expected = json.dumps(record.as_dict(), ensure_ascii=True, separators=(",", ":"))
        assert format_json(record) == expected


# Websocket records (SPEC, WebSocket): the same record, protocol "websocket", with close_code


def test_websocket_record_and_json_line() -> None:
    policy = RequestLoggingPolicy.build(format="json")
    record, line = finish(
        policy,
        path="/chat",
        protocol=WEBSOCKET,
        status=101,
        sent=11,
        request_id="abc",
        outcome=Outcome.DISCONNECTED,
        close_code=1001,
    )
    assert (record.protocol, record.status, record.bytes) == ("websocket", 101, 11)
    assert (record.outcome, record.close_code) == (Outcome.DISCONNECTED, 1001)
    assert line == (
        '{"client":"192.0.2.10","method":"GET","path":"/chat","query":"",'
        '"protocol":"websocket","status":101,"bytes":11,"duration_ms":250.0,'
        '"user_agent":null,"referer":null,"request_id":"abc","outcome":"disconnected",'
        '"close_code":1001}'
    )
    assert line == json.dumps(record.as_dict(), separators=(",", ":"))


def test_websocket_combined_line_is_the_handshake_request_line() -> None:
    # Apache's format, unchanged: the request line as the handshake sent it (RFC 6455 §4.1:
    # GET, HTTP/1.1), the 101, and no close code.
    policy = RequestLoggingPolicy.build()
    _, line = finish(
        policy, path="/chat", query="room=1", protocol=WEBSOCKET, status=101, sent=5,
        close_code=1000,
    )  # fmt: skip
    assert line.endswith('"GET /chat?room=1 HTTP/1.1" 101 5 "-" "-"')
    assert "1000" not in line


def test_http_records_have_no_close_code() -> None:
    record, line = finish(RequestLoggingPolicy.build(format="json"))
    assert record.close_code is None
    assert json.loads(line)["close_code"] is None


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        pytest.param(1000, 1000, id="normal"),
        pytest.param(4999, 4999, id="private-use"),
        pytest.param(1005, 1005, id="no-status-as-reported"),
        pytest.param(999, 999, id="below-range-kept"),
        pytest.param(5000, 5000, id="above-range-kept"),
        pytest.param(-1, -1, id="negative-kept"),
        pytest.param("1000", None, id="text-is-no-code"),
        pytest.param(1000.0, None, id="float-is-no-code"),
        pytest.param(True, None, id="bool-is-no-code"),
        pytest.param(None, None, id="none"),
    ],
)
def test_websocket_close_code_kept_as_given(given: object, recorded: int | None) -> None:
    assert websocket_close_code(given) == recorded


def test_json_line_with_a_close_code_that_is_not_an_int_stays_json() -> None:
    # A record built by hand (a callable format's caller) may carry anything: the line falls
    # back to the JSON encoder rather than writing an invalid object.
    for code in (True, "x"):
        line = format_json(_record(close_code=code))
        assert json.loads(line)["close_code"] == code


# How a request ended: the outcome rules the adapters report into (ASGI's record, both faces)

_HTTP, _WS = "HTTP/1.1", WEBSOCKET
_C, _D, _E = Outcome.COMPLETED, Outcome.DISCONNECTED, Outcome.ERROR


@pytest.mark.parametrize(
    ("protocol", "before", "event", "outcome"),
    [
        pytest.param(_HTTP, _C, "returned", _C, id="http-returned-after-its-last-message"),
        pytest.param(_HTTP, None, "returned", _D, id="http-returned-with-the-response-open"),
        pytest.param(_WS, None, "returned", _C, id="websocket-returned-while-open"),
        pytest.param(_HTTP, _C, "raised", _E, id="http-raised-after-its-last-message"),
        pytest.param(_HTTP, None, "raised", _E, id="http-raised"),
        pytest.param(_HTTP, _D, "raised", _D, id="http-raised-after-the-client-left"),
        pytest.param(_WS, _C, "raised", _E, id="websocket-raised-after-its-close"),
        pytest.param(_WS, _D, "raised", _D, id="websocket-raised-after-the-client-left"),
        pytest.param(_HTTP, _C, "cancelled", _D, id="http-cancelled-after-its-last-message"),
        pytest.param(_HTTP, None, "cancelled", _D, id="http-cancelled"),
        pytest.param(_WS, None, "cancelled", _D, id="websocket-cancelled-while-open"),
        pytest.param(_WS, _C, "cancelled", _C, id="websocket-cancelled-after-its-close"),
    ],
)
def test_outcome_of_how_the_app_ended(
    protocol: str, before: Outcome | None, event: str, outcome: Outcome
) -> None:
    log = RequestLoggingPolicy.build().begin(
        method="GET", path="/", query=b"", protocol=protocol, headers=[], peer=None, now=0.0
    )
    log.outcome = before
    if event != "returned":
        getattr(log, event)()
    entry = log.end(now=1.0, wall=EPOCH)
    assert entry is not None
    assert entry[0]["outcome"] is outcome


def test_duration_ends_when_the_response_ended_not_when_the_app_returned() -> None:
    log = RequestLoggingPolicy.build().begin(
        method="GET", path="/", query=b"", protocol=_WS, headers=[], peer=None, now=10.0
    )
    log.ended(Outcome.DISCONNECTED, 10.5, close_code=1001)
    entry = log.end(now=40.0, wall=EPOCH)
    assert entry is not None
    assert (entry[0]["duration_ms"], entry[0]["close_code"]) == (500.0, 1001)

"""The client's address behind trusted proxies: RFC 7239 ``Forwarded`` and ``X-Forwarded-For``.

A proxy reports the address it received a request from by appending it to ``Forwarded`` (or
the older ``X-Forwarded-For``). Only the hops appended by proxies you run can be believed: a
client can send either header with any content. So the headers are read only when the peer (the
address the server reports: ``REMOTE_ADDR``, the ASGI ``client``) is a trusted proxy, and walked
right to left, past the trusted hops, to the first address that is not a trusted proxy: that is
the client. Some servers act on these headers first (uvicorn rewrites the client from
``X-Forwarded-For``, waitress removes both headers by default): SECURITY.md says what reaches
this code under each server.

    >>> trusted = TrustedProxies.build(["10.0.0.0/8"])
    >>> client_address("10.0.0.7", trusted=trusted, x_forwarded_for="6.6.6.6, 203.0.113.9")
    '203.0.113.9'
    >>> client_address("198.51.100.4", trusted=trusted, x_forwarded_for="6.6.6.6")
    '198.51.100.4'

Entries of ``trusted_proxies`` are IP addresses or networks (``"10.0.0.1"``, ``"10.0.0.0/8"``,
``"fd00::/8"``, or ``ipaddress`` objects), and the literal ``"unix"`` for a peer without an IP
address (a server listening on a Unix socket behind a local proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

__all__ = ["UNIX", "TrustedProxies", "client_address", "parse_node"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

UNIX = "unix"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed, precomputed for look-ups."""

    v4: tuple[IPv4Network, ...] = ()
    v6: tuple[IPv6Network, ...] = ()
    unix: bool = False
    # Whether any proxy is trusted at all (else the peer is always the client).
    active: bool = False
    # The text of every single-address entry: most peers are found here without parsing.
    hosts: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls, entries: Iterable[str | IPAddress | IPNetwork], *, parameter: str = "trusted_proxies"
    ) -> TrustedProxies:
        """Parse ``entries``; raise TypeError/ValueError naming ``parameter`` on a bad one."""
        if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
            raise TypeError(
                f"{parameter} must be a list of IP addresses or networks, got {entries!r}."
            )
        v4: list[IPv4Network] = []
        v6: list[IPv6Network] = []
        unix = False
        for entry in entries:
            if entry == UNIX:
                unix = True
                continue
            network = _network(entry, parameter)
            if isinstance(network, IPv4Network):
                v4.append(network)
            else:
                v6.append(network)
        networks: list[IPNetwork] = [*v4, *v6]
        hosts = frozenset(
            str(network.network_address)
            for network in networks
            if network.prefixlen == network.max_prefixlen
        )
        return cls(
            v4=tuple(v4), v6=tuple(v6), unix=unix, active=bool(v4 or v6 or unix), hosts=hosts
        )

    def __bool__(self) -> bool:
        return self.active

    def trusts(self, address: IPAddress) -> bool:
        """Whether ``address`` is one of the trusted proxies."""
        if isinstance(address, IPv4Address):
            return any(address in network for network in self.v4)
        return any(address in network for network in self.v6)

    def trusts_peer(self, peer: str | None) -> bool:
        """Whether the server's peer (an address as text, or None on a Unix socket) is trusted."""
        if not peer:
            return self.unix
        if peer in self.hosts:
            return True
        address = parse_node(peer)
        return address is not None and self.trusts(address)


def _network(entry: object, parameter: str) -> IPNetwork:
    if isinstance(entry, IPv4Network | IPv6Network):
        return entry
    if isinstance(entry, IPv4Address | IPv6Address):
        return ip_network(entry)
    if not isinstance(entry, str):
        raise TypeError(
            f"{parameter} entries must be IP addresses or networks as strings, got {entry!r}."
        )
    try:
        return ip_network(entry)
    except ValueError:
        pass
    try:
        network = ip_network(entry, strict=False)
    except ValueError:
        raise ValueError(
            f"{parameter} entries must be IP addresses or networks such as '10.0.0.0/8', "
            f"or 'unix', got {entry!r}."
        ) from None
    raise ValueError(
        f"{parameter} entry {entry!r} has host bits set; write {str(network)!r} for the network."
    )


def parse_node(text: str) -> IPAddress | None:
    """The IP address in one forwarding hop, or None when the hop is not an address.

    Accepts ``192.0.2.43``, ``192.0.2.43:47011``, ``2001:db8::1``, ``[2001:db8::1]`` and
    ``[2001:db8::1]:4711`` (RFC 7239 §6: ``node = nodename [ ":" node-port ]``). The names
    ``unknown`` and obfuscated identifiers (``_hidden``) are not addresses. An IPv4-mapped IPv6
    address is returned as the IPv4 address it carries, as a dual-stack socket reports it.
    """
    text = text.strip(" \t")
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and _is_port(port[1:]))):
            return None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not _is_port(port):
            return None
    else:
        host = text
    try:
        address = ip_address(host)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    # RFC 7239 §6: node-port = port / obfport; port = 1*5DIGIT; obfport = "_" 1*(ALPHA / DIGIT
    # / "." / "_" / "-")
    if text.startswith("_"):
        return len(text) > 1
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()


def _forwarded_for(element: str) -> IPAddress | None:
    """The address in the ``for`` parameter of one ``Forwarded`` element, or None."""
    # RFC 7239 §4: forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
    #              forwarded-pair = token "=" value;  value = token / quoted-string
    # Parameter names are case-insensitive; each MUST NOT occur more than once per element.
    found: str | None = None
    for pair in element.split(";"):
        name, equals, value = pair.partition("=")
        if name.strip(" \t").lower() != "for":
            continue
        if found is not None or not equals:
            return None
        found = value.strip(" \t")
    if found is None:
        return None
    if found.startswith('"'):
        if len(found) < 2 or not found.endswith('"'):
            return None
        found = _unquote(found[1:-1])
    return parse_node(found)


def _unquote(text: str) -> str:
    # RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def client_address(
    peer: str | None,
    *,
    trusted: TrustedProxies,
    forwarded: str | None = None,
    x_forwarded_for: str | None = None,
) -> str | None:
    """The client's address: the peer's, or the one a trusted peer forwarded.

    ``forwarded`` and ``x_forwarded_for`` are the header values with every field line joined
    by ``", "`` (RFC 9110 §5.3). ``Forwarded`` wins when both are present. The hops are read
    right to left; the first that is not a trusted proxy is the client. A hop that is not an
    address (garbage, ``unknown``, an obfuscated name, an element without ``for``) before that
    point makes the whole header unusable, and the peer's address is returned instead. When
    every hop is trusted, the leftmost one is the client.

    Elements are split on commas and pairs on semicolons without regard to quoting: no address,
    host or protocol value contains either, and this keeps an unbalanced quote that a client
    put in its own header from swallowing the hops that trusted proxies appended after it.
    """
    if not trusted or not trusted.trusts_peer(peer):
        return peer
    parse: Callable[[str], IPAddress | None]
    if forwarded is not None:
        hops = forwarded.split(",")
        parse = _forwarded_for
    elif x_forwarded_for is not None:
        hops = x_forwarded_for.split(",")
        parse = parse_node
    else:
        return peer
    address: IPAddress | None = None
    for hop in reversed(hops):
        # RFC 9110 §5.6.1: a recipient MUST parse and ignore a reasonable number of empty list
        # elements.
        if not hop.strip(" \t"):
            continue
        address = parse(hop)
        if address is None:
            return peer
        if not trusted.trusts(address):
            return str(address)
    return peer if address is None else str(address)

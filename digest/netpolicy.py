"""Where a fetch may connect: public addresses anywhere, private ones only where the operator
said so.

Gathering follows links that outside documents choose (item links, redirects, the feeds a page
announces), so a hostile feed could point Digest at the machine's own services or at a cloud's
metadata endpoint (169.254.169.254). The fetcher resolves every host once, asks `NetworkPolicy`
about each address, and connects to the very address it checked (no second lookup for a
rebinding DNS server to answer differently). The hosts an operator named (a source's URL, a
`digest extract` argument, `fetch.allow_private`) stay reachable wherever they are.

Pure: no I/O here, the fetcher resolves and connects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NetworkPolicy", "address_refusal", "parse_allowance"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # IPv4 behind the well-known NAT64 prefix


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private"...), None if public."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_v4(address)
        if inner is not None:
            return address_refusal(inner)
        if address.is_site_local:
            return "private"
    kinds = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "shared (CGNAT)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    )
    return next((kind for refused, kind in kinds if refused), None)


def parse_allowance(entry: str) -> str | IPNetwork:
    """One `fetch.allow_private` entry: an address or CIDR block, else a host name (lowered).

    Raises ValueError for an entry that is neither."""
    text = entry.strip().lower()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    name = text.rstrip(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_label(label) for label in labels):
        raise ValueError(f"{entry!r} is neither a host name nor an address or CIDR block")
    return name


def _label(label: str) -> bool:
    return 0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()


@dataclass(frozen=True)
class NetworkPolicy:
    """Public addresses are fine; others only for named hosts or inside allowed networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> NetworkPolicy:
        """A policy from host names, addresses and CIDR blocks (bad entries raise ValueError)."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            parsed = parse_allowance(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        return cls(frozenset(hosts), tuple(networks))

    def named(self, host: str) -> bool:
        """Whether the operator named this host (any address it resolves to is fine)."""
        return host.lower().rstrip(".").strip("[]") in self.hosts

    def refusal(self, host: str, address: str) -> str | None:
        """Why `host`, resolved to `address`, may not be reached; None when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not part of it
        kind = address_refusal(ip)
        if kind is None or any(ip in network for network in self.networks):
            return None
        where = f"{host} is" if _is_address(host, ip) else f"{host} resolves to {ip},"
        return f"{where} a {kind} address (name it in fetch.allow_private to allow it)"


def _is_address(host: str, ip: IPAddress) -> bool:
    """Whether the host is written as this very address (::ffff:127.0.0.1 is ::ffff:7f00:1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")) == ip
    except ValueError:
        return False

"""Which addresses a fetch may reach: every kind of non-public address is named, and only
what the operator allows gets through."""

from __future__ import annotations

import ipaddress

import pytest

from digest.netpolicy import NetworkPolicy, address_refusal, parse_allowance


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata endpoint
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.254", "shared (CGNAT)"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::7", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),  # site-local, which Python calls global
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),  # 10.0.0.1 through NAT64
        ("2002:a9fe:a9fe::1", "link-local"),  # 169.254.169.254 through 6to4
    ],
)
def test_every_kind_of_non_public_address_is_named(address: str, kind: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_named_hosts_and_allowed_networks() -> None:
    policy = NetworkPolicy.allowing(["Intranet.Example.", "10.0.0.0/8", "fd00::/8", "[::1]"])
    assert policy.named("intranet.example") and policy.named("INTRANET.example.")
    assert not policy.named("other.example")
    assert policy.refusal("wiki", "10.20.30.40") is None
    assert policy.refusal("wiki", "fd00::5") is None
    assert policy.refusal("localhost", "::1") is None
    assert policy.refusal("api", "8.8.8.8") is None
    assert policy.refusal("router", "192.168.1.1") == (
        "router resolves to 192.168.1.1, a private address "
        "(name it in fetch.allow_private to allow it)"
    )
    assert policy.refusal("169.254.169.254", "169.254.169.254") == (
        "169.254.169.254 is a link-local address (name it in fetch.allow_private to allow it)"
    )
    assert NetworkPolicy().refusal("h", "fe80::1%eth0") is not None  # a zone is no way round


@pytest.mark.parametrize("entry", ["http://intranet/", "two words", "", "a..b", "x" * 64])
def test_an_entry_that_is_no_host_and_no_network_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="neither a host name nor an address or CIDR block"):
        parse_allowance(entry)

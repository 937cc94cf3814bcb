"""The SSRF guard's address rules."""
from __future__ import annotations

import pytest

from shared.ssrf import AddressGuard, BlockedAddress


@pytest.mark.parametrize(
    "address, kind",
    [
        ("10.0.0.5", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
        ("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.10.1", "link-local"),
        ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.64.0.1", "CGNAT"),
        ("::ffff:10.0.0.1", "private"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"),
        ("fe80::1", "link-local"), ("fc00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    with pytest.raises(BlockedAddress, match=kind):
        AddressGuard().check_ip(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    AddressGuard().check_ip(address)


def test_the_allow_list_lets_a_range_through() -> None:
    guard = AddressGuard(["10.0.0.0/8"])
    guard.check_ip("10.1.2.3")
    with pytest.raises(BlockedAddress):
        guard.check_ip("192.168.0.1")


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.0/33'"):
        AddressGuard(["10.0.0.0/33"])

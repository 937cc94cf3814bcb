"""The SSRF guard's address rules and host checks (no real DNS: getaddrinfo, the far edge, is replaced).

How the guard is applied to real connections (pinning, parser tricks) is in tests/http/test_call_pinning.py.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from cronicorn.http.ssrf import Address, AddressGuard, BlockedAddress, UnresolvableHost


@pytest.mark.parametrize(
    "address, kind",
    [
        ("10.0.0.5", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fc00::1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved|private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_with_their_kind(address: str, kind: str) -> None:
    with pytest.raises(BlockedAddress, match=kind):
        AddressGuard().check_ip(address)


def test_the_message_names_the_address_and_how_to_allow_it() -> None:
    with pytest.raises(BlockedAddress) as err:
        AddressGuard().check_ip("10.0.0.5")
    assert str(err.value) == "refused by SSRF guard: 10.0.0.5 is a private address; allow it with CRONICORN_SSRF_ALLOW"


def test_an_ipv4_mapped_address_is_judged_by_the_address_it_wraps() -> None:
    with pytest.raises(BlockedAddress, match=r"::ffff:10\.0\.0\.1 \(10\.0\.0\.1\) is a private address"):
        AddressGuard().check_ip("::ffff:10.0.0.1")
    AddressGuard(["10.0.0.0/8"]).check_ip("::ffff:10.0.0.1")  # the IPv4 allow-list covers it too
    AddressGuard().check_ip("::ffff:8.8.8.8")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address: str) -> None:
    AddressGuard().check_ip(address)


def test_the_allow_list_lets_a_range_through_and_nothing_else() -> None:
    guard = AddressGuard(["10.0.0.0/8", "::1/128"])
    guard.check_ip("10.1.2.3")
    guard.check_ip("::1")
    for refused in ("192.168.0.1", "127.0.0.1", "169.254.169.254"):
        with pytest.raises(BlockedAddress):
            guard.check_ip(refused)


def test_the_metadata_address_can_be_allowed_only_explicitly() -> None:
    with pytest.raises(BlockedAddress):
        AddressGuard(["10.0.0.0/8"]).check_ip("169.254.169.254")
    AddressGuard(["169.254.169.254/32"]).check_ip("169.254.169.254")


def test_a_host_bit_cidr_is_accepted_as_its_network() -> None:
    AddressGuard(["10.1.2.3/8"]).check_ip("10.200.0.1")


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not-a-cidr", "", "10.0.0"])
def test_a_bad_allow_list_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match=repr(entry)):
        AddressGuard([entry])


def test_check_ip_refuses_a_name() -> None:
    with pytest.raises(ValueError):
        AddressGuard().check_ip("example.com")


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_info(a, port) for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _info(address: str, port: int) -> tuple[Any, ...]:
    ip, _, zone = address.partition("%")
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, int(zone or 0)))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))


def test_check_host_returns_every_address_once_when_all_are_public(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"api.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"]})
    addresses = AddressGuard().check_host("api.example.com", 443)
    assert [a.ip for a in addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert addresses[0] == Address(socket.AF_INET, 6, ("93.184.216.34", 443))


def test_the_addresses_keep_what_the_resolver_said_so_the_socket_reaches_exactly_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"printer.lan": ["fe80::1%3"]})  # a link-local answer is only reachable with its zone
    [address] = AddressGuard(["fe80::/10"]).check_host("printer.lan", 631)
    assert address.family == socket.AF_INET6 and address.sockaddr == ("fe80::1", 631, 0, 3)


def test_one_private_answer_refuses_the_host_and_the_message_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"sneaky.example.com": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(BlockedAddress) as err:
        AddressGuard().check_host("sneaky.example.com", 80)
    assert str(err.value) == (
        "refused by SSRF guard: sneaky.example.com resolves to 10.0.0.7, a private address; allow it with "
        "CRONICORN_SSRF_ALLOW"
    )


def test_a_host_that_is_an_address_gets_the_plain_message(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"169.254.169.254": ["169.254.169.254"]})
    with pytest.raises(BlockedAddress, match=r"^refused by SSRF guard: 169\.254\.169\.254 is a cloud metadata address"):
        AddressGuard().check_host("169.254.169.254", 80)


def test_an_unresolvable_host_is_a_gaierror_naming_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    with pytest.raises(socket.gaierror) as err:
        AddressGuard().check_host("nowhere.invalid", 80)
    assert isinstance(err.value, UnresolvableHost)
    assert str(err.value) == "could not resolve host nowhere.invalid: Name or service not known"


def test_a_host_with_no_address_is_unresolvable_not_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"empty.example.com": []})
    with pytest.raises(UnresolvableHost, match="could not resolve host empty.example.com: no address"):
        AddressGuard().check_host("empty.example.com", 80)


def test_an_allowed_private_host_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"db.internal": ["10.9.8.7"]})
    assert [a.ip for a in AddressGuard(["10.0.0.0/8"]).check_host("db.internal", 5432)] == ["10.9.8.7"]

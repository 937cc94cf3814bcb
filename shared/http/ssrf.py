"""SSRF guard: which addresses a scheduled call may reach, and the one lookup that finds them.

A host is resolved once, every address it resolved to is checked, and the connection is made to
those addresses only (transport.py): a refused address is refused before any packet leaves, so a
closed and an open port look the same, and a DNS answer that changes later changes nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services answer on these; named so the message says what was at stake.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# NAT64 gateways translate 64:ff9b::a.b.c.d to a.b.c.d, so the embedded IPv4 address is what is reached.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALLOW_SETTING = "CRONICORN_SSRF_ALLOW"


class BlockedAddress(Exception):
    """The target is, or resolves to, an address the guard refuses."""


class UnresolvableHost(socket.gaierror):
    """The target's host name has no address (a gaierror with a message naming the host)."""


def effective_ip(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address really reaches when it embeds one (mapped, NAT64, 6to4)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def _kind(ip: IPAddress) -> str | None:
    # Most specific first: metadata addresses are also link-local, loopback is also "private".
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"  # whatever the standard library knows beyond the named kinds
    return None


class AddressGuard:
    """Refuses private, loopback, link-local, metadata and other non-public addresses unless allowed."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        networks: list[IPNetwork] = []
        for cidr in allow:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError:
                raise ValueError(f"SSRF allow-list entry {cidr!r} is not a CIDR (e.g. 127.0.0.0/8)") from None
        self.allow: tuple[IPNetwork, ...] = tuple(networks)

    def check_ip(self, ip: str) -> None:
        """Raise BlockedAddress unless `ip` (a literal address; ValueError otherwise) may be called."""
        refused = self._refused(ip)
        if refused is not None:
            raise BlockedAddress(f"refused by SSRF guard: {refused[0]} is {refused[1]}; allow it with {ALLOW_SETTING}")

    def check_host(self, host: str, port: int, family: int = socket.AF_UNSPEC) -> list[Address]:
        """Resolve `host` once and check every address (one refused address refuses the host).

        The addresses returned are the ones to connect to, and the only ones: asking DNS again
        at connect time could answer differently (rebinding).
        """
        addresses = list(dict.fromkeys(Address(info[0], info[2], info[4]) for info in resolve(host, port, family)))
        if not addresses:
            raise UnresolvableHost(f"could not resolve host {host}: no address")
        bare = host.split("%", 1)[0]
        for address in dict.fromkeys(a.ip for a in addresses):
            refused = self._refused(address)
            if refused is None:
                continue
            if address == bare:
                self.check_ip(address)  # the host is the address itself: the plain message says it all
            raise BlockedAddress(
                f"refused by SSRF guard: {host} resolves to {refused[0]}, {refused[1]}; allow it with {ALLOW_SETTING}"
            )
        return addresses

    def _refused(self, ip: str) -> tuple[str, str] | None:
        """(how to show the address, what kind it is) when refused, else None."""
        text = ip.split("%", 1)[0]  # a zone (fe80::1%eth0) is not part of the address
        given: IPAddress = ipaddress.ip_address(text)
        real = effective_ip(given)
        if any(real in net or given in net for net in self.allow):
            return None
        kind = _kind(real)
        if kind is None:
            return None
        return (text if real == given else f"{text} ({real})"), kind


@dataclass(frozen=True)
class Address:
    """One address a host resolved to, as getaddrinfo gave it: a socket made from it reaches exactly it."""

    family: int
    proto: int
    sockaddr: tuple[Any, ...]  # (ip, port) or (ip, port, flowinfo, scope_id)

    @property
    def ip(self) -> str:
        return str(self.sockaddr[0])


def resolve(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple[Any, ...]]:
    """The far edge: the system resolver, looked up on each call (gevent patches it)."""
    try:
        return list(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM))
    except socket.gaierror as exc:
        raise UnresolvableHost(f"could not resolve host {host}: {exc.strerror or exc}") from exc
    except UnicodeError:
        raise UnresolvableHost(f"could not resolve host {host}: not a valid host name") from None

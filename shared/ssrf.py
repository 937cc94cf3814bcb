"""SSRF guard: which addresses a scheduled call may reach."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services answer on link-local addresses; named here so the message says so.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class BlockedAddress(Exception):
    """The target resolves to an address the guard refuses."""


def _kind(ip: IPAddress) -> str | None:
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.version == 4 and ip in CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    return None


class AddressGuard:
    """Refuses private, loopback, link-local, metadata and other non-public addresses unless allowed."""

    def __init__(self, allow: Sequence[str] = ()) -> None:
        networks = []
        for cidr in allow:
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise ValueError(f"SSRF allow-list entry {cidr!r} is not a CIDR (e.g. 127.0.0.0/8)") from None
        self.allow = tuple(networks)

    def check_ip(self, address: str) -> None:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
        if any(ip in net for net in self.allow):
            return
        kind = _kind(ip)
        if kind is not None:
            raise BlockedAddress(
                f"refused by SSRF guard: {ip} is {kind}; allow it with CRONICORN_SSRF_ALLOW"
            )

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve `host` and check every address; any refused address refuses the host."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            self.check_ip(address)
        return addresses

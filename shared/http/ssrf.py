"""SSRF guard: which addresses a scheduled call may reach."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import SplitResult

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

    def check_host(self, host: str, port: int | None = None) -> list[str]:
        """Resolve `host` and check every address (one refused address refuses the host); the addresses."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnresolvableHost(f"could not resolve host {host}: {exc.strerror or exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            refused = self._refused(address)
            if refused is None:
                continue
            if address.split("%", 1)[0] == host.strip("[]"):
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

    resolve = check_host  # earlier name, kept for callers that still use it


def port_of(parts: SplitResult) -> int:
    """The URL's port, or its scheme's default."""
    return parts.port or (443 if parts.scheme == "https" else 80)

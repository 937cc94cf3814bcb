"""URLs read by the parser that connects: urllib3's, never a second one.

Two parsers disagree on URLs such as `http://10.0.0.1:80\\@example.com/` (urllib.parse sees the
host example.com, urllib3 connects to 10.0.0.1). Whatever names a host here (the messages, a
redirect's origin, which credentials may follow it) reads it as the connection will; the SSRF
guard itself checks the host inside the connection (transport.py), so no parser can mislead it.
"""

from __future__ import annotations

from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

SCHEMES = ("http", "https")


def parse(url: str) -> Url:
    """The URL as urllib3 reads it; ValueError naming the problem when it cannot be called."""
    try:
        parts = parse_url(url)
    except LocationParseError as exc:
        raise ValueError(str(exc).removeprefix("Failed to parse: ")) from None
    if parts.scheme not in SCHEMES:
        raise ValueError("only http and https are allowed")
    if not parts.host:
        raise ValueError("no host")
    return parts


def host_of(url: str) -> str:
    """The host a message should name (an IPv6 address without its brackets), or the URL itself."""
    try:
        host = parse_url(url).host
    except LocationParseError:
        return url
    return host.strip("[]") if host else url


def port_of(parts: Url) -> int:
    """The URL's port, or its scheme's default."""
    return parts.port or (443 if parts.scheme == "https" else 80)


def same_origin(old: str, new: str) -> bool:
    """Whether a redirect from `old` to `new` stays with the same host and port, and on TLS if it was."""
    try:
        a, b = parse_url(old), parse_url(new)
    except LocationParseError:
        return False  # unreadable: the next hop fails, and nothing is trusted meanwhile
    downgrade = a.scheme == "https" and b.scheme != "https"
    return not downgrade and (a.host, port_of(a)) == (b.host, port_of(b))

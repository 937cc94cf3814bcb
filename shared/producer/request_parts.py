"""What an endpoint's HTTP request may be: a URL that can be called, headers HTTP can carry, a capped body.

Checked when an endpoint is declared (every edge goes through `cronicorn.producer.specs`), so a request
that could never be sent, or that is too big to store and send on every run, is refused with its field
named instead of failing on every run, or in the database.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import SplitResult, urlsplit

from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.storable import json_size, nested_problem

# RFC 9110 token: the only characters a header name may hold.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOST = re.compile(r"^[A-Za-z0-9._-]+$")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is the one control character a value may hold


def _show(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _host_problem(host: str) -> str | None:
    if ":" in host:  # urlsplit gives an IPv6 literal without its brackets
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"host {_show(host)} is not a valid IPv6 address"
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f"host {_show(host)} is not a valid domain name (empty or over-long label)"
    if not _HOST.match(ascii_host):
        return f"host {_show(host)} may hold only letters, digits, dots, hyphens and underscores"
    return None


def url_problem(value: str) -> str | None:
    """Why `value` is not a URL we can call, or None."""
    if any(c.isspace() or _CONTROL.match(c) for c in value):
        return "must not contain spaces, line breaks or control characters"
    try:
        parts: SplitResult = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        if "Port" in str(exc):
            return "port must be a number between 1 and 65535"
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if port == 0:
        return "port must be a number between 1 and 65535"
    return _host_problem(parts.hostname)


def _header_problem(name: str, value: str, caps: InputCaps) -> str | None:
    if len(name) > caps.max_header_name_chars:
        return (
            f"header name {_show(name)} is longer than {caps.max_header_name_chars} characters"
            " (CRONICORN_MAX_HEADER_NAME_CHARS)"
        )
    if not _TOKEN.match(name):
        return f"header name {_show(name)} may hold only letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons)"
    if len(value) > caps.max_header_value_chars:
        return (
            f"header {_show(name)}: value is longer than {caps.max_header_value_chars} characters"
            " (CRONICORN_MAX_HEADER_VALUE_CHARS)"
        )
    if _CONTROL.search(value):
        return f"header {_show(name)}: value must not contain line breaks, NUL or other control characters"
    if any(ord(c) > 0xFF for c in value):
        return f"header {_show(name)}: value may hold only Latin-1 characters (HTTP sends header values as bytes)"
    return None


def headers_problem(headers: dict[str, str], caps: InputCaps) -> str | None:
    """Why these request headers cannot be sent (or are more than the caps allow), or None."""
    if len(headers) > caps.max_headers:
        return f"at most {caps.max_headers} headers (CRONICORN_MAX_HEADERS), got {len(headers)}"
    seen: dict[str, str] = {}
    for name, value in headers.items():
        problem = _header_problem(name, value, caps)
        if problem is not None:
            return problem
        if name.lower() in seen:
            return f"headers {_show(seen[name.lower()])} and {_show(name)} are the same header (names ignore case)"
        seen[name.lower()] = name
    return None


def body_problem(body: Any, caps: InputCaps) -> str | None:
    """Why `body` is not a JSON document we store and send on every run, or None."""
    problem = nested_problem(body, strict_json=True)
    if problem is not None:
        return problem
    try:
        size = json_size(body)
    except ValueError:
        return "holds a number too long to write as JSON"
    if size > caps.max_body_bytes:
        return f"is {size} bytes as JSON, more than {caps.max_body_bytes} (CRONICORN_MAX_BODY_BYTES)"
    return None

"""Request signing: a receiver checks that a call came from its own tenant, unaltered and recent.

Scheme v1. Every request carries

    X-Cronicorn-Timestamp: <unix seconds>
    X-Cronicorn-Signature: v1=<hex>[,v1=<hex>...]     (one per live key of the tenant)

where `<hex>` is the lower-case hex HMAC-SHA256, keyed with the tenant's signing key, of the bytes

    "v1" LF <timestamp> LF <METHOD> LF <canonical URL> LF <exact body bytes sent>

(LF is one newline byte, the text parts UTF-8; the body is empty for GET, HEAD and DELETE).
`<METHOD>` is upper case. `<canonical URL>` is the URL the request was sent to: lower-case
scheme and host (IDNA-encoded, IPv6 in brackets), the port only when it is not the scheme's
default, the path ("/" when empty) and the query as sent (percent-encoded as on the request
line), no user info and no fragment. Each redirect hop is signed for its own method, URL and
body, so the receiver verifies the request it actually got.

Receivers refuse a timestamp more than `tolerance_s` (300 s) away from their clock, so a
captured request cannot be replayed later, and accept a request when any signature matches any
key they hold: during a rotation either the old or the new key works.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

SIGNATURE_HEADER = "X-Cronicorn-Signature"
TIMESTAMP_HEADER = "X-Cronicorn-Timestamp"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300
DEFAULT_PORTS = {"http": 80, "https": 443}
# A receiver looks at no more signatures than this: a rotation has a handful of live keys at most.
MAX_SIGNATURES = 16

Key = bytes | str


def canonical_url(url: str) -> str:
    """The URL as a receiver sees it on the wire, in one spelling (see the module docstring)."""
    prepared = requests.PreparedRequest()
    try:
        # The same normalisation requests applies before sending: IDNA host, re-quoted path and query.
        prepared.prepare_url(url, None)
        parts = urlsplit(prepared.url or url)
        port = parts.port
    except (requests.RequestException, ValueError, UnicodeError):
        return url  # such a URL cannot be sent either: the call fails before anything is signed or sent
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}{parts.path or '/'}{query}"


def string_to_sign(timestamp: int, method: str, url: str, body: bytes) -> bytes:
    """The exact bytes the HMAC covers."""
    head = f"{SCHEME}\n{timestamp}\n{method.upper()}\n{canonical_url(url)}\n"
    return head.encode() + body


def sign(key: Key, timestamp: int, method: str, url: str, body: bytes) -> str:
    """`v1=<hex>` for one key."""
    digest = hmac.new(_bytes(key), string_to_sign(timestamp, method, url, body), hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signature_headers(keys: Iterable[Key], method: str, url: str, body: bytes, now: datetime) -> dict[str, str]:
    """The two signing headers: one signature per key (several only while a rotation's grace runs)."""
    timestamp = _unix(now)
    signatures = [sign(k, timestamp, method, url, body) for k in _keys(keys)]
    return {SIGNATURE_HEADER: ",".join(signatures), TIMESTAMP_HEADER: str(timestamp)}


def verify(
    keys: Key | Iterable[Key],
    *,
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received call is signed by one of `keys` (one key, or the old and new during a rotation).

    Pass the request's method, its full URL (as the endpoint is registered: behind a proxy, the
    public URL, not the internal one), the raw body bytes and its headers (any case). False for a
    missing or malformed header, a timestamp more than `tolerance_s` seconds from `now` (default:
    the current time), or no signature that matches; never raises for what the sender controls.
    """
    if tolerance_s < 0:
        raise ValueError("tolerance_s must not be negative")
    key_list = _keys(keys)  # the receiver's own misconfiguration (no key, an empty key) raises
    now_ts = _unix(now if now is not None else datetime.now(UTC))
    found = {name.lower(): value for name, value in headers.items()}
    raw_ts, raw_sig = found.get(TIMESTAMP_HEADER.lower()), found.get(SIGNATURE_HEADER.lower())
    if not isinstance(raw_ts, str) or not isinstance(raw_sig, str):
        return False
    timestamp = _timestamp(raw_ts)
    # A bounded window stops a captured request from being replayed later (or "early", with a future stamp).
    if timestamp is None or abs(now_ts - timestamp) > tolerance_s:
        return False
    candidates = [s.strip().encode() for s in raw_sig.split(",")[:MAX_SIGNATURES]]
    expected = [sign(k, timestamp, method, url, body).encode() for k in key_list]
    # Every pair is compared in constant time, so timing tells nothing about how close a forgery came.
    matches = [hmac.compare_digest(e, c) for e in expected for c in candidates]
    return any(matches)


def _timestamp(raw: str) -> int | None:
    text = raw.strip()
    # Digits only: int() would also take "+1_700_000_000" or other spellings a signer never sends.
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def _keys(keys: Key | Iterable[Key]) -> list[bytes]:
    found = [_bytes(k) for k in ([keys] if isinstance(keys, (bytes, str)) else keys)]
    # An HMAC under an empty key is one anybody can compute: an unset secret must not pass for one.
    if not found or not all(found):
        raise ValueError("signing needs at least one non-empty key")
    return found


def _bytes(key: Key) -> bytes:
    return key.encode() if isinstance(key, str) else key


def _unix(now: datetime) -> int:
    # A naive datetime would be read as local time and shift the timestamp by the UTC offset.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("signing needs a timezone-aware datetime (UTC)")
    return int(now.timestamp())

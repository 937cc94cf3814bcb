"""Request signing: receivers check that a call came from this installation and was not altered."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

SIGNATURE_HEADER = "X-Cronicorn-Signature"
TIMESTAMP_HEADER = "X-Cronicorn-Timestamp"
PREFIX = "sha256="


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 over "{timestamp}." followed by the exact body bytes."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def signature_headers(key: bytes | Sequence[bytes], body: bytes, now: datetime) -> dict[str, str]:
    """The two signing headers; several keys give comma-separated signatures (only while a rotation's grace runs)."""
    timestamp = _unix(now)
    keys = [key] if isinstance(key, bytes) else list(key)
    if not keys:
        raise ValueError("signature_headers needs at least one key")
    return {SIGNATURE_HEADER: ",".join(sign(k, timestamp, body) for k in keys), TIMESTAMP_HEADER: str(timestamp)}


def verify(
    key: bytes, timestamp: str | int, body: bytes, signature: str, *, now: datetime, tolerance_s: int = 300
) -> bool:
    """What a receiver does: refuse stale timestamps, recompute, compare in constant time with each signature sent."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    # A bounded window stops a captured request from being replayed later.
    if abs(_unix(now) - ts) > tolerance_s:
        return False
    expected = sign(key, ts, body).encode()
    return any(hmac.compare_digest(expected, candidate.strip().encode()) for candidate in signature.split(","))


def _unix(now: datetime) -> int:
    # A naive datetime would be read as local time and shift the timestamp by the UTC offset.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("signing needs a timezone-aware datetime (UTC)")
    return int(now.timestamp())

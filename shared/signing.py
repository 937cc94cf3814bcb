"""Request signing: receivers check that a call came from this installation and was not altered."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

SIGNATURE_HEADER = "X-Cronicorn-Signature"
TIMESTAMP_HEADER = "X-Cronicorn-Timestamp"


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=` HMAC over "{timestamp}.{exact body bytes}"."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_headers(key: bytes, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {SIGNATURE_HEADER: sign(key, timestamp, body), TIMESTAMP_HEADER: str(timestamp)}


def verify(key: bytes, timestamp: str | int, body: bytes, signature: str, *, now: datetime, tolerance_s: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(key, ts, body), signature)


def generate_key() -> str:
    return secrets.token_urlsafe(32)

"""Request signing: receivers check that a call came from this installation and was not altered."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

SIGNATURE_HEADER = "X-Cronicorn-Signature"
TIMESTAMP_HEADER = "X-Cronicorn-Timestamp"


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=` HMAC over "{timestamp}.{exact body bytes}"."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_headers(keys: bytes | Sequence[bytes], body: bytes, now: datetime) -> dict[str, str]:
    """One signature per live key, comma-separated (two only while a rotation's grace runs)."""
    timestamp = int(now.timestamp())
    key_list = [keys] if isinstance(keys, bytes) else list(keys)
    return {SIGNATURE_HEADER: ",".join(sign(k, timestamp, body) for k in key_list), TIMESTAMP_HEADER: str(timestamp)}


def verify(key: bytes, timestamp: str | int, body: bytes, signature: str, *, now: datetime, tolerance_s: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time with any signature sent, refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    expected = sign(key, ts, body)
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in signature.split(","))


def generate_key() -> str:
    return secrets.token_urlsafe(32)

"""What a receiver does with a signed call: rebuild its own URL from the request and verify."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cronicorn import verify_signature
from tests.targets import Seen


def received_url(seen: Seen) -> str:
    """The URL as the receiving server knows it: its Host header and the request line's target."""
    return f"http://{seen.headers['Host']}{seen.path}"


def verifies(keys: bytes | str | Iterable[bytes | str], seen: Seen, *, now: datetime | None = None) -> bool:
    """Whether a receiver holding `keys` accepts the request `seen` (at `now`, default the real clock)."""
    return verify_signature(
        keys, method=seen.method, url=received_url(seen), body=seen.body, headers=seen.headers, now=now
    )

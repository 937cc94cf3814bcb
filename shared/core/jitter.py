"""Jitter: a fixed offset per slot, so endpoints that share a schedule do not all call at once.

The offset is a pure function of the endpoint's id and the slot (SHA-256, not Python's per-process
salted `hash`), so every process, every retried attempt and every re-claim of a slot computes the
same one: jitter never moves a slot that is already claimed. It stays below the gap to the
schedule's next slot, so jittered slots keep their order, and the slot it came from can be told
from the jittered time (see `cronicorn.core.governor.grid_anchor`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

_MS = timedelta(milliseconds=1)


def jitter_offset(endpoint_id: str, slot: datetime, *, jitter_ms: int, gap: timedelta) -> timedelta:
    """The offset of `slot`, in whole milliseconds in [0, min(jitter_ms, gap - 1 ms)]."""
    bound_ms = min(jitter_ms, gap // _MS - 1)
    if bound_ms <= 0:
        return timedelta(0)
    key = f"{endpoint_id}:{slot.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
    draw = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return timedelta(milliseconds=draw % (bound_ms + 1))

"""The one clock: aware UTC now. Policy never calls it; entry points pass it in as `now` or `clock`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

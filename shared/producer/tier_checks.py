"""Checking an endpoint against its tenant's tier: how many endpoints, how fast it may run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.core.schedule import next_cron_after
from cronicorn.core.tiers import Tier
from cronicorn.store.tables import endpoints, jobs


def _fastest_cron_gap_ms(expr: str, tz: str, now: datetime) -> int:
    at = now
    gaps = []
    for _ in range(48):
        nxt = next_cron_after(expr, tz, at)
        gaps.append((nxt - at).total_seconds() * 1000)
        at = nxt
    return int(min(gaps[1:]))


def apply_tier(
    conn: Connection, tenant_id: str, tier: Tier, spec: dict[str, Any], now: datetime, *, new: bool
) -> dict[str, Any]:
    """Check an endpoint against the tenant's tier; the minimum interval defaults to the tier's."""
    if new:
        count = conn.execute(
            select(func.count())
            .select_from(endpoints)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        ).scalar_one()
        if count >= tier.endpoints:
            raise Conflict(f"your tier allows {tier.endpoints} endpoints; archive one or upgrade")
    floor = tier.min_interval_ms
    if spec.get("baseline_interval_ms") is not None and spec["baseline_interval_ms"] < floor:
        raise InvalidInput.one("baseline_interval_ms", f"your tier allows intervals of at least {floor} ms")
    if (
        spec.get("baseline_cron")
        and _fastest_cron_gap_ms(spec["baseline_cron"], spec.get("timezone") or "UTC", now) < floor
    ):
        raise InvalidInput.one("baseline_cron", f"fires more often than your tier's minimum interval of {floor} ms")
    if spec.get("min_interval_ms") is not None and spec["min_interval_ms"] < floor:
        raise InvalidInput.one("min_interval_ms", f"your tier's minimum interval is {floor} ms")
    if spec.get("min_interval_ms") is None:
        spec = {**spec, "min_interval_ms": floor}  # hints can never run it faster than the tier allows
    return spec

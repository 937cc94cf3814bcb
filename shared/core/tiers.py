"""Tenant tiers: how many endpoints, how fast, how many runs and AI tokens a month."""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, func, select

from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.core.schedule import next_cron_after
from cronicorn.store.tables import endpoints, jobs


@dataclass(frozen=True)
class Tier:
    endpoints: int
    min_interval_ms: int
    runs_per_month: int
    ai_tokens_per_month: int


# The original's tiers; CRONICORN_TIERS (JSON) replaces or adds tiers by name.
DEFAULT_TIERS: dict[str, Tier] = {
    "free": Tier(endpoints=5, min_interval_ms=60_000, runs_per_month=10_000, ai_tokens_per_month=100_000),
    "pro": Tier(endpoints=100, min_interval_ms=10_000, runs_per_month=100_000, ai_tokens_per_month=2_000_000),
    "enterprise": Tier(endpoints=1_000, min_interval_ms=1_000, runs_per_month=1_000_000, ai_tokens_per_month=20_000_000),
}


def parse_tiers(raw: str) -> dict[str, Tier]:
    """DEFAULT_TIERS overridden by a JSON object {"name": {"endpoints": .., ...}}."""
    tiers = dict(DEFAULT_TIERS)
    if not raw.strip():
        return tiers
    try:
        data = json.loads(raw)
        names = {f.name for f in fields(Tier)}
        for name, values in data.items():
            if set(values) != names or not all(isinstance(v, int) and v >= 0 for v in values.values()):
                raise ValueError(f"tier {name!r} needs whole numbers for {', '.join(sorted(names))}")
            tiers[name] = Tier(**values)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"CRONICORN_TIERS: {exc}") from None
    return tiers


def _fastest_cron_gap_ms(expr: str, tz: str) -> int:
    at = datetime.now(timezone.utc)
    gaps = []
    for _ in range(48):
        nxt = next_cron_after(expr, tz, at)
        gaps.append((nxt - at).total_seconds() * 1000)
        at = nxt
    return int(min(gaps[1:]))


def apply_tier(conn: Connection, tenant_id: str, tier: Tier, spec: dict[str, Any], *, new: bool) -> dict[str, Any]:
    """Check an endpoint against the tenant's tier; the minimum interval defaults to the tier's."""
    if new:
        count = conn.execute(
            select(func.count()).select_from(endpoints).join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        ).scalar_one()
        if count >= tier.endpoints:
            raise Conflict(f"your tier allows {tier.endpoints} endpoints; archive one or upgrade")
    floor = tier.min_interval_ms
    if spec.get("baseline_interval_ms") is not None and spec["baseline_interval_ms"] < floor:
        raise InvalidInput.one("baseline_interval_ms", f"your tier allows intervals of at least {floor} ms")
    if spec.get("baseline_cron") and _fastest_cron_gap_ms(spec["baseline_cron"], spec.get("timezone") or "UTC") < floor:
        raise InvalidInput.one("baseline_cron", f"fires more often than your tier's minimum interval of {floor} ms")
    if spec.get("min_interval_ms") is not None and spec["min_interval_ms"] < floor:
        raise InvalidInput.one("min_interval_ms", f"your tier's minimum interval is {floor} ms")
    if spec.get("min_interval_ms") is None:
        spec = {**spec, "min_interval_ms": floor}  # hints can never run it faster than the tier allows
    return spec


def month_after(now: datetime) -> datetime:
    first = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)

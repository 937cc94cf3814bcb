"""Tenant tiers: how many endpoints, how fast, how many runs and AI tokens a month."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from cronicorn.core.errors import InvalidInput


@dataclass(frozen=True)
class Tier:
    endpoints: int
    min_interval_ms: int
    runs_per_month: int
    ai_tokens_per_month: int


# A tenant of one's own installation is not limited: tiers are for a hosted service selling plans.
UNLIMITED = "unlimited"

# The original's tiers; CRONICORN_TIERS (JSON) replaces or adds tiers by name.
DEFAULT_TIERS: dict[str, Tier] = {
    "free": Tier(endpoints=5, min_interval_ms=60_000, runs_per_month=10_000, ai_tokens_per_month=100_000),
    "pro": Tier(endpoints=100, min_interval_ms=10_000, runs_per_month=100_000, ai_tokens_per_month=2_000_000),
    "enterprise": Tier(
        endpoints=1_000, min_interval_ms=1_000, runs_per_month=1_000_000, ai_tokens_per_month=20_000_000
    ),
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
            if name == UNLIMITED:
                raise ValueError(f"{UNLIMITED!r} is the name of no limits and cannot be defined")
            if set(values) != names or not all(isinstance(v, int) and v >= 0 for v in values.values()):
                raise ValueError(f"tier {name!r} needs whole numbers for {', '.join(sorted(names))}")
            tiers[name] = Tier(**values)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"CRONICORN_TIERS: {exc}") from None
    return tiers


def check_tier_name(name: str, tiers: Mapping[str, Tier]) -> None:
    """Refuse a tier name that is neither a defined tier nor `unlimited`, naming the field `tier`."""
    if name != UNLIMITED and name not in tiers:
        known = ", ".join([UNLIMITED, *sorted(tiers)])
        raise InvalidInput.one("tier", f"unknown tier {name!r}; one of {known} (CRONICORN_TIERS adds tiers)")


def month_after(now: datetime) -> datetime:
    first = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)

"""Health of an installation: database, Redis, broker queue depths and tick freshness."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import Engine, text

from cronicorn.core.constants import QUEUES
from cronicorn.redis.keys import last_tick

TICK_STALE_AFTER_S = 10.0


def tick_age(client: redis.Redis, now: datetime) -> float | None:
    """Seconds since the last tick, or None if no tick was ever recorded."""
    raw = client.get(last_tick())
    stamp = raw.decode() if isinstance(raw, bytes) else raw
    return (now - datetime.fromisoformat(stamp)).total_seconds() if stamp else None


def redis_queue_depths(broker: redis.Redis) -> dict[str, int]:
    """Messages waiting per role queue (with the Redis transport each queue is a list named after it)."""
    return {name: int(broker.llen(name)) for name in QUEUES}


def check_health(
    engine: Engine,
    client: redis.Redis,
    now: datetime,
    *,
    broker: redis.Redis | None = None,
    queue_depths: Callable[[], dict[str, int]] | None = None,
) -> dict[str, Any]:
    """A report whose `status` is "ok" only when the database and Redis answer and ticks are fresh."""
    checks: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, reported by name
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        client.ping()
        age = tick_age(client, now)
        checks["redis"] = "ok"
        checks["tick"] = "ok" if age is not None and age <= TICK_STALE_AFTER_S else "stale"
        checks["tick_age_seconds"] = round(age, 3) if age is not None else None
        # With the Redis transport each queue is a list named after it; another broker says itself.
        checks["queue_depths"] = queue_depths() if queue_depths else redis_queue_depths(broker or client)
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
        checks["tick"] = "unknown"
    healthy = checks["database"] == "ok" and checks["redis"] == "ok" and checks["tick"] == "ok"
    return {"status": "ok" if healthy else "unhealthy", "checks": checks}

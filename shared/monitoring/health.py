"""Health of an installation: database, Redis, broker queue depths and tick freshness."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import redis
from sqlalchemy import Engine, text

from cronicorn.core.constants import QUEUES
from cronicorn.core.settings import Settings
from cronicorn.monitoring import rabbitmq
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


def queue_depth_reader(settings: Settings, client: redis.Redis) -> Callable[[], dict[str, int]]:
    """How to read the role queues' depths on the configured broker, for every place that shows them
    (health, metrics, the dashboard): RabbitMQ says itself (a passive declare); with the Redis
    transport each queue is a list on the broker's Redis, which may be another server than `client`."""
    if settings.broker_is_amqp:
        return partial(rabbitmq.queue_depths, settings.effective_broker_url, QUEUES)
    url = settings.effective_broker_url
    if url == settings.effective_redis_url:
        return partial(redis_queue_depths, client)
    return partial(redis_queue_depths, redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))


def check_health(
    engine: Engine,
    client: redis.Redis,
    now: datetime,
    *,
    queue_depths: Callable[[], dict[str, int]] | None = None,
) -> dict[str, Any]:
    """A report whose `status` is "ok" only when the database and Redis answer and ticks are fresh.

    `queue_depths`: `queue_depth_reader`'s; without it, the Redis lists on `client`."""
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
        checks["queue_depths"] = queue_depths() if queue_depths else redis_queue_depths(client)
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
        checks["tick"] = "unknown"
    healthy = checks["database"] == "ok" and checks["redis"] == "ok" and checks["tick"] == "ok"
    return {"status": "ok" if healthy else "unhealthy", "checks": checks}

"""Per-key rate limits kept in Redis, so they hold across any number of API replicas."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from cronicorn.redis.keys import rate_window


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window ends


def hit(client: Redis, key_id: str, kind: str, limit: int, *, now_s: float, window_s: int = 60) -> RateDecision:
    """Count one request in the current fixed window and say whether it is allowed."""
    window = int(now_s // window_s)
    name = rate_window(key_id, kind, window)
    pipe = client.pipeline()
    pipe.incr(name)
    pipe.expire(name, window_s * 2)
    count = int(pipe.execute()[0])
    reset = int((window + 1) * window_s - now_s) or 1
    return RateDecision(allowed=count <= limit, limit=limit, remaining=max(0, limit - count), reset_s=reset)

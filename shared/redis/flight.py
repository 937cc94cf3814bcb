"""One tick at a time: a tick holds the flight while it claims, and the next one waits its turn.

Each tick claims for its whole interval (see `cronicorn.dispatch.tick`), so with two beats or
two scheduler workers, ticks would overlap and poll the database twice as often for nothing.
The flight is an efficiency measure, not a safety one: claims are atomic whoever makes them, so
if Redis is unreachable (or the flight's expiry passes while a tick is stuck) ticks simply run
side by side until it is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import LockError, RedisError

from cronicorn.redis.keys import notify_flight, tick_flight


@contextmanager
def tick_flight_held(client: Redis, *, hold_s: float, wait_s: float) -> Iterator[bool]:
    """Yields True once this tick may claim (after waiting up to `wait_s` for the one before it
    to end), False if the one before it still runs. The flight expires after `hold_s`, so a tick
    killed while holding it blocks the next for that long at most."""
    with _flight_held(client, tick_flight(), hold_s=hold_s, wait_s=wait_s) as held:
        yield held


@contextmanager
def notify_flight_held(client: Redis, *, hold_s: float) -> Iterator[bool]:
    """One notification delivery round at a time: a round that finds another running yields False
    at once, so slow webhooks hold at most one scheduler thread, never the ticks' (same rules)."""
    with _flight_held(client, notify_flight(), hold_s=hold_s, wait_s=0) as held:
        yield held


@contextmanager
def _flight_held(client: Redis, key: str, *, hold_s: float, wait_s: float) -> Iterator[bool]:
    # Polled every 10 ms: the hand-over from one tick to the next is a gap in claiming.
    lock = client.lock(key, timeout=hold_s, sleep=0.01, blocking_timeout=wait_s)
    try:
        held = lock.acquire()
    except RedisError:
        yield True  # no Redis, no flight: claiming side by side is safe, only dearer
        return
    try:
        yield held
    finally:
        if held:
            try:
                lock.release()
            except (LockError, RedisError):
                pass  # expired and maybe taken by the next tick, or Redis is gone: nothing to free

"""Per-endpoint Redis locks: no two executions of one endpoint ever overlap (promise 1)."""
from __future__ import annotations

from redis import Redis
from redis.lock import Lock

from shared.keys import endpoint_lock


def endpoint_lock_for(client: Redis, endpoint_id: str, *, lease_s: float) -> Lock:
    """A redis-py Lock with an owner token; extend and release compare that token atomically.

    The lock expires with the attempt's lease, so a worker that dies holding it cannot keep
    the endpoint blocked for longer than the lease the database already promises.
    """
    lock: Lock = client.lock(endpoint_lock(endpoint_id), timeout=lease_s, blocking=False, thread_local=False)
    return lock

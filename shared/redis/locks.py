"""Per-endpoint Redis locks: no two executions of one endpoint ever overlap (promise 1)."""

from __future__ import annotations

import uuid

from redis import Redis

from cronicorn.redis.keys import endpoint_lock

# Delete the key only if it still holds our token (the lock may have expired and been retaken).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# Push the expiry on only if the key still holds our token: the heartbeat of a call in flight.
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


class EndpointLocks:
    """Per-endpoint locks for a batch: one pipelined round trip takes or releases many.

    Each lock is a key holding a unique owner token, expiring with the attempt's lease (so a
    worker that dies holding it cannot block the endpoint longer than the database's lease),
    and released only by the token's owner (a Lua compare-and-delete). Not redis-py's `Lock`:
    that takes one lock per round trip (and runs a script per release), while a batch of
    claims needs all of its locks in one pipeline.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def acquire(self, leases_ms: dict[str, int], held: dict[str, str]) -> set[str]:
        """Take the free locks among `leases_ms`; tokens go into `held`. Ids already in `held` count as taken."""
        wanted = [eid for eid in leases_ms if eid not in held]
        tokens = {eid: uuid.uuid4().hex for eid in wanted}
        pipe = self._client.pipeline(transaction=False)
        for eid in wanted:
            pipe.set(endpoint_lock(eid), tokens[eid], nx=True, px=max(1, leases_ms[eid]))
        for eid, ok in zip(wanted, pipe.execute() if wanted else [], strict=True):
            if ok:
                held[eid] = tokens[eid]
        return {eid for eid in leases_ms if eid in held}

    def release(self, held: dict[str, str]) -> list[str]:
        """Release the given locks; returns the ids whose lock had already expired (lease outlived)."""
        if not held:
            return []
        pipe = self._client.pipeline(transaction=False)
        for eid, token in held.items():
            self._release(keys=[endpoint_lock(eid)], args=[token], client=pipe)
        return [eid for eid, released in zip(held, pipe.execute(), strict=True) if not released]

    def extend(self, held: dict[str, str], ttl_ms: int) -> set[str]:
        """Give the held locks `ttl_ms` more from now; returns the ids still ours (the others
        expired, and may belong to another execution now)."""
        if not held:
            return set()
        pipe = self._client.pipeline(transaction=False)
        for eid, token in held.items():
            self._extend(keys=[endpoint_lock(eid)], args=[token, max(1, ttl_ms)], client=pipe)
        return {eid for eid, ok in zip(held, pipe.execute(), strict=True) if ok}

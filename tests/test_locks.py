"""Per-endpoint locks on real Redis: one holder, owner-token release, expiry with the lease."""

from __future__ import annotations

import time

import redis

from cronicorn.redis.keys import endpoint_lock
from cronicorn.redis.locks import EndpointLocks


def holder_of(redis_conn: redis.Redis, endpoint_id: str) -> bytes | None:
    """The owner token the endpoint's lock holds now (None: free)."""
    token: bytes | None = redis_conn.get(endpoint_lock(endpoint_id))
    return token


def test_a_second_holder_cannot_take_a_held_endpoint_lock(redis_conn: redis.Redis) -> None:
    first, first_held = EndpointLocks(redis_conn), {}
    second, second_held = EndpointLocks(redis_conn), {}
    assert first.acquire({"ep-1": 10_000}, first_held) == {"ep-1"}
    assert second.acquire({"ep-1": 10_000}, second_held) == set() and second_held == {}
    assert first.release(first_held) == []
    assert second.acquire({"ep-1": 10_000}, second_held) == {"ep-1"}


def test_locks_of_different_endpoints_are_independent(redis_conn: redis.Redis) -> None:
    assert EndpointLocks(redis_conn).acquire({"ep-1": 10_000}, {}) == {"ep-1"}
    assert EndpointLocks(redis_conn).acquire({"ep-2": 10_000}, {}) == {"ep-2"}


def test_release_by_a_non_owner_is_refused_by_token(redis_conn: redis.Redis) -> None:
    owner, owner_held = EndpointLocks(redis_conn), {}
    assert owner.acquire({"ep-1": 300}, owner_held) == {"ep-1"}
    time.sleep(0.5)  # the owner's lease ran out ...
    thief, thief_held = EndpointLocks(redis_conn), {}
    assert thief.acquire({"ep-1": 10_000}, thief_held) == {"ep-1"}  # ... so a new attempt may take it
    assert owner.release(owner_held) == ["ep-1"]  # and the old owner cannot release the new holder's lock
    assert holder_of(redis_conn, "ep-1") == thief_held["ep-1"].encode()
    # Nor can anyone who never held it, while the holder's lease still runs.
    assert EndpointLocks(redis_conn).release({"ep-1": "not-the-owner"}) == ["ep-1"]
    assert holder_of(redis_conn, "ep-1") == thief_held["ep-1"].encode()


def test_a_lock_is_held_for_its_whole_lease_and_then_expires(redis_conn: redis.Redis) -> None:
    owner, held = EndpointLocks(redis_conn), {}
    assert owner.acquire({"ep-1": 1_500}, held) == {"ep-1"}
    time.sleep(0.5)
    assert EndpointLocks(redis_conn).acquire({"ep-1": 10_000}, {}) == set()  # still within the lease
    # The holder asking again neither conflicts with itself nor renews the token.
    token = held["ep-1"]
    assert owner.acquire({"ep-1": 1_500}, held) == {"ep-1"} and held["ep-1"] == token
    time.sleep(1.2)
    assert EndpointLocks(redis_conn).acquire({"ep-1": 10_000}, {}) == {"ep-1"}  # the lease ended: free again


def test_batch_locks_take_the_free_ones_and_respect_another_executions_lock(redis_conn: redis.Redis) -> None:
    other, other_held = EndpointLocks(redis_conn), {}
    assert other.acquire({"ep-2": 10_000}, other_held) == {"ep-2"}  # held by another execution
    locks, held = EndpointLocks(redis_conn), {}
    assert locks.acquire({"ep-1": 10_000, "ep-2": 10_000, "ep-3": 10_000}, held) == {"ep-1", "ep-3"}
    assert set(held) == {"ep-1", "ep-3"}
    # Asking again for what this batch already holds is not a conflict with itself.
    assert locks.acquire({"ep-1": 10_000}, held) == {"ep-1"}
    assert EndpointLocks(redis_conn).acquire({"ep-1": 10_000}, {}) == set()
    assert 0 < redis_conn.pttl(endpoint_lock("ep-1")) <= 10_000  # it expires with the lease
    assert locks.release(held) == []
    assert EndpointLocks(redis_conn).acquire({"ep-1": 10_000}, {}) == {"ep-1"}
    assert holder_of(redis_conn, "ep-2") == other_held["ep-2"].encode()  # never released by the batch


def test_batch_release_never_frees_a_lock_retaken_after_expiry(redis_conn: redis.Redis) -> None:
    locks, held = EndpointLocks(redis_conn), {}
    assert locks.acquire({"ep-1": 200}, held) == {"ep-1"}
    time.sleep(0.3)  # the lease ran out ...
    thief, thief_held = EndpointLocks(redis_conn), {}
    assert thief.acquire({"ep-1": 10_000}, thief_held) == {"ep-1"}  # ... and another execution took the endpoint
    assert locks.release(held) == ["ep-1"]  # reported as expired, and left alone
    assert holder_of(redis_conn, "ep-1") == thief_held["ep-1"].encode()

"""Per-endpoint locks on real Redis: one holder, owner-token release, expiry with the lease."""
from __future__ import annotations

import time

import pytest
import redis
from redis.exceptions import LockNotOwnedError

from cronicorn.redis.keys import endpoint_lock
from cronicorn.redis.locks import endpoint_lock_for


def test_a_second_holder_cannot_take_a_held_endpoint_lock(redis_conn: redis.Redis) -> None:
    first = endpoint_lock_for(redis_conn, "ep-1", lease_s=10)
    second = endpoint_lock_for(redis_conn, "ep-1", lease_s=10)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()


def test_locks_of_different_endpoints_are_independent(redis_conn: redis.Redis) -> None:
    assert endpoint_lock_for(redis_conn, "ep-1", lease_s=10).acquire()
    assert endpoint_lock_for(redis_conn, "ep-2", lease_s=10).acquire()


def test_release_by_a_non_owner_is_refused_by_token(redis_conn: redis.Redis) -> None:
    owner = endpoint_lock_for(redis_conn, "ep-1", lease_s=0.3)
    assert owner.acquire()
    time.sleep(0.5)  # the owner's lease ran out ...
    thief = endpoint_lock_for(redis_conn, "ep-1", lease_s=10)
    assert thief.acquire()  # ... so a new attempt may take it
    with pytest.raises(LockNotOwnedError):
        owner.release()  # and the old owner cannot release the new holder's lock
    assert redis_conn.get(endpoint_lock("ep-1")) is not None


def test_extend_compares_the_owner_token(redis_conn: redis.Redis) -> None:
    owner = endpoint_lock_for(redis_conn, "ep-1", lease_s=0.3)
    assert owner.acquire()
    owner.extend(5)
    time.sleep(0.5)
    assert not endpoint_lock_for(redis_conn, "ep-1", lease_s=10).acquire()


def test_batch_locks_take_the_free_ones_and_respect_a_redis_py_lock(redis_conn: redis.Redis) -> None:
    from cronicorn.redis.locks import EndpointLocks

    other = endpoint_lock_for(redis_conn, "ep-2", lease_s=10)
    assert other.acquire()  # held by another execution, taken the single-endpoint way
    locks, held = EndpointLocks(redis_conn), {}
    assert locks.acquire({"ep-1": 10_000, "ep-2": 10_000, "ep-3": 10_000}, held) == {"ep-1", "ep-3"}
    assert set(held) == {"ep-1", "ep-3"}
    # Asking again for what this batch already holds is not a conflict with itself.
    assert locks.acquire({"ep-1": 10_000}, held) == {"ep-1"}
    assert not endpoint_lock_for(redis_conn, "ep-1", lease_s=10).acquire()
    assert 0 < redis_conn.pttl(endpoint_lock("ep-1")) <= 10_000  # it expires with the lease
    assert locks.release(held) == []
    assert endpoint_lock_for(redis_conn, "ep-1", lease_s=10).acquire()
    assert other.owned()  # never released by the batch


def test_batch_release_never_frees_a_lock_retaken_after_expiry(redis_conn: redis.Redis) -> None:
    from cronicorn.redis.locks import EndpointLocks

    locks, held = EndpointLocks(redis_conn), {}
    assert locks.acquire({"ep-1": 200}, held) == {"ep-1"}
    time.sleep(0.3)  # the lease ran out ...
    thief = endpoint_lock_for(redis_conn, "ep-1", lease_s=10)
    assert thief.acquire()  # ... and another execution took the endpoint
    assert locks.release(held) == ["ep-1"]  # reported as expired, and left alone
    assert thief.owned()


"""Per-endpoint locks on real Redis: one holder, owner-token release, expiry with the lease."""
from __future__ import annotations

import time

import pytest
import redis
from redis.exceptions import LockNotOwnedError

from shared.keys import endpoint_lock
from shared.locks import endpoint_lock_for


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

"""A worker process's runtime: built once, and what it starts with kept out of the collector's way."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.workers.runtime import reset_runtime, runtime
from tests.services import REDIS_URL


@pytest.fixture
def fresh_runtime(sqlite_engine: Engine, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CRONICORN_DATABASE_URL", sqlite_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    gc.unfreeze()
    reset_runtime()
    yield
    reset_runtime()
    gc.unfreeze()


@pytest.mark.usefixtures("fresh_runtime")
def test_the_objects_a_worker_starts_with_are_frozen_so_a_full_collection_does_not_stop_it_for_long() -> None:
    assert gc.get_freeze_count() == 0
    first = runtime()
    frozen = gc.get_freeze_count()
    # Modules, Celery, SQLAlchemy and the runtime itself: a full collection no longer walks them
    # (it took 100 to 250 ms with the process stopped, every 10 to 30 s under load).
    assert frozen > 100_000
    assert runtime() is first and gc.get_freeze_count() == frozen  # built and frozen once

"""Fixtures: real SQLite and PostgreSQL (migrated to head), real Redis flushed before and after."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.producer.client import Cronicorn
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from tests.api_client import Api, serve_api
from tests.clients import Clock
from tests.services import postgres_engine, redis_client, reset_schema, truncate_all
from tests.targets import TargetServer


@pytest.fixture(scope="session")
def _pg_engine() -> Iterator[Engine]:
    engine = postgres_engine()
    reset_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cronicorn.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(_pg_engine: Engine) -> Iterator[Engine]:
    truncate_all(_pg_engine)
    yield _pg_engine
    truncate_all(_pg_engine)


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Every store test runs on both engines."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def target() -> Iterator[TargetServer]:
    """A real local HTTP target that records what it receives (see tests/targets.py)."""
    server = TargetServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Cronicorn:
    """A producer client on both engines with a clock the test moves."""
    return Cronicorn(engine, clock=clock)


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def api_pair(engine: Engine, redis_conn: redis.Redis) -> Iterator[tuple[Api, Api, Engine]]:
    """The REST API in-process with two enterprise tenants, "acme" and "other", each with a key."""
    with serve_api(engine, redis_conn, {"acme": "enterprise", "other": "enterprise"}) as (acme, other):
        yield acme, other, engine

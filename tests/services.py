"""Real services for tests: PostgreSQL, Redis and RabbitMQ, skipped locally and failed on CI when absent."""

from __future__ import annotations

import os

import pytest
import redis
from kombu import Connection
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cronicorn.core.constants import QUEUES
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.store.tables import metadata

POSTGRES_URL = os.environ.get(
    "CRONICORN_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/cronicorn_test"
)
REDIS_URL = os.environ.get("CRONICORN_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
RABBITMQ_URL = os.environ.get("CRONICORN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
ON_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip locally with the reason; on CI a missing service is a failure, never a skip."""
    if ON_CI:
        pytest.fail(f"required service unavailable on CI: {reason}")
    pytest.skip(reason)


def ensure_postgres_database(url: str = POSTGRES_URL) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def postgres_engine() -> Engine:
    try:
        ensure_postgres_database()
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the service means "unavailable"
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}: {exc}")
        raise
    return engine


def reset_schema(engine: Engine) -> None:
    """Drop everything and migrate to head: every test starts from the real migrated schema."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


def rabbitmq_broker(queues: tuple[str, ...] = QUEUES) -> str:
    """RabbitMQ's URL, with our queues emptied of what an earlier test left (skipped/failed if unreachable)."""
    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            for name in queues:
                try:
                    channel.queue_purge(name)
                except conn.channel_errors:  # no such queue yet: the channel is closed, take a new one
                    channel = conn.channel()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the service means "unavailable"
        unavailable(f"RabbitMQ not reachable at {RABBITMQ_URL}: {exc.__class__.__name__}: {exc}")
    return RABBITMQ_URL

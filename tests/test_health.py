"""`cronicorn health`: unhealthy (exit 1) when Redis is stopped or ticks stop, healthy again after."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.redis.keys import last_tick
from cronicorn.shell.bundled_redis import free_port, start_bundled_redis
from cronicorn.shell.cli import main


def report(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["health"])
    return code, json.loads(capsys.readouterr().out)


def test_health_follows_redis_and_the_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    proc, url = start_bundled_redis(tmp_path / "redis", port)
    monkeypatch.setenv("CRONICORN_HOME", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("CRONICORN_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRONICORN_BROKER_URL", raising=False)
    main(["migrate"])
    capsys.readouterr()

    def tick() -> None:
        redis.Redis.from_url(url).set(last_tick(), datetime.now(UTC).isoformat())

    try:
        tick()
        code, healthy = report(capsys)
        assert code == 0 and healthy["checks"]["tick"] == "ok" and healthy["checks"]["queue_depths"]["execute"] == 0
        redis.Redis.from_url(url).set(last_tick(), (datetime.now(UTC) - timedelta(minutes=1)).isoformat())
        code, stale = report(capsys)
        assert code == 1 and stale["checks"]["tick"] == "stale"
        proc.kill()
        proc.wait()
        code, down = report(capsys)
        assert code == 1 and down["checks"]["redis"].startswith("error")
        proc, _ = start_bundled_redis(tmp_path / "redis", port)
        tick()
        code, back = report(capsys)
        assert code == 0 and back["status"] == "ok"
    finally:
        proc.kill()


def test_health_reads_queue_depths_from_a_rabbitmq_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kombu import Connection

    from tests.services import rabbitmq_broker

    broker = rabbitmq_broker()  # skipped locally (failed on CI) without RabbitMQ; our queues emptied
    port = free_port()
    proc, url = start_bundled_redis(tmp_path / "redis", port)
    monkeypatch.setenv("CRONICORN_HOME", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("CRONICORN_BROKER_URL", broker)
    monkeypatch.delenv("CRONICORN_DATABASE_URL", raising=False)
    main(["migrate"])
    capsys.readouterr()
    try:
        with Connection(broker) as conn:
            queue = conn.SimpleQueue("analysis")
            queue.put({"n": 1})
            queue.put({"n": 2})
            queue.close()
        redis.Redis.from_url(url).set(last_tick(), datetime.now(UTC).isoformat())
        code, healthy = report(capsys)
        assert code == 0, healthy
        assert healthy["checks"]["queue_depths"]["analysis"] == 2
    finally:
        rabbitmq_broker()
        proc.terminate()
        proc.wait()


def test_the_api_health_reads_queue_depths_from_a_rabbitmq_broker(engine: Engine, redis_conn: redis.Redis) -> None:
    from kombu import Connection

    from tests.api_client import serve_api
    from tests.services import rabbitmq_broker

    broker = rabbitmq_broker()
    try:
        with Connection(broker) as conn:
            queue = conn.SimpleQueue("analysis")
            queue.put({"n": 1})
            queue.close()
        with serve_api(engine, redis_conn, {"acme": "enterprise"}, {"CRONICORN_BROKER_URL": broker}) as [api]:
            checks = api.http.get("/api/health").json()["checks"]
        assert checks.get("queueDepths") == {"scheduler": 0, "execute": 0, "analysis": 1}, checks
    finally:
        rabbitmq_broker()


def test_the_metrics_read_queue_depths_from_a_rabbitmq_broker(engine: Engine, redis_conn: redis.Redis) -> None:
    """Health, metrics and the dashboard read depths one way: from the broker that carries the queues."""
    from kombu import Connection

    from tests.api_client import serve_api
    from tests.services import rabbitmq_broker

    broker = rabbitmq_broker()
    try:
        with Connection(broker) as conn:
            queue = conn.SimpleQueue("analysis")
            for n in range(3):
                queue.put({"n": n})
            queue.close()
        redis_conn.rpush("analysis", "not a message of this broker")  # a Redis list would say 1
        with serve_api(engine, redis_conn, {"acme": "enterprise"}, {"CRONICORN_BROKER_URL": broker}) as [api]:
            text = api.http.get("/metrics").text
        assert 'cronicorn_queue_depth{queue="analysis"} 3.0' in text, text
        assert 'cronicorn_queue_depth{queue="execute"} 0.0' in text
    finally:
        redis_conn.delete("analysis")
        rabbitmq_broker()

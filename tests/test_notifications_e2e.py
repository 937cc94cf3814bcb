"""End to end: a failing endpoint on real workers and beat notifies a real local webhook receiver,
once when its streak reaches the threshold and once when it recovers (Redis and RabbitMQ brokers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.producer.client import Cronicorn
from tests.cluster import Cluster, wait_for
from tests.receiver import verifies
from tests.services import POSTGRES_URL, REDIS_URL, rabbitmq_broker
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["redis", "rabbitmq"])
def cluster(
    request: pytest.FixtureRequest, pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path
) -> Iterator[Cluster]:
    broker = rabbitmq_broker() if request.param == "rabbitmq" else REDIS_URL
    env = {"CRONICORN_BROKER_URL": broker, "CRONICORN_NOTIFY_INTERVAL_S": "0.5"}
    c = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path, extra_env=env)
    yield c
    c.stop()


def events(target: TargetServer) -> list[str]:
    return [json.loads(s.body)["event"] for s in target.requests_to("/fixed/hook")]


def test_a_failing_endpoint_on_real_workers_notifies_once_and_again_when_it_recovers(
    cluster: Cluster, pg_engine: Engine, target: TargetServer
) -> None:
    client = Cronicorn(pg_engine)
    target.fixed["svc"] = (503, {"error": "down"})
    target.fixed["hook"] = (200, {"ok": True})
    job = client.create_job(name="e2e-notify")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/fixed/svc"), baseline_interval_ms=1000)
    channel = client.add_notification_channel("webhook", target.url("/fixed/hook"), failure_threshold=2)
    cluster.start_all()
    try:
        wait_for(lambda: events(target) == ["failing"], 40, "the failing notification")
        target.fixed["svc"] = (200, {"ok": True})
        wait_for(lambda: events(target) == ["failing", "recovered"], 40, "the recovered notification")
    except AssertionError:
        print(cluster.logs())
        raise
    assert all(verifies(channel.secret or "", seen) for seen in target.requests_to("/fixed/hook"))
    sent = client.list_notifications(endpoint_id=ep.id)
    assert sorted((n.event, n.status, n.attempts) for n in sent) == [("failing", "sent", 1), ("recovered", "sent", 1)]

"""The tick claims nothing while execute messages wait unstarted (`cronicorn.dispatch.tick`): how it
tells, on a real Redis broker and a real RabbitMQ. A wrong "waiting" would stop all claiming, a
wrong "empty" would let work pile up in the broker instead of the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection, Producer, Queue

from cronicorn.workers.tasks import messages_waiting
from tests.services import REDIS_URL, rabbitmq_broker, redis_client


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Iterator[Connection]:
    if request.param == "redis":
        redis_client()  # skips (or fails on CI) when Redis is unreachable
        url = REDIS_URL
    else:
        url = rabbitmq_broker(queues=())
    # Publisher confirms: a publish returns once RabbitMQ holds the message, so it is counted at once.
    with Connection(url, connect_timeout=3, transport_options={"confirm_publish": True}) as conn:
        yield conn


def test_messages_waiting_counts_what_no_consumer_took_and_an_unknown_queue_as_none(broker: Connection) -> None:
    name = f"cronicorn-test-backlog-{uuid.uuid4().hex}"  # never the real queue: other runs share the broker
    assert messages_waiting(broker, name) == 0  # never declared: RabbitMQ refuses, Redis has no list
    channel = broker.channel()
    queue = Queue(name, routing_key=name)(channel)
    queue.declare()
    try:
        producer = Producer(channel, routing_key=name)
        for n in range(3):
            producer.publish({"n": n}, declare=[queue])
        assert messages_waiting(broker, name) == 3
        taken = queue.get()  # taken by a consumer, not yet acknowledged: no longer waiting
        assert taken is not None
        assert messages_waiting(broker, name) == 2
        # The channel publishing shares still works after a passive declare that found nothing.
        assert messages_waiting(broker, f"{name}-missing") == 0
        producer.publish({"n": 3}, declare=[queue])
        assert messages_waiting(broker, name) == 3
        taken.ack()
    finally:
        queue.delete()
        channel.close()

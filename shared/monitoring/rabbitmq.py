"""Queue depths on a RabbitMQ broker: one passive declare per queue over a short-lived connection.

With Redis each queue is a list (`LLEN`); with RabbitMQ the broker itself says how many messages
wait. The AMQP client (py-amqp) is used directly: `shared/` stays free of Celery and kombu.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import amqp

CONNECT_TIMEOUT_S = 2


def vhost_of(url: str) -> str:
    """The virtual host a broker URL names, as kombu reads it (`amqp://h//` and `amqp://h` are "/")."""
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def queue_depths(url: str, queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue (0 for one not declared yet)."""
    parts = urlsplit(url)
    conn = amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost_of(url),
        connect_timeout=CONNECT_TIMEOUT_S,
    )
    conn.connect()
    try:
        depths: dict[str, int] = {}
        channel = conn.channel()
        for name in queues:
            try:
                declared = channel.queue_declare(name, passive=True)  # (queue, message_count, consumer_count)
                depths[name] = int(declared[1]) if declared else 0
            except amqp.exceptions.NotFound:
                depths[name] = 0
                channel = conn.channel()  # the broker closed the channel that asked
        return depths
    finally:
        conn.close()

"""The Redis broker transport, made to survive a Redis restart with messages in progress.

1. A channel that still closes when its connection is already dead. With Celery 5.7 a worker whose
broker connection drops while it holds unacknowledged messages (late acks: every execute message
in progress) dies with
`Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`.

- kombu's redis `Channel.close()` first reads the reply of the BRPOP it may have outstanding. On a
  dead connection that read raises, before the channel is marked closed: the channel is left
  half-closed, its unacknowledged deliveries still listed.
- Celery 5.7's reconnect path (`Consumer.on_connection_error_after_connected`, celery/celery#10242)
  calls `connection.collect()`, which swallows that error and detaches the transport
  (`transport.client = None`), and then `connection.close()`, which closes the half-closed
  channel again. Restoring its deliveries now builds a Redis client from `transport.client`:
  AttributeError, which `ignore_errors` does not ignore, and the consumer gives up for good.

The BRPOP reply of a dead connection is nothing to wait for: this channel drops it and goes on
closing, so the first close finishes (the channel ends closed) and a second one does nothing.
What could not be restored to a dead Redis is the broker's to redeliver, and redelivery is a
no-op here: the claim's fencing token decides (DESIGN.md, promise 2), and an attempt that died is
re-claimed when its lease ends.

2. Prefetch credit that comes back when an acknowledgement cannot reach Redis. A consumer stops
polling its BRPOP connection while it has no credit (every prefetched message in progress), so
it cannot see that connection die; when those messages then finish while Redis is down, their
acks fail ("Couldn't ack ...") and kombu keeps counting them as unacknowledged: the credit never
returns, the dead connection is never polled again and the worker idles for good, connected to
nothing (seen on the gevent pool, whose consumer has no other socket on that connection to notice
the loss through). A failed ack now still releases the message locally, so the next poll reads
the dead connection, and the worker reconnects. The message stays unacknowledged in Redis, if
Redis kept it: redelivered after the visibility timeout, a fenced no-op.

3. Remote control that reconnects on the gevent pool. There the worker answers `celery inspect
ping` (the liveness probes in deploy/) from a greenlet with a connection of its own, and Celery's
loop in it ends for good on the first broker error; it is started again only when the consumer
itself reconnects, which a consumer that recovered inside kombu (2.) never does. That worker kept
running tasks but never answered a ping again. This loop reconnects instead.
"""

from __future__ import annotations

import logging
import time
from queue import Empty
from typing import Any, cast

from celery.worker import pidbox
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.control import Control as CeleryControl
from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES, virtual
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

TRANSPORT = "cronicorn.workers.broker:Transport"
CONSUMER = "cronicorn.workers.broker:Consumer"
REMOTE_CONTROL_RETRY_S = 2.0


def _connection_errors(channel: object) -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = cast(Any, channel).connection_errors  # not in kombu's stubs
    return errors


class QoS(kombu_redis.QoS):
    def ack(self, delivery_tag: str) -> None:
        try:
            super().ack(delivery_tag)
        except _connection_errors(self.channel):
            virtual.QoS.ack(self, delivery_tag)  # the credit comes back; Celery still logs the failure
            raise

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except _connection_errors(self.channel):
            virtual.QoS.ack(self, delivery_tag)
            raise


class Channel(kombu_redis.Channel):
    QoS = QoS

    def close(self) -> None:
        channel: Any = self  # kombu's private BRPOP state is not in its stubs
        if channel._in_poll and not self.closed:
            try:
                channel._brpop_read()
            except Empty:
                pass
            except _connection_errors(self) as exc:
                log.info("broker connection already lost while closing its channel (%r): closing anyway", exc)
        super().close()


class Transport(kombu_redis.Transport):
    Channel = Channel


def use_for_redis_urls() -> None:
    """Make `redis://` broker URLs use this transport (kombu's table of transport aliases), in
    every process that loads the Celery app.

    An alias rather than Celery's `broker_transport` setting: with that setting the connection's
    URL becomes `cronicorn.workers.broker:Transport://...`, which Flower cannot read (its broker
    page picks Redis by the URL's scheme) and which every log line would show. `rediss://` and
    `sentinel://` keep kombu's own transports (their TLS and discovery defaults hang on the name).
    """
    TRANSPORT_ALIASES["redis"] = TRANSPORT
    # kombu caches the class it resolved for each name: a `redis://` connection made in this
    # process before the app was imported (a library, a test) must not keep kombu's own.
    kombu_transport._transport_cache.pop("redis", None)  # type: ignore[attr-defined]  # private, untyped


class ReconnectingPidbox(pidbox.gPidbox):
    """Remote control on a green pool: a lost broker connection is connected again, not the end."""

    def loop(self, c: Any) -> None:
        while True:
            try:
                super().loop(c)
                return  # stopped, or the consumer is reconnecting (it starts a new loop then)
            except (*c.connection_errors, OSError) as exc:
                if not c.connection or getattr(self, "_node_shutdown", None) is None:
                    return  # stopped while the connection was failing
                log.warning("remote control lost its broker connection (%r): reconnecting", exc)
                time.sleep(REMOTE_CONTROL_RETRY_S)


class Control(CeleryControl):
    """Celery's remote control step, with a pidbox that reconnects on green pools."""

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        if c.pool is not None and c.pool.is_green:
            box = ReconnectingPidbox(c)
            # As Celery's own __init__ does: the step starts and stops through its box.
            vars(self).update(box=box, start=box.start, stop=box.stop, shutdown=box.shutdown)


class Consumer(CeleryConsumer):
    """Celery's consumer with the Control step above (the `worker_consumer` setting)."""

    class Blueprint(CeleryConsumer.Blueprint):  # type: ignore[misc,valid-type]  # the stubs type it as a variable
        default_steps = [
            "cronicorn.workers.broker:Control" if step == "celery.worker.consumer.control:Control" else step
            for step in CeleryConsumer.Blueprint.default_steps
        ]

"""The Celery app: queues by role, late acks, prefetch 1, events on for Flower, no ETAs.

The broker is Redis (the default) or RabbitMQ (`CRONICORN_BROKER_URL=amqp://...`); Redis stays the
lock service either way. No task uses priorities or ETAs, so the two behave alike here.
"""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import worker_init, worker_process_init

from cronicorn.beat.schedule import beat_schedule
from cronicorn.core.constants import (
    ANALYSIS_QUEUE,
    ANALYZE_TASK,
    DELIVER_NOTIFICATIONS_TASK,
    EXECUTE_BATCH_TASK,
    EXECUTE_QUEUE,
    EXECUTE_TASK,
    PLAN_ANALYSES_TASK,
    SCHEDULER_QUEUE,
    SWEEP_TASK,
    TICK_TASK,
)
from cronicorn.core.settings import Settings
from cronicorn.telemetry.metrics import serve
from cronicorn.workers.broker import CONSUMER, use_for_redis_urls
from cronicorn.workers.checks import StartupError, check_worker_start, refuse_to_start
from cronicorn.workers.runtime import reset_runtime, set_pool_size

settings = Settings.from_env()
# A Redis transport and consumer that survive a Redis restart with messages in progress (see
# workers/broker.py); set before the app makes its first connection.
use_for_redis_urls()

app = Celery("cronicorn", broker=settings.effective_broker_url, include=["cronicorn.workers.tasks"])
app.conf.update(
    task_ignore_result=True,
    result_backend=None,
    # A message is acknowledged only after its task ran; a worker lost mid-task hands the
    # message back. Fencing makes the redelivery a no-op when the attempt already happened.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # A task that raises is acknowledged too: an execute batch with a failed call ends as FAILURE (for
    # Flower) after recording its runs, and must never come back for it.
    task_acks_on_failure_or_timeout=True,
    worker_prefetch_multiplier=1,
    task_routes={
        TICK_TASK: {"queue": SCHEDULER_QUEUE},
        SWEEP_TASK: {"queue": SCHEDULER_QUEUE},
        EXECUTE_TASK: {"queue": EXECUTE_QUEUE},
        EXECUTE_BATCH_TASK: {"queue": EXECUTE_QUEUE},
        ANALYZE_TASK: {"queue": ANALYSIS_QUEUE},
        PLAN_ANALYSES_TASK: {"queue": SCHEDULER_QUEUE},
        DELIVER_NOTIFICATIONS_TASK: {"queue": SCHEDULER_QUEUE},
    },
    task_default_queue=SCHEDULER_QUEUE,
    task_create_missing_queues=True,
    worker_send_task_events=True,
    task_send_sent_event=True,
    task_track_started=True,
    worker_consumer=CONSUMER,
    # Redis hands back an unacknowledged message after the visibility timeout; RabbitMQ hands it back
    # when its consumer's connection closes, and has no such option (its consumer_timeout is the
    # server's: see workers/checks.py).
    broker_transport_options={} if settings.broker_is_amqp else {"visibility_timeout": settings.visibility_timeout_s},
    broker_connection_retry_on_startup=True,
    # Beat state is a fixed set of short intervals: nothing worth persisting, and two beats
    # must never fight over one schedule file.
    beat_scheduler="celery.beat:Scheduler",
    beat_schedule=beat_schedule(settings),
    worker_hijack_root_logger=False,
    worker_log_format="%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s",
)

logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@worker_init.connect
def _check_on_start(sender: object = None, **_: object) -> None:
    # Celery logs and ignores an exception a signal handler raises: only SystemExit stops the worker.
    try:
        check_worker_start(settings)
    except StartupError as exc:
        refuse_to_start(str(getattr(sender, "hostname", "worker")), exc)
    concurrency = getattr(sender, "concurrency", None)
    if isinstance(concurrency, int):
        set_pool_size(concurrency)
    if settings.metrics_port:
        serve(settings.metrics_port)


@worker_process_init.connect
def _fresh_resources_after_fork(**_: object) -> None:
    reset_runtime()

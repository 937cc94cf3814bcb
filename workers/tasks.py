"""Thin Celery tasks: pass ids to `shared/`, re-fetch state there, publish after commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kombu import Connection

from cronicorn.core.clock import utcnow
from cronicorn.core.constants import (
    ANALYZE_TASK,
    DELIVER_NOTIFICATIONS_TASK,
    EXECUTE_BATCH_TASK,
    EXECUTE_QUEUE,
    EXECUTE_TASK,
    PLAN_ANALYSES_TASK,
    PLAN_REACTIVE_ANALYSES_TASK,
    SWEEP_TASK,
    TICK_TASK,
)
from cronicorn.dispatch.runner import CallsFailed, failed_calls
from cronicorn.dispatch.tick import Pace, run_tick
from cronicorn.planner.selection import select_for_analysis, select_wanted
from cronicorn.redis.flight import notify_flight_held, tick_flight_held
from cronicorn.redis.keys import last_tick
from cronicorn.store.attempts import Order
from cronicorn.store.claims import Claim
from cronicorn.store.sweep import sweep_abandoned
from cronicorn.workers.app import app
from cronicorn.workers.runtime import runtime

NOTIFY_ROUND_S = 30.0


@app.task(name=TICK_TASK, acks_late=False)
def tick() -> dict[str, Any]:
    rt = runtime()
    s = rt.settings
    interval = s.tick_interval_s
    # The next tick waits up to one interval for this one to end, then claims for its own.
    with tick_flight_held(rt.redis, hold_s=interval * 3, wait_s=interval) as held:
        if not held:
            return {"skipped": "the tick before is still claiming"}
        result = run_tick(
            rt.engine,
            utcnow,
            publish_executions,
            pace=Pace(
                interval_s=interval,
                batch_size=s.tick_batch_size,
                max_claims=s.tick_batch_size * s.tick_max_batches,
                gather_s=s.tick_gather_ms / 1000,
                poll_s=s.tick_poll_ms / 1000,
                ahead_s=s.tick_ahead_ms / 1000,
            ),
            claim_lease_ms=s.claim_lease_ms,
            quota=rt.quota,
            backlog=execute_backlog,
        )
    rt.redis.set(last_tick(), utcnow().isoformat())
    return {"claimed": result.claimed, "rounds": result.rounds, "duration_s": round(result.duration_s, 4)}


def execute_backlog() -> bool:
    """Whether execute messages wait unstarted. Unknown counts as no: a broker hiccup never stops
    the tick from claiming (publishing will say more)."""
    try:
        with app.connection_or_acquire() as conn:
            return messages_waiting(conn, EXECUTE_QUEUE) > 0
    except Exception:
        return False


def messages_waiting(conn: Connection, queue: str) -> int:
    """Messages in `queue` that no consumer has taken yet: one passive declare (0 for a queue the
    broker does not hold, as the Redis transport says of an empty one)."""
    try:
        if conn.transport.driver_type == "amqp":
            # RabbitMQ closes the channel of a passive declare that finds no queue (before the first
            # execute worker declared it): a channel of its own, never the one publishing shares.
            with conn.channel() as channel:
                return _declared_count(channel, queue)
        return _declared_count(conn.default_channel, queue)
    except conn.channel_errors:
        return 0


def _declared_count(channel: Any, queue: str) -> int:
    # `Any`: kombu's stubs type a channel as the abstract StdChannel, without queue_declare.
    return int(channel.queue_declare(queue=queue, passive=True).message_count)


def publish_executions(claims: Sequence[Claim]) -> None:
    """One `execute_batch` message per `CRONICORN_EXECUTE_BATCH_SIZE` claims, over one producer.

    A message costs the broker and the worker far more than a local GET, so several claims
    share one; their calls still run side by side (see `Runner.execute_many`).
    """
    with app.producer_or_acquire() as producer:
        for batch in batches(claims, runtime().settings.execute_batch_size):
            execute_batch.apply_async(kwargs={"claims": [_order(c) for c in batch]}, producer=producer)


def batches(claims: Sequence[Claim], size: int) -> list[Sequence[Claim]]:
    """The claims of one tick, cut into messages of at most `size`, in claim order."""
    return [claims[start : start + size] for start in range(0, len(claims), size)]


def _order(c: Claim) -> dict[str, Any]:
    return {
        "endpoint_id": c.endpoint_id,
        "fence": c.fence,
        "run_at": c.run_at.isoformat(),  # the worker holds the call until then
        # Not needed to run; they make the task readable in Flower.
        "name": c.name,
        "job_id": c.job_id,
        "slot": c.slot.isoformat(),
        "attempt": c.attempt,
    }


# `throws`: an expected error, logged in one line without a traceback.
@app.task(name=EXECUTE_BATCH_TASK, acks_late=True, reject_on_worker_lost=True, throws=(CallsFailed,))
def execute_batch(claims: list[dict[str, Any]]) -> dict[str, str]:
    orders = [Order(c["endpoint_id"], int(c["fence"]), _run_at(c.get("run_at"))) for c in claims]
    outcomes = runtime().runner.execute_many(orders)
    # Raised after every run is recorded, so Flower shows a batch with a failed call as FAILURE. A task
    # that raises is acknowledged like one that returns (task_acks_on_failure_or_timeout, no autoretry).
    failed = failed_calls({c["endpoint_id"]: str(c.get("name") or c["endpoint_id"]) for c in claims}, outcomes)
    if failed is not None:
        raise failed
    return {eid: outcome.value for eid, outcome in outcomes.items()}


def _run_at(value: Any) -> datetime | None:
    """A message's `run_at` (ISO 8601, UTC); None from an older scheduler, or when unreadable: at once."""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


@app.task(name=EXECUTE_TASK, acks_late=True, reject_on_worker_lost=True)
def execute(endpoint_id: str, fence: int, **_readable: Any) -> str:
    """One claim per message, run as a batch of one: older versions still send these during a rolling upgrade."""
    return runtime().runner.execute_many([Order(endpoint_id, int(fence))])[endpoint_id].value


@app.task(name=SWEEP_TASK)
def sweep() -> int:
    return sweep_abandoned(runtime().engine, utcnow())


@app.task(name=PLAN_ANALYSES_TASK, acks_late=False)
def plan_analyses() -> int:
    """Enqueue one analysis per endpoint that needs one (nothing while the planner is off)."""
    rt = runtime()
    if not rt.settings.planner_enabled:
        return 0
    ids = select_for_analysis(rt.engine, utcnow(), min_spacing_s=rt.settings.ai_min_spacing_s)
    with app.producer_or_acquire() as producer:
        for endpoint_id in ids:
            analyze.apply_async(kwargs={"endpoint_id": endpoint_id}, producer=producer)
    return len(ids)


@app.task(name=PLAN_REACTIVE_ANALYSES_TASK, acks_late=False)
def plan_reactive_analyses() -> int:
    """Enqueue one analysis per endpoint an upstream's new result asked to analyse."""
    rt = runtime()
    if not rt.settings.planner_enabled:
        return 0
    ids = select_wanted(rt.engine, utcnow(), min_spacing_s=rt.settings.ai_min_spacing_s)
    with app.producer_or_acquire() as producer:
        for endpoint_id in ids:
            analyze.apply_async(kwargs={"endpoint_id": endpoint_id}, producer=producer)
    return len(ids)


@app.task(name=ANALYZE_TASK, acks_late=True, reject_on_worker_lost=True)
def analyze(endpoint_id: str) -> str:
    # Runs on the analysis queue only: a slow or failing model never holds up an execute worker.
    return runtime().analyst.analyze(endpoint_id)


@app.task(name=DELIVER_NOTIFICATIONS_TASK, acks_late=False)
def deliver_notifications() -> dict[str, Any]:
    """Send what the outbox holds due; a lost task loses nothing (the rows wait for the next one)."""
    rt = runtime()
    # One round at a time across workers, bounded in time: slow webhooks never hold the ticks' threads.
    with notify_flight_held(rt.redis, hold_s=NOTIFY_ROUND_S + 60) as held:
        if not held:
            return {"skipped": "the round before is still delivering"}
        return rt.notifier.deliver_due(budget_s=NOTIFY_ROUND_S)

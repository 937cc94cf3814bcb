"""Execute claims: lock, fenced start, HTTP calls side by side under a heartbeat, fenced finishes.

Called by the execute tasks. The order of things is what keeps promises 1-3:
- a call is sent only while its attempt's lease has at least `SEND_MARGIN` left, checked right
  before the request leaves, so a worker frozen after starting its runs sends nothing once it
  resumes past its lease (the slot has been, or will be, claimed again);
- while calls are in flight, every heartbeat renews their leases (database) and locks (Redis);
  a worker killed or frozen stops renewing, and the slot is claimed again one lease later;
- each call is stored, then unlocked, as it ends: a fast endpoint never waits on a slow one;
- a result the database cannot take right now (unreachable) is retried until it can, and if
  its lease ended meanwhile it is stored as what it was, noted as late.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from functools import cached_property

from redis import Redis, RedisError
from sqlalchemy import Engine

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.http.call import HttpCaller
from cronicorn.redis.locks import EndpointLocks
from cronicorn.store.attempts import Attempt, Leases, Order, begin_attempts, renew_leases
from cronicorn.store.finishes import finish_attempts, transient, unreachable
from cronicorn.store.run_results import RunResult
from cronicorn.store.signing_keys import KeyRing
from cronicorn.telemetry.metrics import DISPATCH_LAG, LOCK_CONTENTION, STORE_CONFLICTS, count_run

log = logging.getLogger(__name__)

# How long a finished call waits for its siblings, to be stored in one transaction with them. A
# batch's calls leave at their own slots, spread over a tick's round (up to the claim-ahead lead),
# so calls to fast targets end that far apart: one store for them all costs far less CPU than one
# each, and the next slot is a second or more away. A slow sibling never holds them up longer.
STORE_LINGER_S = 0.1
# A request leaves only while its lease has this much left: the time between the check and
# the bytes leaving must fit in it (see docs/architecture.md, "What window remains").
SEND_MARGIN = timedelta(milliseconds=500)
# A claim made ahead of its slot is held by the worker until then, but never longer than this: a
# message that looks earlier than that comes from a host whose clock is ahead, and waiting for
# its clock would only make the run late.
MAX_HOLD = timedelta(seconds=2)


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILED = "failed"
    GAVE_UP = "gave-up"
    NOT_SENT = "not-sent"  # the lease had ended before the request could leave: the slot is claimed again
    UNSTORED = "unstored"  # the database stayed unreachable past the retry window (logged in full)
    STALE = "stale"  # the message's fencing token is no longer current: nothing to do
    LOCKED = "locked"  # another execution of this endpoint holds the lock
    SUPERSEDED = "superseded"  # ran, but a newer claim owns the schedule now
    SKIPPED = "skipped"  # its dependency's gate was closed: recorded, nothing sent


# The outcomes of a call that did not succeed and was recorded as such (or could not be stored).
FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.GAVE_UP, Outcome.UNSTORED})


class CallsFailed(Exception):
    """Raised by the execute task after every run of its batch was recorded: Flower shows it as failed.

    It is the task's answer, not a fault: the message is acknowledged like a return (never retried or
    redelivered for it), and the governor's backoff, not Celery, plans the next call.
    """


def failed_calls(names: Mapping[str, str], outcomes: Mapping[str, Outcome]) -> CallsFailed | None:
    """The error a batch ends with when any of its calls failed; None when all went as planned."""
    failed = {eid: o for eid, o in outcomes.items() if o in FAILED_OUTCOMES}
    if not failed:
        return None
    listed = ", ".join(f"{names.get(eid, eid)} ({o.value})" for eid, o in sorted(failed.items()))
    return CallsFailed(f"{len(failed)} of {len(outcomes)} calls failed: {listed}")


@dataclass(frozen=True)
class Runner:
    engine: Engine
    redis: Redis
    http: HttpCaller
    clock: Callable[[], datetime]
    leases: Leases = field(default_factory=Leases)
    heartbeat_ms: int = 1000
    max_attempts: int = 3
    keyring: KeyRing | None = None  # per-tenant signing keys; None: the HTTP caller's own key
    # Where the calls of a batch run side by side (threads, or greenlets under gevent).
    calls: Executor | None = None
    # How long a finished call's result is retried while the database cannot be reached.
    store_retry_s: float = 600.0

    def execute_many(self, orders: Sequence[Order]) -> dict[str, Outcome]:
        """Run a batch of claims: one fenced start, the calls side by side, fenced finishes.

        Finished calls are stored as they complete (those completing together share one
        transaction), so a slow call never delays its siblings' next runs. Returns once every
        run is stored: the message is acknowledged only then.
        """
        held: dict[str, str] = {}
        outcomes: dict[str, Outcome] = {}
        # Claimed a moment ahead: started at once (fences checked, runs recorded, locks taken),
        # and each call then waits for its own slot, so the start's round trips, and any wait for
        # a core while the process is busy, happen before the slot instead of making the run late.
        # Nothing can release a claim meanwhile: a change leaves a claim alone while its lease
        # runs (`replan`), and a claim made ahead holds its lease from its slot on.
        if any(o.run_at is not None for o in orders):
            latest = self.clock() + MAX_HOLD  # a far-ahead clock's run_at is not recorded as the start
            orders = [replace(o, run_at=min(o.run_at, latest)) if o.run_at else o for o in orders]
        try:
            started = begin_attempts(
                self.engine,
                orders,
                self.clock(),
                leases=self.leases,
                take_locks=lambda ttl: self.locks.acquire(ttl, held),
            )
            outcomes.update({eid: Outcome.STALE for eid in started.stale})
            for eid in started.locked:
                # The claim stays unstarted and falls due again in a second (LOCKED_RETRY_MS).
                log.warning("endpoint %s is locked by another execution; its claim is retried shortly", eid)
                LOCK_CONTENTION.inc()
                outcomes[eid] = Outcome.LOCKED
            # Only attempts lost with their workers count against the limit: a slot's failure
            # retries are the endpoint's own (`retry_max_attempts`) and bounded there.
            give_up = [a for a in started.attempts if a.lost_before >= self.max_attempts]
            if give_up:
                outcomes.update(self._give_up(give_up, held))
            to_call = [a for a in started.attempts if a.lost_before < self.max_attempts]
            if to_call:
                outcomes.update(_Flight(self, to_call, held).run())
        finally:
            self.unlock(held, list(held))
        return outcomes

    def hold_until(self, at: datetime | None) -> None:
        """Wait until `at` (at most `MAX_HOLD`); at once when it is None or past."""
        if at is None:
            return
        delay = min(at - self.clock(), MAX_HOLD).total_seconds()
        if delay > 0:
            time.sleep(delay)

    @cached_property
    def locks(self) -> EndpointLocks:
        # Built once: it registers the scripts, which need not happen per batch.
        return EndpointLocks(self.redis)

    @cached_property
    def pool(self) -> Executor:
        return self.calls if self.calls is not None else ThreadPoolExecutor(thread_name_prefix="call")

    def unlock(self, held: dict[str, str], endpoint_ids: Sequence[str]) -> None:
        mine = {eid: held.pop(eid) for eid in endpoint_ids if eid in held}
        try:
            for eid in self.locks.release(mine):
                log.warning("lock of endpoint %s expired before release (attempt outlived its lease)", eid)
        except RedisError as exc:
            # The locks expire with their lease; the database's fence is what guards the schedule.
            log.warning("could not release %d endpoint locks (%s); they expire by themselves", len(mine), exc)

    def store(self, done: list[tuple[Attempt, RunResult]]) -> dict[str, Outcome]:
        """Store finished attempts, retrying while the database cannot be reached."""
        deadline = time.monotonic() + self.store_retry_s
        delay = 0.2
        while True:
            try:
                flags = finish_attempts(self.engine, done)
                break
            except Exception as exc:
                if transient(exc) and time.monotonic() <= deadline:
                    # Lost a race (deadlock, serialization failure): the database is fine, write again.
                    log.info("storing %d results conflicted with another transaction (%s); retrying", len(done), exc)
                    STORE_CONFLICTS.inc()
                    time.sleep(random.uniform(0.01, 0.1))
                    continue
                if not unreachable(exc) or time.monotonic() > deadline:
                    for attempt, result in done:
                        log.error(
                            "run %s of endpoint %s could not be stored (%s); its result was %s",
                            attempt.run_id,
                            attempt.endpoint_id,
                            exc,
                            result,
                        )
                    return {a.endpoint_id: Outcome.UNSTORED for a, _ in done}
                log.warning("database unreachable while storing %d results (%s); retrying", len(done), exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        outcomes: dict[str, Outcome] = {}
        for (attempt, result), current in zip(done, flags, strict=True):
            if result.error_kind == ErrorKind.NOT_SENT.value:
                outcomes[attempt.endpoint_id] = Outcome.NOT_SENT
            elif not current:
                outcomes[attempt.endpoint_id] = Outcome.SUPERSEDED
            elif result.status is RunStatus.SKIPPED:
                outcomes[attempt.endpoint_id] = Outcome.SKIPPED
            else:
                outcomes[attempt.endpoint_id] = (
                    Outcome.SUCCESS if result.status is RunStatus.SUCCESS else Outcome.FAILED
                )
        return outcomes

    def request(self, attempt: Attempt) -> HttpRequest:
        keys = self.keyring.keys_for(attempt.tenant_id) if self.keyring else ()
        return replace(attempt.request, signing_keys=keys)

    def _give_up(self, attempts: list[Attempt], held: dict[str, str]) -> dict[str, Outcome]:
        done = []
        for attempt in attempts:
            message = f"slot given up after {attempt.lost_before} abandoned attempts (limit {self.max_attempts})"
            result = RunResult(
                status=RunStatus.ABANDONED,
                finished_at=self.clock(),
                duration_ms=0,
                error_kind=ErrorKind.ABANDONED.value,
                error_message=message,
            )
            done.append((attempt, result))
            count_run(RunStatus.ABANDONED.value, attempt.source, result.error_kind)
        self.store(done)
        self.unlock(held, [a.endpoint_id for a in attempts])
        return {a.endpoint_id: Outcome.GAVE_UP for a in attempts}


class _Flight:
    """The calls of one batch in flight: each sent only inside its lease, all renewed every
    heartbeat, each stored and unlocked as it ends."""

    def __init__(self, runner: Runner, attempts: list[Attempt], held: dict[str, str]) -> None:
        self.runner = runner
        self.attempts = attempts
        self.held = held
        # The lease each attempt is known to hold, by run id: what the send check reads.
        self.leases = {a.run_id: a.lease_until for a in attempts}

    def run(self) -> dict[str, Outcome]:
        runner = self.runner
        beat = runner.heartbeat_ms / 1000
        outcomes: dict[str, Outcome] = {}
        pending: dict[Future[RunResult], Attempt] = {runner.pool.submit(self.call, a): a for a in self.attempts}
        finished: list[tuple[Attempt, RunResult]] = []  # ended, not yet stored
        next_beat = time.monotonic() + beat
        store_by = next_beat
        while pending:
            wake = next_beat if not finished else min(next_beat, store_by)
            done, _ = wait(pending, timeout=max(0.0, wake - time.monotonic()), return_when=FIRST_COMPLETED)
            if done and not finished:
                store_by = time.monotonic() + STORE_LINGER_S
            finished += [(pending.pop(f), f.result()) for f in done]
            if finished and (not pending or time.monotonic() >= store_by):
                outcomes.update(runner.store(finished))
                runner.unlock(self.held, [a.endpoint_id for a, _ in finished])
                finished = []
            if pending and time.monotonic() >= next_beat:
                self.renew(list(pending.values()))
                next_beat = time.monotonic() + beat
        return outcomes

    def call(self, attempt: Attempt) -> RunResult:
        runner = self.runner
        if attempt.skip_reason is not None:  # its dependency's gate is closed: nothing is sent
            count_run(RunStatus.SKIPPED.value, attempt.source, None)  # a closed gate is not an error
            return RunResult(
                status=RunStatus.SKIPPED,
                finished_at=runner.clock(),
                duration_ms=0,
                error_kind=ErrorKind.GATED.value,
                error_message=f"skipped: {attempt.skip_reason}",
            )
        try:
            request = runner.request(attempt)
        except Exception as exc:  # the signing keys could not be read (database unreachable)
            log.warning("run %s not sent: its request could not be prepared (%s)", attempt.run_id, exc)
            return not_sent(runner.clock(), f"its request could not be prepared ({type(exc).__name__}: {exc})")
        runner.hold_until(attempt.started_at)  # its slot, when it was claimed ahead of it
        sent_at = runner.clock()
        lease_until = self.leases[attempt.run_id]
        if sent_at + SEND_MARGIN > lease_until:
            return not_sent(
                sent_at,
                f"the attempt's lease ended at {lease_until.isoformat()} before the request could leave "
                "(worker frozen or overloaded)",
            )
        DISPATCH_LAG.observe(max(0.0, (sent_at - attempt.slot).total_seconds()))
        result = run_result(runner.http.call(request), runner.clock())
        count_run(result.status.value, attempt.source, result.error_kind)
        return result

    def renew(self, in_flight: list[Attempt]) -> None:
        """The heartbeat: push on the leases (database) and locks (Redis) of calls in flight."""
        runner = self.runner
        now = runner.clock()
        try:
            renewed = renew_leases(runner.engine, in_flight, now, runner.leases.attempt_ms)
        except Exception as exc:
            # Leases stay as last granted; a call not yet sent by then will not be sent.
            log.warning("heartbeat could not renew %d leases (%s)", len(in_flight), exc)
            return
        for attempt in in_flight:
            # Lost (claimed again, or at its hold limit): whatever has not left yet never will.
            self.leases[attempt.run_id] = renewed.get(attempt.run_id, min(now, self.leases[attempt.run_id]))
        mine = {
            a.endpoint_id: self.held[a.endpoint_id]
            for a in in_flight
            if a.run_id in renewed and a.endpoint_id in self.held
        }
        try:
            kept = runner.locks.extend(mine, runner.leases.attempt_ms)
            # A lock gone while the claim is still ours (Redis restarted): take it again. Nobody
            # else can hold it without a claim, and the claim is ours.
            lost = {eid: runner.leases.attempt_ms for eid in mine if eid not in kept}
            if lost:
                for eid in lost:
                    self.held.pop(eid, None)
                runner.locks.acquire(lost, self.held)
        except RedisError as exc:
            log.warning("heartbeat could not extend %d endpoint locks (%s)", len(mine), exc)


def not_sent(now: datetime, why: str) -> RunResult:
    """The record of an attempt that sent nothing: its claim is left to its lease, and the slot
    is claimed again as the next attempt."""
    return RunResult(
        status=RunStatus.ABANDONED,
        finished_at=now,
        duration_ms=0,
        error_kind=ErrorKind.NOT_SENT.value,
        error_message=f"not sent: {why}; the slot is claimed again",
    )


def run_result(outcome: HttpOutcome, finished_at: datetime) -> RunResult:
    return RunResult(
        status=RunStatus.SUCCESS if outcome.ok else RunStatus.FAILED,
        finished_at=finished_at,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        request_url=outcome.final_url,
        response_headers=outcome.response_headers,
        response_body=outcome.body_json,
        response_text=outcome.body_text,
        response_size_bytes=outcome.body_size_bytes,
        response_truncated=outcome.truncated,
        content_type=outcome.content_type,
        error_kind=outcome.error_kind.value if outcome.error_kind else None,
        error_message=outcome.error_message,
    )

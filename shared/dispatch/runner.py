"""Execute claims: lock, fenced start, HTTP calls side by side, fenced finishes. Called by the execute tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from functools import cached_property

from redis import Redis
from sqlalchemy import Engine

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.http.call import HttpCaller
from cronicorn.redis.locks import EndpointLocks
from cronicorn.store.attempts import Attempt, Order, RunResult, begin_attempts, finish_attempts
from cronicorn.store.signing_keys import KeyRing
from cronicorn.telemetry.metrics import DISPATCH_LAG, LOCK_CONTENTION, RUNS

log = logging.getLogger(__name__)


# How long finished calls wait for siblings about to finish, to be stored in one transaction.
STORE_LINGER_S = 0.01


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILED = "failed"
    GAVE_UP = "gave-up"
    STALE = "stale"  # the message's fencing token is no longer current: nothing to do
    LOCKED = "locked"  # another execution of this endpoint holds the lock
    SUPERSEDED = "superseded"  # ran, but a newer claim owns the schedule now


@dataclass(frozen=True)
class Runner:
    engine: Engine
    redis: Redis
    http: HttpCaller
    clock: Callable[[], datetime]
    grace_ms: int = 30_000
    max_attempts: int = 3
    keyring: KeyRing | None = None  # per-tenant signing keys; None: the HTTP caller's own key
    # Where the calls of a batch run side by side (threads, or greenlets under gevent).
    calls: Executor | None = None

    def execute_many(self, orders: Sequence[Order]) -> dict[str, Outcome]:
        """Run a batch of claims: one fenced start, the calls side by side, fenced finishes.

        Finished calls are stored as they complete (those completing together share one
        transaction), so a slow call never delays its siblings' next runs. Returns once every
        run is stored: the message is acknowledged only then.
        """
        locks = self._locks
        held: dict[str, str] = {}
        outcomes: dict[str, Outcome] = {}
        try:
            started = begin_attempts(
                self.engine,
                orders,
                self.clock(),
                grace_ms=self.grace_ms,
                take_locks=lambda leases: locks.acquire(leases, held),
            )
            outcomes.update({eid: Outcome.STALE for eid in started.stale})
            for eid in started.locked:
                # The claim stays leased; if the holder is gone, the lease ends and a later tick
                # claims the slot again. Waiting here would tie up a worker slot for nothing.
                log.warning("endpoint %s is locked by another execution; its claim is left to its lease", eid)
                LOCK_CONTENTION.inc()
                outcomes[eid] = Outcome.LOCKED
            give_up = [a for a in started.attempts if a.attempt > self.max_attempts]
            if give_up:
                outcomes.update(self._give_up(give_up))
            to_call = [a for a in started.attempts if a.attempt <= self.max_attempts]
            for attempt in to_call:
                DISPATCH_LAG.observe(max(0.0, (attempt.started_at - attempt.slot).total_seconds()))
            outcomes.update(self._call_all(to_call))
        finally:
            for eid in locks.release(held):
                log.warning("lock of endpoint %s expired before release (attempt outlived its lease)", eid)
        return outcomes

    @cached_property
    def _locks(self) -> EndpointLocks:
        # Built once: it registers the release script, which need not happen per batch.
        return EndpointLocks(self.redis)

    def _call_all(self, attempts: list[Attempt]) -> dict[str, Outcome]:
        if len(attempts) == 1 or self.calls is None:
            # A lone call runs in the task's own thread: no hand-off to pay for.
            return self._store([(a, self._call(a)) for a in attempts])
        outcomes: dict[str, Outcome] = {}
        pending: dict[Future[RunResult], Attempt] = {self.calls.submit(self._call, a): a for a in attempts}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            # Calls to fast targets complete within moments of each other: wait that moment so
            # they share one transaction, instead of one each. A slow call never holds them up.
            more, _ = wait(set(pending) - done, timeout=STORE_LINGER_S)
            outcomes.update(self._store([(pending.pop(f), f.result()) for f in done | more]))
        return outcomes

    def _call(self, attempt: Attempt) -> RunResult:
        result = run_result(self.http.call(self._request(attempt)), self.clock())
        RUNS.labels(result.status.value, attempt.source or "unknown").inc()
        return result

    def _store(self, done: list[tuple[Attempt, RunResult]]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        for (attempt, result), current in zip(done, finish_attempts(self.engine, done), strict=True):
            if not current:
                outcomes[attempt.endpoint_id] = Outcome.SUPERSEDED
            else:
                outcomes[attempt.endpoint_id] = (
                    Outcome.SUCCESS if result.status is RunStatus.SUCCESS else Outcome.FAILED
                )
        return outcomes

    def _request(self, attempt: Attempt) -> HttpRequest:
        keys = self.keyring.keys_for(attempt.tenant_id) if self.keyring else ()
        return replace(attempt.request, signing_keys=keys)

    def _give_up(self, attempts: list[Attempt]) -> dict[str, Outcome]:
        done = []
        for attempt in attempts:
            message = f"slot given up after {attempt.attempt - 1} abandoned attempts (limit {self.max_attempts})"
            done.append(
                (
                    attempt,
                    RunResult(
                        status=RunStatus.ABANDONED,
                        finished_at=self.clock(),
                        duration_ms=0,
                        error_kind=ErrorKind.ABANDONED.value,
                        error_message=message,
                    ),
                )
            )
            RUNS.labels(RunStatus.ABANDONED.value, attempt.source or "unknown").inc()
        finish_attempts(self.engine, done)
        return {a.endpoint_id: Outcome.GAVE_UP for a in attempts}


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

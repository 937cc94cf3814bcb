"""Execute one claim: lock, fenced start, HTTP call, fenced finish. Called by the execute task."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from redis import Redis
from redis.exceptions import LockError
from sqlalchemy import Engine

from shared.attempts import Attempt, RunResult, begin_attempt, finish_attempt, read_claim
from shared.claims import lease_ms
from shared.httpcall import HttpCaller, HttpOutcome, HttpRequest
from shared.keyring import KeyRing
from shared.locks import endpoint_lock_for
from shared.metrics import DISPATCH_LAG, LOCK_CONTENTION, RUNS
from shared.model import ErrorKind, RunStatus

log = logging.getLogger(__name__)


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

    def execute(self, endpoint_id: str, fence: int) -> Outcome:
        """Run the attempt that claim `fence` stands for, at most once."""
        claim = read_claim(self.engine, endpoint_id)
        if claim is None or claim.fence != fence or claim.claimed_slot is None:
            return Outcome.STALE
        lease_s = lease_ms(claim.timeout_ms, claim.max_execution_time_ms, self.grace_ms) / 1000
        lock = endpoint_lock_for(self.redis, endpoint_id, lease_s=lease_s)
        if not lock.acquire():
            # The claim stays leased; if the holder is gone, the lease ends and a later tick
            # claims the slot again. Waiting here would tie up a worker slot for nothing.
            log.warning("endpoint %s is locked by another execution; fence %s left to its lease", endpoint_id, fence)
            LOCK_CONTENTION.inc()
            return Outcome.LOCKED
        try:
            attempt = begin_attempt(self.engine, endpoint_id, fence, self.clock(), grace_ms=self.grace_ms)
            if attempt is None:
                return Outcome.STALE
            if attempt.attempt > self.max_attempts:
                return self._give_up(attempt)
            DISPATCH_LAG.observe(max(0.0, (attempt.started_at - attempt.slot).total_seconds()))
            outcome = self.http.call(self._request(attempt))
            result = run_result(outcome, self.clock())
            RUNS.labels(result.status.value, attempt.source or "unknown").inc()
            if not finish_attempt(self.engine, attempt, result):
                return Outcome.SUPERSEDED
            return Outcome.SUCCESS if result.status is RunStatus.SUCCESS else Outcome.FAILED
        finally:
            try:
                lock.release()
            except LockError:
                log.warning("lock of endpoint %s expired before release (attempt outlived its lease)", endpoint_id)

    def _request(self, attempt: Attempt) -> HttpRequest:
        c = attempt.config
        return HttpRequest(
            url=c["url"],
            method=c["method"],
            headers=c["headers"],
            body=c["body"],
            timeout_ms=c["timeout_ms"],
            max_response_size_kb=c["max_response_size_kb"],
            idempotency_key=idempotency_key(attempt.endpoint_id, attempt.slot),
            signing_keys=self.keyring.keys_for(c["tenant_id"]) if self.keyring else (),
        )

    def _give_up(self, attempt: Attempt) -> Outcome:
        message = f"slot given up after {attempt.attempt - 1} abandoned attempts (limit {self.max_attempts})"
        result = RunResult(
            status=RunStatus.ABANDONED,
            finished_at=self.clock(),
            duration_ms=0,
            error_kind=ErrorKind.ABANDONED.value,
            error_message=message,
        )
        finish_attempt(self.engine, attempt, result)
        RUNS.labels(RunStatus.ABANDONED.value, attempt.source or "unknown").inc()
        return Outcome.GAVE_UP


def idempotency_key(endpoint_id: str, slot: datetime) -> str:
    """Same for every attempt at one slot, so receivers can drop a retried delivery."""
    return f"{endpoint_id}:{slot.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


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

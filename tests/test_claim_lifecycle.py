"""The claim state machine, explored: no sequence of claims, starts, heartbeats, finishes, losses,
pauses, resumes, edits, archives, run-nows, hints, backfills, sweeps, quota deferrals and slots
skipped as missed leaves an endpoint that should run without a next run, or with one further off
than its interval plus one lease. An endpoint whose schedule ran out (max_runs, ends_at) is
ended, not wedged: it has no next run, no claim and no pending retry, and only because it really
ran out. Calls also fail in ways the endpoints retry (503, and 429 with a Retry-After): a pending
retry is due within its backoff or the target's hold, and runs as the next attempt number of its
slot; the endpoint with schedule options retries too, so retries meet max_runs, ends_at, jitter,
catch-up, overlap and backfills.

Hypothesis drives the real store (and the producer client for every change a person or the
planner makes) on SQLite and PostgreSQL, with a clock it moves by hand. A message or a worker is
"lost" by simply never acting on it again, which is what a kill -9 looks like to the database.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import Engine, func, select

from cronicorn.core.errors import CronicornError
from cronicorn.core.governor import backoff_factor
from cronicorn.core.model import RunStatus
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Attempt, Leases, Order, begin_attempts, renew_leases
from cronicorn.store.claims import MAX_PUBLISH_BACKOFF, Claim, claim_due
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.missed import skip_missed
from cronicorn.store.quota import RunQuota
from cronicorn.store.run_results import RunResult
from cronicorn.store.sweep import sweep_abandoned
from cronicorn.store.tables import endpoints, jobs, runs
from tests.clients import Clock
from tests.services import truncate_all

INTERVAL_MS = 60_000
JITTER_MS = 5_000
CLAIM_LEASE_MS = 4_000
LEASES = Leases(attempt_ms=4_000, grace_ms=30_000)
HOLD_MS = 60_000  # max(max_execution_time 60 s, timeout 5 s + grace 30 s)
# The furthest a claim or attempt can push the next run: an unstarted claim's longest lease, or a
# started attempt's hold.
ONE_LEASE = timedelta(milliseconds=max(CLAIM_LEASE_MS << MAX_PUBLISH_BACKOFF, HOLD_MS))
RETRY_BACKOFF_MAX_MS = 4_000
RETRY_AFTER_S = 30  # what a 429 says
# The latest a pending retry can be due, from the start of the attempt it follows: that attempt's
# longest hold, then its backoff or the target's hold.
RETRY_REACH = timedelta(milliseconds=HOLD_MS + max(RETRY_BACKOFF_MAX_MS, RETRY_AFTER_S * 1000))


OUTCOMES = st.sampled_from(["success", "failed", "rate_limited", "refused", "not_sent", "lost"])


class Lifecycle(RuleBasedStateMachine):
    engine: Engine  # set per run: see the test below

    def __init__(self) -> None:
        super().__init__()
        # Ids (and so each slot's jitter, and the order rows come back in) are the same in every
        # replay: hypothesis refuses a test whose choices depend on anything but its own draws.
        self.fixed_ids = mock.patch.object(uuid, "uuid4", _counted_uuids().__next__)
        self.fixed_ids.start()
        try:
            self.set_up()
        except BaseException:
            self.fixed_ids.stop()  # hypothesis only tears down a machine that was built
            raise

    def set_up(self) -> None:
        truncate_all(self.engine)
        self.clock = Clock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
        self.client = Cronicorn(self.engine, clock=self.clock)
        self.job = self.client.create_job(name="lifecycle").id
        self.ids = [
            self.client.add_endpoint(
                self.job,
                name=f"ep{i}",
                url=f"http://127.0.0.1:9/{i}",
                baseline_interval_ms=INTERVAL_MS,
                timeout_ms=5_000,
                max_execution_time_ms=60_000,
                retry_max_attempts=2 - i,  # one endpoint retries twice, one once
                retry_backoff_ms=1_000,
                retry_backoff_max_ms=RETRY_BACKOFF_MAX_MS,
            ).id
            for i in range(2)
        ]
        # One with the schedule options that can end it, or skip and jitter its slots.
        self.ids.append(
            self.client.add_endpoint(
                self.job,
                name="ep2",
                url="http://127.0.0.1:9/2",
                baseline_interval_ms=INTERVAL_MS,
                timeout_ms=5_000,
                max_execution_time_ms=60_000,
                max_runs=6,
                ends_at=self.clock.now + timedelta(hours=3),
                catch_up="skip",
                overlap="buffer_one",
                jitter_ms=JITTER_MS,
                retry_max_attempts=1,
                retry_backoff_ms=1_000,
                retry_backoff_max_ms=RETRY_BACKOFF_MAX_MS,
            ).id
        )
        self.published: list[Claim] = []  # messages on the broker
        self.in_flight: list[Attempt] = []  # calls a worker is making
        self.archived: set[str] = set()

    def teardown(self) -> None:
        self.fixed_ids.stop()

    @property
    def now(self) -> datetime:
        return self.clock.now

    # --- time and the scheduler -------------------------------------------------------------
    @rule(seconds=st.sampled_from([0.5, 1, 3, 5, 30, 61, 600]))
    def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @rule()
    def until_due(self) -> None:
        """Time passes until the next endpoint falls due: a retry's backoff, a lease's end, a slot."""
        with self.engine.connect() as conn:
            due = conn.execute(select(func.min(endpoints.c.next_run_at)).where(endpoints.c.id.in_(self.ids))).scalar()
        if due is not None and due > self.now:
            self.clock.now = due

    @rule()
    def tick(self) -> None:
        claims = claim_due(self.engine, self.now, limit=10, claim_lease=CLAIM_LEASE_MS)
        self.published.extend(skip_missed(self.engine, claims, self.now))

    @precondition(lambda self: self.published)
    @rule(data=st.data(), deliver=st.booleans())
    def take_message(self, data: st.DataObject, deliver: bool) -> None:
        """An execute worker takes a message and starts it, or the message is lost."""
        claim = self.published.pop(data.draw(st.integers(0, len(self.published) - 1)))
        if deliver:
            started = begin_attempts(
                self.engine, [Order(claim.endpoint_id, claim.fence)], self.now, leases=LEASES, take_locks=set
            )
            self.in_flight.extend(started.attempts)

    @precondition(lambda self: self.in_flight)
    @rule()
    def heartbeat(self) -> None:
        renewed = renew_leases(self.engine, self.in_flight, self.now, LEASES.attempt_ms)
        self.in_flight = [a for a in self.in_flight if a.run_id in renewed]

    @precondition(lambda self: self.in_flight)
    @rule(data=st.data(), outcome=OUTCOMES)
    def end_call(self, data: st.DataObject, outcome: str) -> None:
        self.end(self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1))), outcome)

    @rule(outcome=OUTCOMES)
    def run_what_is_due(self, outcome: str) -> None:
        """Time passes until something is due, and the whole pipeline runs it: so retries of
        retries, and crashes among them, are reached in a few steps."""
        self.until_due()
        claims = claim_due(self.engine, self.now, limit=10, claim_lease=CLAIM_LEASE_MS)
        orders = [Order(c.endpoint_id, c.fence) for c in skip_missed(self.engine, claims, self.now)]
        for attempt in begin_attempts(self.engine, orders, self.now, leases=LEASES, take_locks=set).attempts:
            self.end(attempt, outcome)

    def end(self, attempt: Attempt, outcome: str) -> None:
        if outcome == "lost":  # the worker died mid-call: nothing more is ever written
            return
        # failed (503) and rate_limited (429, Retry-After) are retried; refused (404) never is.
        code = {"failed": 503, "rate_limited": 429, "refused": 404}.get(outcome)
        status = RunStatus.SUCCESS if outcome == "success" else RunStatus.ABANDONED
        result = RunResult(
            status=RunStatus.FAILED if code else status,
            finished_at=self.now,
            status_code=code,
            response_headers={"retry-after": str(RETRY_AFTER_S)} if code == 429 else None,
            error_kind="http_status" if code else (None if status != RunStatus.ABANDONED else "not_sent"),
        )
        finish_attempts(self.engine, [(attempt, result)])

    @rule()
    def sweep(self) -> None:
        sweep_abandoned(self.engine, self.now)

    @precondition(lambda self: self.published)
    @rule()
    def quota_defers(self) -> None:
        RunQuota(self.engine, {}).defer([self.published.pop()], self.now)

    # --- people and the planner (a refusal, e.g. run-now while paused, is an outcome too) -------
    def ask(self, action: Any, *args: Any, **kwargs: Any) -> None:
        try:
            action(*args, **kwargs)
        except CronicornError:
            pass

    @rule()
    def pause_job(self) -> None:
        self.ask(self.client.pause_job, self.job)

    @rule()
    def resume_job(self) -> None:
        self.ask(self.client.resume_job, self.job)

    @rule(i=st.integers(0, 2), minutes=st.sampled_from([1, 10, 120]))
    def pause_endpoint(self, i: int, minutes: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(self.client.pause_endpoint, self.ids[i], until=self.now + timedelta(minutes=minutes))

    @rule(i=st.integers(0, 2))
    def resume_endpoint(self, i: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(self.client.resume_endpoint, self.ids[i])

    @rule(i=st.integers(0, 2), interval=st.sampled_from([30_000, 60_000, 120_000]))
    def edit(self, i: int, interval: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(
                self.client.update_endpoint,
                self.ids[i],
                baseline_interval_ms=interval,
                url=f"http://127.0.0.1:9/e{interval}",
            )

    @rule(i=st.integers(0, 2))
    def run_now(self, i: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(self.client.run_now, self.ids[i])

    @rule(i=st.integers(0, 2))
    def hint(self, i: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(self.client.set_interval_hint, self.ids[i], interval_ms=30_000, ttl_minutes=10)

    @rule(i=st.integers(0, 2), minutes=st.sampled_from([2, 10]))
    def backfill(self, i: int, minutes: int) -> None:
        if self.ids[i] not in self.archived:
            self.ask(self.client.backfill, self.ids[i], self.now - timedelta(minutes=minutes), self.now)

    @rule(runs=st.integers(1, 6), hours=st.sampled_from([-1, 1, 3]))
    def recount(self, runs: int, hours: int) -> None:
        """A new count or end date for the endpoint that can end: it may end, or come back."""
        self.ask(self.client.update_endpoint, self.ids[2], max_runs=runs, ends_at=self.now + timedelta(hours=hours))

    @rule(i=st.just(0))  # endpoint 1 is never archived and never ends, so something always runs
    def archive(self, i: int) -> None:
        self.ask(self.client.archive_endpoint, self.ids[i])
        self.archived.add(self.ids[i])

    # --- the promise ------------------------------------------------------------------------
    @invariant()
    def every_endpoint_that_should_run_has_a_near_next_run(self) -> None:
        with self.engine.connect() as conn:
            job_active = conn.execute(select(jobs.c.status).where(jobs.c.id == self.job)).scalar() == "active"
            rows = conn.execute(select(endpoints).where(endpoints.c.id.in_(self.ids))).all()
        for row in rows:
            if row.archived_at is not None or not job_active or row.next_run_source == "deferred":
                continue  # not meant to run (a deferral waits for next month's run allowance)
            state = _describe(row)
            reach = max(row.baseline_interval_ms * backoff_factor(row.failure_count), row.ai_hint_interval_ms or 0)
            reach += row.jitter_ms
            if row.ended_at is not None:
                assert row.next_run_at is None and row.claimed_slot is None, f"ended but scheduled: {state}"
                assert row.retry_slot_at is None, f"ended with a retry pending: {state}"
                earliest = max(self.now, row.paused_until or self.now)  # a pause past ends_at ends it too
                ran_out = row.runs_left == 0 or (
                    row.ends_at is not None and row.ends_at < earliest + timedelta(milliseconds=reach) + ONE_LEASE
                )
                assert ran_out, f"ended with runs left and its end far off: {state}"
                continue
            assert row.next_run_at is not None, f"endpoint wedged: {state}"
            if row.claimed_slot is not None:
                assert row.next_run_at == row.lease_until, f"claim without its lease as next run: {state}"
            if row.paused_until is not None and row.paused_until > self.now:
                assert row.next_run_at <= row.paused_until + ONE_LEASE, f"runs long after its pause: {state}"
                continue
            assert row.next_run_at <= self.now + timedelta(milliseconds=reach) + ONE_LEASE, f"too far: {state}"
            if row.retry_slot_at is not None and row.claimed_slot is None:
                self.check_pending_retry(row, state)

    def check_pending_retry(self, row: Any, state: str) -> None:
        """A pending retry is due soon after the attempt it follows, and its attempt number is new."""
        assert 1 <= row.retry_number <= row.retry_max_attempts, f"retry beyond the endpoint's limit: {state}"
        assert row.next_run_source not in ("paused", "deferred"), f"a pause or deferral kept a retry: {state}"
        assert row.next_run_at <= row.last_run_at + RETRY_REACH, f"retry too far: {state}"
        with self.engine.connect() as conn:
            last = conn.execute(
                select(func.max(runs.c.attempt)).where(
                    runs.c.endpoint_id == row.id, runs.c.scheduled_at == row.retry_slot_at
                )
            ).scalar()
        assert row.retry_attempt == (last or 0) + 1, f"retry attempt {row.retry_attempt} after {last}: {state}"


def _counted_uuids() -> Iterator[uuid.UUID]:
    return (uuid.UUID(int=n, version=4) for n in itertools.count(1))


def _describe(row: Any) -> str:
    names = (
        *("next_run_at", "claimed_slot", "lease_until", "claim_started_at", "paused_until", "failure_count", "fence"),
        *("retry_slot_at", "retry_attempt", "retry_number"),
        *("runs_left", "ends_at", "ended_at", "backfill_next_at", "grid_slot_at"),
    )
    return ", ".join(f"{n}={getattr(row, n)}" for n in names)


# Examples per engine: PostgreSQL's round trips make each step ~10x dearer than SQLite's. More:
# LIFECYCLE_EXAMPLES=2000 pytest tests/test_claim_lifecycle.py
EXAMPLES = {"sqlite": 150, "postgresql": 20}


def test_no_sequence_of_events_wedges_an_endpoint(engine: Engine) -> None:
    examples = int(os.environ.get("LIFECYCLE_EXAMPLES", EXAMPLES[engine.dialect.name]))
    machine = type("LifecycleOn", (Lifecycle,), {"engine": engine})
    machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.TestCase().runTest()

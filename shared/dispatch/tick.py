"""One tick: for its whole interval, claim endpoints as they fall due and hand each claim to `publish`.

Beat enqueues a tick every interval; a tick that only claimed what was due when it started would
leave each run up to a whole interval late. So a tick stays for its interval: it claims what is
due, reads when the next endpoint falls due (one index-only `min(next_run_at)`), sleeps until then
and claims again. Rounds are at least `gather_s` apart, so endpoints falling due together share
messages; the earliest due time is read again at least every `poll_s`, so a run-now, a new
endpoint or an edit made elsewhere is seen within that. The next tick takes over as this one ends
(one at a time: see `cronicorn.redis.flight`).

Claiming, publishing and starting take time, and under load that time has a long tail: a slot
claimed when it came would always be late by it. So free slots are claimed `ahead_s` before they
fall due, and the message says when (`Claim.run_at`): the worker starts the run as the message
arrives and holds only the request until then. A change made meanwhile leaves the claim alone, as
it does any claim whose lease runs, and takes effect from the next slot. Nothing waits in the
broker for longer than that (no Celery ETA): the future stays in the database.

A tick claims only while the workers keep up: while execute messages wait in the broker unstarted,
every worker is full, and a claim made now would only queue behind them with its lease running.
Due work then stays in the database, where a pause or an edit still applies to it, and is claimed
once the queue has drained, in fuller rounds (a worker spends less per run in a fuller message).
Past the workers' capacity, work piles up where it costs nothing and changes nothing.

Cost follows due work (promise 4): an idle tick reads one index entry every `poll_s`; a busy one
claims in rounds whose size is the work that fell due, and reads the queue's depth once a round.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from cronicorn.store.claims import Claim, claim_due
from cronicorn.store.missed import skip_missed
from cronicorn.store.quota import RunQuota
from cronicorn.store.tables import endpoints
from cronicorn.telemetry.metrics import CLAIMS_PER_TICK, DEFERRED_ROUNDS, TICK_DURATION


@dataclass(frozen=True)
class Pace:
    """How one tick spends its interval."""

    interval_s: float  # how long the tick keeps claiming: beat's interval, so ticks follow each other
    batch_size: int  # endpoints claimed per transaction
    max_claims: int  # claims one tick makes at most; the next tick goes on from there
    gather_s: float = 0.1  # rounds at least this far apart: work due together shares messages
    poll_s: float = 0.25  # the earliest due time is read again at least this often
    ahead_s: float = 0.15  # free slots are claimed this long before they fall due


@dataclass(frozen=True)
class TickResult:
    claimed: int
    rounds: int
    duration_s: float


@dataclass(frozen=True)
class _Clocks:
    """The clocks a tick reads: wall time for slots, a monotonic one (and its sleep) for waiting."""

    wall: Callable[[], datetime]
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]


def run_tick(
    engine: Engine,
    clock: Callable[[], datetime],
    publish: Callable[[Sequence[Claim]], None],
    *,
    pace: Pace,
    claim_lease_ms: int,
    quota: RunQuota | None = None,
    backlog: Callable[[], bool] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TickResult:
    """Claim and publish due work as it falls due, until the interval ends or the budget is spent.

    `backlog` says whether execute messages are waiting to be started. While they are, no round
    claims: it is tried again `pace.gather_s` later, and the work that fell due meanwhile goes
    out together once the queue has drained.
    """
    clocks = _Clocks(clock, monotonic, sleep)
    started = monotonic()
    deadline = started + pace.interval_s
    claimed = rounds = 0
    not_before = started
    while claimed < pace.max_claims and _wait_until_due(engine, clocks, not_before, deadline, pace):
        round_at = monotonic()
        not_before = round_at + pace.gather_s
        if backlog is not None and backlog():
            DEFERRED_ROUNDS.inc()
            continue
        claimed += _claim_round(engine, clock, publish, pace, pace.max_claims - claimed, claim_lease_ms, quota)
        rounds += 1
    duration = monotonic() - started
    CLAIMS_PER_TICK.observe(claimed)
    TICK_DURATION.observe(duration)
    return TickResult(claimed=claimed, rounds=rounds, duration_s=duration)


def next_due(engine: Engine) -> datetime | None:
    """When the earliest endpoint falls due (a claim's lease end and a pending retry included)."""
    with engine.connect() as conn:
        return conn.execute(_NEXT_DUE).scalar()


_NEXT_DUE = select(func.min(endpoints.c.next_run_at))  # built once: it is read several times a second


def _wait_until_due(engine: Engine, clocks: _Clocks, not_before: float, deadline: float, pace: Pace) -> bool:
    """Sleep until something is due within `pace.ahead_s` (and not before `not_before`): True, or
    False at the deadline."""
    poll_s = pace.poll_s
    while True:
        now = clocks.monotonic()
        due = next_due(engine)
        # A lapsed claim's lease end is found here too, and woken for `ahead_s` early: that round
        # claims it only once its lease has ended (`claim_due`), the next round at the latest.
        due_in = math.inf if due is None else (due - clocks.wall()).total_seconds() - pace.ahead_s
        wake = max(not_before, now + due_in)
        if wake <= now:
            return True  # even at the deadline: a tick always claims what is due when it starts
        if now >= deadline:
            return False
        until = min(wake, now + poll_s, deadline)
        if until > now:
            clocks.sleep(until - now)
        if until == wake:
            return True


def _claim_round(
    engine: Engine,
    clock: Callable[[], datetime],
    publish: Callable[[Sequence[Claim]], None],
    pace: Pace,
    budget: int,
    claim_lease_ms: int,
    quota: RunQuota | None,
) -> int:
    """Claim everything due now (up to `budget`), batch by batch; returns how many were claimed.

    Slots missed while the scheduler was down are released unrun first where the endpoint says
    catch_up=skip (`skip_missed`). Publishing happens after each batch's commit: a message is
    never sent for a claim that could still roll back. If publishing fails (or this process dies
    first), the claims' short claim leases end within seconds and a later round claims them
    again, so nothing is lost.
    """
    claimed = 0
    while claimed < budget:
        now = clock()
        limit = min(pace.batch_size, budget - claimed)
        claims = claim_due(engine, now, limit=limit, claim_lease=claim_lease_ms, ahead_ms=round(pace.ahead_s * 1000))
        runnable = skip_missed(engine, claims, now)
        if quota is not None and runnable:
            runnable, deferred = quota.split(runnable, now)
            if deferred:
                quota.defer(deferred, now)
        if runnable:
            publish(runnable)
        claimed += len(claims)
        if len(claims) < limit:
            break
    return claimed

"""One tick: claim due endpoints in bounded batches and hand each claim to `publish`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from cronicorn.store.claims import Claim, claim_due
from cronicorn.store.missed import skip_missed
from cronicorn.store.quota import RunQuota
from cronicorn.telemetry.metrics import CLAIMS_PER_TICK, TICK_DURATION


@dataclass(frozen=True)
class TickResult:
    claimed: int
    batches: int
    duration_s: float


def run_tick(
    engine: Engine,
    clock: Callable[[], datetime],
    publish: Callable[[Sequence[Claim]], None],
    *,
    batch_size: int,
    max_batches: int,
    claim_lease_ms: int,
    max_duration_s: float = 0.9,
    quota: RunQuota | None = None,
) -> TickResult:
    """Claim and publish while due work remains, within a batch and time budget.

    Slots missed while the scheduler was down are released unrun first where the endpoint says
    catch_up=skip (`skip_missed`). Publishing happens after each batch's commit: a message is
    never sent for a claim that could still roll back. If publishing fails (or this process dies
    first), the claims' short claim leases end within seconds and a later tick claims them again,
    so nothing is lost.
    """
    started = time.monotonic()
    claimed = batches = 0
    while batches < max_batches:
        now = clock()
        claims = claim_due(engine, now, limit=batch_size, claim_lease=claim_lease_ms)
        batches += 1
        runnable = skip_missed(engine, claims, now)
        if quota is not None and runnable:
            runnable, deferred = quota.split(runnable, now)
            if deferred:
                quota.defer(deferred, now)
        if runnable:
            publish(runnable)
        claimed += len(claims)
        if len(claims) < batch_size or time.monotonic() - started > max_duration_s:
            break
    duration = time.monotonic() - started
    CLAIMS_PER_TICK.observe(claimed)
    TICK_DURATION.observe(duration)
    return TickResult(claimed=claimed, batches=batches, duration_s=duration)

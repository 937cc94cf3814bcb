"""One tick: claim due endpoints in bounded batches and hand each claim to `publish`."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from shared.claims import Claim, claim_due


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
    grace_ms: int,
    max_duration_s: float = 0.9,
) -> TickResult:
    """Claim and publish while due work remains, within a batch and time budget.

    Publishing happens after each batch's commit: a message is never sent for a claim that
    could still roll back. If publishing fails, the claims' leases expire and a later tick
    claims them again, so nothing is lost.
    """
    started = time.monotonic()
    claimed = batches = 0
    while batches < max_batches:
        claims = claim_due(engine, clock(), limit=batch_size, grace_ms=grace_ms)
        batches += 1
        if claims:
            publish(claims)
            claimed += len(claims)
        if len(claims) < batch_size or time.monotonic() - started > max_duration_s:
            break
    return TickResult(claimed=claimed, batches=batches, duration_s=time.monotonic() - started)

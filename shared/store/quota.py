"""Monthly run limits per tenant: a claim past the tier's limit is deferred to next month, and recorded.

The original's deferral did nothing; here the endpoint's next run moves to the first instant of
next month (UTC) and a `canceled` run with `error_kind = "deferred"` says why, so nothing is
silently dropped. Runs that sent nothing do not count: deferred ones, and the `skipped` runs a
closed dependency gate records (a gate must not use up a tenant's month). Counts are cached per
scheduler process for a few seconds: a tenant may run a handful past its limit at the turn, never a
month's worth.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, select

from cronicorn.core.model import ErrorKind, PlanSource, RunStatus
from cronicorn.core.tiers import Tier, month_after, month_start
from cronicorn.store.claims import NO_CLAIM, NO_RETRY, Claim
from cronicorn.store.tables import endpoints, jobs, runs, tenants

UNCOUNTED = (RunStatus.CANCELED.value, RunStatus.SKIPPED.value)


class RunQuota:
    def __init__(self, engine: Engine, tiers: Mapping[str, Tier], ttl_s: float = 5.0) -> None:
        self.engine = engine
        self.tiers = tiers
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str | None, int]] = {}
        self._lock = threading.Lock()

    def _usage(self, tenant_id: str, now: datetime) -> tuple[Tier | None, int]:
        with self._lock:
            hit = self._cache.get(tenant_id)
        if hit is None or time.monotonic() - hit[0] > self.ttl_s:
            with self.engine.connect() as conn:
                tier_name = conn.execute(select(tenants.c.tier).where(tenants.c.id == tenant_id)).scalar()
                used = (
                    conn.execute(
                        select(func.count())
                        .select_from(runs)
                        .join(jobs, jobs.c.id == runs.c.job_id)
                        .where(
                            jobs.c.tenant_id == tenant_id,
                            runs.c.started_at >= month_start(now),
                            # Only calls count: a deferral and a gated skip sent nothing.
                            runs.c.status.notin_(UNCOUNTED),
                        )
                    ).scalar_one()
                    if tier_name in self.tiers
                    else 0  # an unlimited tenant's runs are not counted
                )
            hit = (time.monotonic(), tier_name, int(used))
            with self._lock:
                self._cache[tenant_id] = hit
        _, tier_name, used = hit
        return (self.tiers.get(tier_name) if tier_name else None), used

    def split(self, claims: Sequence[Claim], now: datetime) -> tuple[list[Claim], list[Claim]]:
        """(claims to run, claims to defer); counts the kept ones against their tenant."""
        tenant_of = self._tenants(claims)
        keep: list[Claim] = []
        defer: list[Claim] = []
        for claim in claims:
            tenant_id = tenant_of[claim.endpoint_id]
            tier, used = self._usage(tenant_id, now)
            if tier is not None and used >= tier.runs_per_month:
                defer.append(claim)
                continue
            keep.append(claim)
            with self._lock:
                stamp, name, count = self._cache[tenant_id]
                self._cache[tenant_id] = (stamp, name, count + 1)
        return keep, defer

    def _tenants(self, claims: Sequence[Claim]) -> dict[str, str]:
        job_ids = {c.job_id for c in claims}
        with self.engine.connect() as conn:
            by_job = dict(conn.execute(select(jobs.c.id, jobs.c.tenant_id).where(jobs.c.id.in_(job_ids))).all())
        return {c.endpoint_id: str(by_job[c.job_id]) for c in claims}

    def defer(self, claims: Sequence[Claim], now: datetime) -> None:
        """Release each claim to the first instant of next month and record why (one transaction)."""
        until = month_after(now)
        with self.engine.begin() as conn:
            for c in claims:
                result = conn.execute(
                    endpoints.update()
                    .where(and_(endpoints.c.id == c.endpoint_id, endpoints.c.fence == c.fence))
                    .values(next_run_at=until, next_run_source=PlanSource.DEFERRED.value, **NO_CLAIM, **NO_RETRY)
                )
                if result.rowcount and not _recorded(conn, c):
                    # Once per slot: a run-now or hint can make the same slot due, and deferred, again.
                    conn.execute(
                        runs.insert().values(
                            id=str(uuid.uuid4()),
                            endpoint_id=c.endpoint_id,
                            job_id=c.job_id,
                            status=RunStatus.CANCELED.value,
                            source=c.source,
                            scheduled_at=c.slot,
                            attempt=c.attempt,
                            fence=c.fence,
                            started_at=now,
                            finished_at=now,
                            error_kind=ErrorKind.DEFERRED.value,
                            error_message="monthly run limit of the tenant's tier reached; deferred to "
                            f"{until.isoformat()}",
                        )
                    )


def _recorded(conn: Connection, c: Claim) -> bool:
    """Whether this slot's attempt already has a run (an earlier deferral of the same slot)."""
    query = select(runs.c.id).where(
        and_(runs.c.endpoint_id == c.endpoint_id, runs.c.scheduled_at == c.slot, runs.c.attempt == c.attempt)
    )
    return conn.execute(query).first() is not None

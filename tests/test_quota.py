"""Monthly run limits: past its tier's limit a tenant's claims are deferred to next month and recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from cronicorn.core.tiers import Tier
from cronicorn.dispatch.tick import Pace, run_tick
from cronicorn.store.claims import Claim
from cronicorn.store.quota import RunQuota
from cronicorn.store.tables import runs
from cronicorn.store.tenants import create_tenant
from tests.factories import endpoint_row, make_endpoint, make_job, run_rows

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
TIERS = {"tiny": Tier(endpoints=10, min_interval_ms=1000, runs_per_month=2, ai_tokens_per_month=0)}
ONE_ROUND = Pace(interval_s=0, batch_size=10, max_claims=10)  # claims what is due now, once


def test_a_tenant_past_its_monthly_runs_is_deferred_to_next_month_and_it_is_recorded(engine: Engine) -> None:
    create_tenant(engine, NOW, "tiny", tier="tiny", tiers=TIERS)
    small_job = make_job(engine, NOW, tenant_id="tiny")
    over = make_endpoint(engine, NOW, job_id=small_job)
    unlimited = make_endpoint(engine, NOW)  # the "default" tenant has no tier: no limit
    with engine.begin() as conn:  # two runs already this month
        for i in range(2):
            conn.execute(
                runs.insert().values(
                    id=f"old{i}",
                    endpoint_id=over,
                    job_id=small_job,
                    status="success",
                    scheduled_at=NOW - timedelta(days=i + 1),
                    attempt=1,
                    fence=0,
                    started_at=NOW - timedelta(days=i + 1),
                )
            )
    published: list[Claim] = []

    def publish(claims: Sequence[Claim]) -> None:
        published.extend(claims)

    run_tick(engine, lambda: NOW, publish, pace=ONE_ROUND, claim_lease_ms=4000, quota=RunQuota(engine, TIERS))
    assert [c.endpoint_id for c in published] == [unlimited]
    row = endpoint_row(engine, over)
    assert row.next_run_at == datetime(2026, 4, 1, tzinfo=UTC) and row.next_run_source == "deferred"
    assert row.claimed_slot is None and row.lease_until is None
    deferred = [r for r in run_rows(engine, over) if r.status == "canceled"]
    assert len(deferred) == 1 and deferred[0].error_kind == "deferred" and "2026-04-01" in deferred[0].error_message


def test_runs_under_the_limit_go_ahead_and_count(engine: Engine) -> None:
    create_tenant(engine, NOW, "tiny", tier="tiny", tiers=TIERS)
    job = make_job(engine, NOW, tenant_id="tiny")
    eps = [make_endpoint(engine, NOW, job_id=job, next_run_at=NOW - timedelta(seconds=i)) for i in range(3)]
    published: list[Claim] = []
    run_tick(
        engine,
        lambda: NOW,
        published.extend,
        pace=ONE_ROUND,
        claim_lease_ms=4000,
        quota=RunQuota(engine, TIERS),
    )
    assert len(published) == 2  # the third is past the limit of 2 in the same tick
    assert sum(endpoint_row(engine, e).next_run_source == "deferred" for e in eps) == 1


def test_runs_a_closed_gate_skipped_do_not_count_against_the_month(engine: Engine) -> None:
    create_tenant(engine, NOW, "tiny", tier="tiny", tiers=TIERS)
    job = make_job(engine, NOW, tenant_id="tiny")
    ep = make_endpoint(engine, NOW, job_id=job)
    with engine.begin() as conn:  # one call and five gated skips this month: one run of two used
        for i, status in enumerate(["success", *["skipped"] * 5]):
            conn.execute(
                runs.insert().values(
                    id=f"old{i}",
                    endpoint_id=ep,
                    job_id=job,
                    status=status,
                    error_kind="gated" if status == "skipped" else None,
                    scheduled_at=NOW - timedelta(hours=i + 1),
                    attempt=1,
                    fence=0,
                    started_at=NOW - timedelta(hours=i + 1),
                )
            )
    published: list[Claim] = []
    run_tick(
        engine,
        lambda: NOW,
        published.extend,
        pace=ONE_ROUND,
        claim_lease_ms=4000,
        quota=RunQuota(engine, TIERS),
    )
    assert [c.endpoint_id for c in published] == [ep]
    assert endpoint_row(engine, ep).next_run_source != "deferred"

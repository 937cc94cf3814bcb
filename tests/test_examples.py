"""The examples of `examples/`, run end to end: real Celery beat, scheduler and execute workers on
PostgreSQL and Redis, the example's own registration code, and its stand-in services as targets.

The pipeline (ingestion → processing → reporting, three jobs, no shared status API) must run each
stage exactly once per batch id, in order, each within one dispatch of its upstream's result; a
failed processing stage leaves the report gated, recorded as a skipped run with the reason; a cycle
is refused, named. The recovery restarts once per incident, after its cooldown, and verifies only a
restart that succeeded; the flash sale runs tier 1 on high readings, holds tier 3 while traffic is
high (and refuses the AI's attempt to speed it up), and leaves tier 2 alone. Skipped locally without
PostgreSQL or Redis, failed on CI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn import Cronicorn, InvalidInput
from cronicorn.planner.tools import ToolBox, ToolError
from cronicorn.store.tables import runs
from examples.demo_services import PipelineServices
from examples.etl_cascade import register_cascade
from examples.flash_sale import register_flash_sale
from examples.pipeline import register_pipeline
from examples.recovery import register_recovery
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ONE_DISPATCH = timedelta(seconds=5)  # tick every 0.5 s, a claim, a start: a second or two on a busy machine


@pytest.fixture
def services() -> Iterator[PipelineServices]:
    s = PipelineServices().start()
    yield s
    s.stop()


@pytest.fixture
def cluster(pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path)
    yield c
    c.stop()


def finished_runs(engine: Engine, endpoint_id: str) -> list[Any]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(runs)
            .where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running")
            .order_by(runs.c.started_at)
        )
        return list(rows)


def runs_for(engine: Engine, endpoint_id: str, key: str, status: str = "success") -> list[Any]:
    return [
        r for r in finished_runs(engine, endpoint_id) if r.status == status and (r.dependency or {}).get("key") == key
    ]


def bodies(services: PipelineServices, path: str) -> list[Any]:
    return [r.body.get("batch_id") for r in services.requests(path) if isinstance(r.body, dict)]


def test_the_pipeline_runs_each_stage_once_per_batch_in_order_and_never_reports_failed_processing(
    cluster: Cluster, pg_engine: Engine, services: PipelineServices
) -> None:
    engine = pg_engine
    cron = Cronicorn(engine)
    # The report's own schedule falls due every 3 s here (06:00 in the example), so the gate is seen
    # to hold it; ingestion is started by hand to make batches one after another.
    p = register_pipeline(
        cron,
        services.base_url,
        ingest_schedule={"baseline_cron": "0 0 1 1 *"},
        report_schedule={"baseline_interval_ms": 3000},
    )
    cluster.start_all()
    try:
        for n, batch in enumerate(["batch-0001", "batch-0002"], start=1):
            cron.run_now(p.ingest)
            wait_for(lambda batch=batch: runs_for(engine, p.report, batch), 60, f"the report of {batch}")
            assert services.batches == n
        # When processing fails for a batch
        services.fail.add("batch-0003")
        cron.run_now(p.ingest)
        [failed] = wait_for(lambda: runs_for(engine, p.process, "batch-0003", "failed"), 60, "processing to fail")
        # Then the report's next scheduled run is skipped: the gate holds, and the run says why
        gated = wait_for(
            lambda: [
                r
                for r in finished_runs(engine, p.report)
                if r.status == "skipped" and r.started_at > failed.finished_at
            ],
            30,
            "a gated report run after the failed processing",
        )
    except AssertionError:
        print(cluster.logs())
        raise

    for batch in ("batch-0001", "batch-0002"):
        [ingested] = [r for r in finished_runs(engine, p.ingest) if (r.response_body or {}).get("batch_id") == batch]
        [processed] = runs_for(engine, p.process, batch)
        [reported] = runs_for(engine, p.report, batch)
        # Once per batch id: one request of each stage carried this batch
        assert bodies(services, "/process").count(batch) == 1
        assert bodies(services, "/report").count(batch) == 1
        # In order, each within one dispatch of its upstream's result, triggered by it
        assert ingested.finished_at <= processed.started_at <= ingested.finished_at + ONE_DISPATCH
        assert processed.finished_at <= reported.started_at <= processed.finished_at + ONE_DISPATCH
        # (the report's 3 s schedule may fall due first: a scheduled run that finds the gate open
        # goes ahead on the dependency, consuming it, so the trigger does not run it a second time)
        assert processed.source == "dependency" and reported.source in ("dependency", "baseline-interval")
        assert processed.dependency["upstream_run_id"] == ingested.id
        assert reported.dependency["upstream_run_id"] == processed.id
        # The data handed down: the batch, the upstream's values and run, recorded on the run too
        [process_request] = [r for r in services.requests("/process") if r.body["batch_id"] == batch]
        assert process_request.at >= ingested.finished_at
        assert process_request.body == {
            "batch_id": batch,
            "records": ingested.response_body["records"],
            "ingest_run": ingested.id,
        }
        [report_request] = [r for r in services.requests("/report") if r.body["batch_id"] == batch]
        assert report_request.at >= processed.finished_at
        assert report_request.body == {
            "batch_id": batch,
            "rows": processed.response_body["rows"],
            "processing_run": processed.id,
        }
    # Nothing ran twice or without its batch: every request named a batch, none twice
    for path in ("/process", "/report"):
        counts = Counter(bodies(services, path))
        assert None not in counts and max(counts.values()) == 1, (path, counts)
    # The failed batch was never reported; the gated runs say why, and sent nothing
    assert "batch-0003" not in bodies(services, "/report")
    assert all(r.error_kind == "gated" and "gate closed" in r.error_message for r in gated)
    assert all(r.status in ("success", "skipped") for r in finished_runs(engine, p.report))
    reasons = [d["reason"] for d in cron.decisions(p.report)]
    assert any("outcome failed is not success" in reason for reason in reasons), reasons
    assert cron.get_endpoint(p.report).failure_count == 0

    # A cycle is refused, named stage by stage
    with pytest.raises(InvalidInput) as err:
        cron.set_dependency(p.ingest, upstream_endpoint_ids=[p.report])
    [error] = err.value.errors
    assert error.field == "upstream_endpoint_ids[0]"
    assert all(name in error.reason for name in ("cycle", "ingest", "process", "report")), error.reason


def test_the_etl_cascade_loads_a_batch_once_and_only_when_both_extracts_report_it(
    cluster: Cluster, pg_engine: Engine, services: PipelineServices
) -> None:
    engine = pg_engine
    cron = Cronicorn(engine)
    c = register_cascade(cron, services.base_url, extract_schedule={"baseline_cron": "0 0 1 1 *"})
    cluster.start_all()
    try:
        # Given the two sources disagree (orders already at batch 2, customers still at batch 1)
        services.source_batch.update(orders="b-2", customers="b-1")
        cron.run_now(c.orders)
        cron.run_now(c.customers)
        wait_for(lambda: len(finished_runs(engine, c.customers)) == 1, 30, "the customers extract")
        wait_for(lambda: len(finished_runs(engine, c.orders)) == 1, 30, "the orders extract")
        wait_for(lambda: any("different batch keys" in d["reason"] for d in cron.decisions(c.load)), 10, "a verdict")
        assert finished_runs(engine, c.load) == []
        # When customers catch up, the load runs for batch 2, once, handed the batch
        services.source_batch.update(customers="b-2")
        cron.run_now(c.customers)
        [loaded] = wait_for(lambda: runs_for(engine, c.load, "b-2"), 30, "the load of b-2")
        # And the same batch reported again by both does not load it twice
        cron.run_now(c.orders)
        cron.run_now(c.customers)
        wait_for(lambda: len(finished_runs(engine, c.orders)) == 2, 30, "the orders extract again")
        wait_for(lambda: len(finished_runs(engine, c.customers)) == 3, 30, "the customers extract again")
        wait_for(lambda: sum("already ran" in d["reason"] for d in cron.decisions(c.load)) >= 2, 10, "the verdicts")
    except AssertionError:
        print(cluster.logs())
        raise
    assert [r.body for r in services.requests("/load")] == [{"batch_id": "b-2"}]
    assert loaded.source == "dependency" and loaded.dependency["key"] == "b-2"
    assert len(finished_runs(engine, c.load)) == 1


def test_recovery_restarts_once_per_incident_after_its_cooldown_and_verifies_only_a_restart_that_worked(
    cluster: Cluster, pg_engine: Engine, services: PipelineServices
) -> None:
    engine = pg_engine
    cron = Cronicorn(engine)
    cooldown = timedelta(seconds=8)
    r = register_recovery(
        cron,
        services.base_url,
        health_schedule={"baseline_interval_ms": 1000, "max_interval_ms": 1000},
        cooldown={"min_interval_ms": int(cooldown.total_seconds() * 1000)},
        verify_schedule={"baseline_interval_ms": 2000},
    )
    cluster.start_all()
    try:
        # Given a healthy service: nothing restarts, and the verification's own runs are gated
        wait_for(lambda: len(finished_runs(engine, r.health)) >= 2, 30, "two healthy checks")
        wait_for(lambda: any(x.status == "skipped" for x in finished_runs(engine, r.verify)), 30, "a gated verify")
        assert finished_runs(engine, r.recover) == []
        # When an incident starts, the restart runs once, although the check keeps failing
        services.degraded_since = "2025-11-02T14:03:00Z"
        [first] = wait_for(lambda: runs_for(engine, r.recover, "2025-11-02T14:03:00Z"), 30, "the first restart")
        wait_for(
            lambda: len([x for x in finished_runs(engine, r.health) if x.started_at > first.finished_at]) >= 3,
            30,
            "three more failing checks in the same incident",
        )
        # And the verification runs on the successful restart, once
        [verified] = wait_for(lambda: runs_for(engine, r.verify, "2025-11-02T14:03:00Z"), 30, "the verification")
        # When a second incident starts within the cooldown, and its restart fails
        services.recovery_fails = True
        services.degraded_since = "2025-11-02T14:05:00Z"
        [second] = wait_for(
            lambda: runs_for(engine, r.recover, "2025-11-02T14:05:00Z", "failed"), 60, "the second restart"
        )
        # Then the verification stays gated: its next runs are skipped, and nothing is verified
        gated = wait_for(
            lambda: [
                x
                for x in finished_runs(engine, r.verify)
                if x.status == "skipped" and x.started_at > second.finished_at
            ],
            30,
            "a gated verification after the failed restart",
        )
    except AssertionError:
        print(cluster.logs())
        raise

    # One restart per incident, each handed its incident; the first triggered by the first failed check
    assert [x.body["incident"] for x in services.requests("/recover")] == [
        "2025-11-02T14:03:00Z",
        "2025-11-02T14:05:00Z",
    ]
    checks = {x.id: x for x in finished_runs(engine, r.health)}
    assert first.source == "dependency" and checks[first.dependency["upstream_run_id"]].status == "failed"
    # The cooldown held: the second incident was seen at once, but its restart waited for the cooldown
    seen = min(
        (x for x in checks.values() if (x.response_body or {}).get("degraded_since") == "2025-11-02T14:05:00Z"),
        key=lambda x: x.finished_at,
    )
    assert second.started_at - first.started_at >= cooldown - timedelta(milliseconds=500)
    assert second.started_at - seen.finished_at >= timedelta(seconds=2), (seen.finished_at, second.started_at)
    # (every failed check of the incident until then counted; the restart names the latest of them)
    assert checks[second.dependency["upstream_run_id"]].finished_at >= seen.finished_at
    # Verified once, for the restart that worked; the gated runs say why and sent nothing
    assert [x.body["incident"] for x in services.requests("/verify")] == ["2025-11-02T14:03:00Z"]
    assert verified.dependency["upstream_run_id"] == first.id
    assert all(x.error_kind == "gated" and "gate closed" in x.error_message for x in gated)
    reasons = [d["reason"] for d in cron.decisions(r.recover)]
    assert any("already ran" in reason for reason in reasons), reasons


def test_the_flash_sale_speeds_tier_one_holds_tier_three_and_leaves_tier_two_alone(
    cluster: Cluster, pg_engine: Engine, services: PipelineServices
) -> None:
    engine = pg_engine
    cron = Cronicorn(engine)
    spacing = timedelta(seconds=2)
    sale = register_flash_sale(
        cron,
        services.base_url,
        monitor_schedule={"baseline_interval_ms": 1000},
        orders_schedule={"baseline_cron": "0 0 1 1 *"},  # only the triggers, to see them
        orders_spacing_ms=int(spacing.total_seconds() * 1000),
        inventory_schedule={"baseline_interval_ms": 2000},
    )
    monitor_runs = lambda: finished_runs(engine, sale.monitor)  # noqa: E731
    windows = lambda: [x.body["window"] for x in services.requests("/analytics/update")]  # noqa: E731
    services.window = "w1"
    cluster.start_all()
    try:
        # Given normal traffic: tier 3 runs once for the window, tier 1 is not triggered
        wait_for(lambda: windows() == ["w1"], 30, "analytics for w1")
        n = len(monitor_runs())
        wait_for(lambda: len(monitor_runs()) >= n + 3, 30, "three more normal readings of w1")
        assert services.requests("/orders/process") == []
        # When traffic spikes over two windows
        services.visitors_per_min, services.window = 5000, "w2"
        wait_for(lambda: len(services.requests("/orders/process")) >= 3, 30, "tier 1 at the monitor's pace")
        # Then a planner that tries to run tier 3 now is refused: the gate wins over the AI
        analytics = cron.get_endpoint(sale.analytics)
        box = ToolBox(
            engine=engine,
            tenant_id="default",
            endpoint_id=analytics.id,
            job_id=analytics.job_id,
            clock=lambda: datetime.now(UTC),
            baseline_interval_ms=None,
            chain=[],
        )
        with pytest.raises(ToolError, match="gate is closed"):
            box.call("propose_next_time", {"nextRunAtIso": datetime.now(UTC).isoformat(), "reason": "catch up"})
        services.window = "w3"
        n = len(monitor_runs())
        wait_for(lambda: len(monitor_runs()) >= n + 3, 30, "three high readings of w3")
        # When traffic is normal again, tier 3 runs for the new window
        services.visitors_per_min, services.window = 200, "w4"
        wait_for(lambda: windows() == ["w1", "w4"], 30, "analytics for w4")
    except AssertionError:
        print(cluster.logs())
        raise

    readings = {x.id: x.response_body for x in monitor_runs()}
    # Tier 3: once per normal window, never during the spike (w2, w3 were high throughout)
    assert windows() == ["w1", "w4"]
    assert all(
        readings[x.dependency["upstream_run_id"]]["visitors_per_min"] <= 1000
        for x in runs_for(engine, sale.analytics, "w4")
    )
    reasons = [d["reason"] for d in cron.decisions(sale.analytics)]
    assert any("condition $.visitors_per_min <= 1000 not met" in reason for reason in reasons), reasons
    [refused] = [c for c in cron.list_conflicts(endpoint_id=sale.analytics) if c["kind"] == "gate-closed"]
    assert "gate wins" in refused["resolution"]
    # Tier 1: triggered by high readings only, handed the reading, at most every `spacing`
    orders = [x for x in finished_runs(engine, sale.orders) if x.status == "success"]
    # (a trigger that came within the spacing runs when it ends: the plan says `clamped-min`)
    assert len(orders) >= 3 and all(x.source in ("dependency", "clamped-min") for x in orders), [
        x.source for x in orders
    ]
    assert any(x.source == "dependency" for x in orders)
    assert all(readings[x.dependency["upstream_run_id"]]["visitors_per_min"] > 1000 for x in orders)
    assert all(x.body["visitors_per_min"] == 5000 for x in services.requests("/orders/process"))
    starts = [x.started_at for x in orders]
    assert all(b - a >= spacing - timedelta(milliseconds=500) for a, b in zip(starts, starts[1:], strict=False))
    # Tier 2: its own schedule throughout, spike or not
    inventory = finished_runs(engine, sale.inventory)
    assert inventory and all(x.source == "baseline-interval" for x in inventory)

"""The examples of `examples/`, run end to end: real Celery beat, scheduler and execute workers on
PostgreSQL and Redis, the example's own registration code, and its stand-in services as targets.

The pipeline (ingestion → processing → reporting, three jobs, no shared status API) must run each
stage exactly once per batch id, in order, each within one dispatch of its upstream's result; a
failed processing stage leaves the report gated, recorded as a skipped run with the reason; a cycle
is refused, named. Skipped locally without PostgreSQL or Redis, failed on CI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn import Cronicorn, InvalidInput
from cronicorn.store.tables import runs
from examples.demo_services import PipelineServices
from examples.etl_cascade import register_cascade
from examples.pipeline import register_pipeline
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

"""The dependency graph the dashboard draws, read from the store on both engines after real runs: each
edge with its last evaluation, only the tenant's edges, a job's part, and a bound on how many."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.core.edge_evaluation import EdgeResult
from cronicorn.core.errors import InvalidInput
from cronicorn.dispatch.runner import Outcome, Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Leases, Order
from cronicorn.store.claims import claim_due
from cronicorn.store.dependency_graph import read_graph
from cronicorn.store.tenants import create_tenant
from tests.factories import run_rows
from tests.targets import TargetServer


@pytest.fixture
def runner(engine: Engine, redis_conn: redis.Redis) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(engine=engine, redis=redis_conn, http=http, clock=utcnow, leases=Leases(grace_ms=1000))


def run_due(engine: Engine, runner: Runner) -> dict[str, Outcome]:
    claims = claim_due(engine, utcnow() + timedelta(seconds=2), limit=10)
    return runner.execute_many([Order(c.endpoint_id, c.fence) for c in claims]) if claims else {}


def hourly(cron: Cronicorn, job_id: str, name: str, target: TargetServer) -> str:
    body = {"batch_id": "b1", "status": "done"}
    return cron.add_endpoint(
        job_id, name=name, url=target.url("/echo"), method="POST", body=body, baseline_interval_ms=3_600_000
    ).id


def test_each_edge_shows_its_last_evaluation_after_real_runs_and_only_the_tenants_edges(
    engine: Engine, runner: Runner, target: TargetServer
) -> None:
    # Given a pipeline: ingest feeds report (trigger), audit (fan-in with prices) and late (a condition
    # that is false), and another tenant with a dependency of its own
    cron = Cronicorn(engine, clock=utcnow)
    pipeline, reports = cron.create_job(name="pipeline"), cron.create_job(name="reports")
    ingest, prices = hourly(cron, pipeline.id, "ingest", target), hourly(cron, pipeline.id, "prices", target)
    report, audit = hourly(cron, reports.id, "report", target), hourly(cron, reports.id, "audit", target)
    late = hourly(cron, reports.id, "late", target)
    cron.set_dependency(report, upstream_endpoint_ids=[ingest], condition='$.body.status == "done"')
    cron.set_dependency(audit, upstream_endpoint_ids=[ingest, prices])
    cron.set_dependency(late, upstream_endpoint_ids=[ingest], condition='$.body.status == "failed"')
    create_tenant(engine, utcnow(), "other", tier="enterprise")
    other = Cronicorn(engine, tenant_id="other", clock=utcnow)
    theirs = other.create_job(name="theirs")
    a, b = hourly(other, theirs.id, "a", target), hourly(other, theirs.id, "b", target)
    other.set_dependency(b, upstream_endpoint_ids=[a])
    # Before anything ran, every edge is drawn, not evaluated yet
    before = read_graph(engine, "default")
    assert {e.evaluation.result for e in before.edges} == {EdgeResult.NONE}
    # When ingest runs, and report runs on it
    cron.run_now(ingest)
    assert run_due(engine, runner) == {ingest: Outcome.SUCCESS}
    [ingest_run] = run_rows(engine, ingest)
    assert run_due(engine, runner) == {report: Outcome.SUCCESS}
    # Then each edge says what the ingest run came to on it
    graph = read_graph(engine, "default")
    edges = {(e.upstream_endpoint_id, e.endpoint_id): e for e in graph.edges}
    assert len(edges) == 4 and graph.total_edges == 4
    assert {n.endpoint.id for n in graph.nodes} == {ingest, prices, report, audit, late}
    fired = edges[(ingest, report)].evaluation
    assert fired.result is EdgeResult.FIRED and fired.upstream_run_id == ingest_run.id and fired.at is not None
    assert edges[(ingest, audit)].evaluation.result is EdgeResult.WAITING
    assert "waiting for upstream " + prices in edges[(ingest, audit)].evaluation.reason
    assert edges[(ingest, audit)].counted_run_id == ingest_run.id
    assert edges[(prices, audit)].evaluation.result is EdgeResult.NONE
    assert edges[(ingest, late)].evaluation.result is EdgeResult.CONDITION_FALSE
    assert edges[(ingest, report)].dependency.condition == '$.body.status == "done"'
    # And another tenant's edges and endpoints are never part of it
    assert not {a, b} & {n.endpoint.id for n in graph.nodes}
    assert [(e.upstream_endpoint_id, e.endpoint_id) for e in read_graph(engine, "other").edges] == [(a, b)]


def test_a_jobs_graph_holds_the_edges_touching_its_endpoints_and_the_limit_is_counted(
    engine: Engine, target: TargetServer
) -> None:
    cron = Cronicorn(engine, clock=utcnow)
    first, second, lone = (cron.create_job(name=n) for n in ("first", "second", "lone"))
    a, b = hourly(cron, first.id, "a", target), hourly(cron, first.id, "b", target)
    c, d = hourly(cron, second.id, "c", target), hourly(cron, second.id, "d", target)
    hourly(cron, lone.id, "alone", target)
    cron.set_dependency(b, upstream_endpoint_ids=[a])
    cron.set_dependency(c, upstream_endpoint_ids=[b])  # crosses from first into second
    cron.set_dependency(d, upstream_endpoint_ids=[c])

    in_second = read_graph(engine, "default", job_id=second.id)
    assert {(e.upstream_endpoint_id, e.endpoint_id) for e in in_second.edges} == {(b, c), (c, d)}
    assert {n.job_name for n in in_second.nodes} == {"first", "second"}  # b shown, named by its job
    assert read_graph(engine, "default", job_id=lone.id).edges == []  # an endpoint without edges is not read

    cut = read_graph(engine, "default", limit=2)
    assert len(cut.edges) == 2 and cut.total_edges == 3
    with pytest.raises(InvalidInput, match="limit"):
        read_graph(engine, "default", limit=0)

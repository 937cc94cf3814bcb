"""Dependencies through the store and the runner: real database, real Redis lock, real local target.

Given an upstream whose response carries a batch id, and a downstream that depends on it, the
upstream's finishing write triggers the downstream (source `dependency`), which is handed the batch
and the upstream run; a batch never runs twice; a closed gate skips a run and says why; bad
declarations are refused naming the field.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.dispatch.runner import Outcome, Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Leases, Order
from cronicorn.store.claims import claim_due
from cronicorn.store.tables import endpoints
from tests.factories import endpoint_row, run_rows
from tests.targets import TargetServer


@pytest.fixture
def runner(engine: Engine, redis_conn: redis.Redis) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(engine=engine, redis=redis_conn, http=http, clock=utcnow, leases=Leases(grace_ms=1000))


@pytest.fixture
def cron(engine: Engine) -> Cronicorn:
    return Cronicorn(engine, clock=utcnow)


def run_due(engine: Engine, runner: Runner) -> dict[str, Outcome]:
    """One tick and the execution of what it claimed."""
    claims = claim_due(engine, utcnow() + timedelta(seconds=2), limit=10)
    return runner.execute_many([Order(c.endpoint_id, c.fence) for c in claims]) if claims else {}


def pipeline(cron: Cronicorn, target: TargetServer, **dependency: object) -> tuple[str, str]:
    job = cron.create_job(name="pipeline")
    up = cron.add_endpoint(
        job.id,
        name="ingest",
        url=target.url("/echo"),
        method="POST",
        body={"batch_id": "b1", "status": "done"},
        baseline_interval_ms=3_600_000,
    )
    other = cron.create_job(name="reports")
    down = cron.add_endpoint(
        other.id, name="report", url=target.url("/echo"), method="POST", baseline_interval_ms=3_600_000
    )
    spec = {
        "upstream_endpoint_ids": [up.id],
        "condition": '$.body.status == "done" and status < 300',
        "batch_key": "$.body.batch_id",
        "template": {"body": {"batch": "key", "upstream_run": "run_id"}, "headers": {"X-Batch": "key"}},
        **dependency,
    }
    cron.set_dependency(down.id, spec)
    return up.id, down.id


def test_an_upstream_result_triggers_the_downstream_once_per_batch_with_its_data(
    engine: Engine, cron: Cronicorn, runner: Runner, target: TargetServer
) -> None:
    up, down = pipeline(cron, target)
    # When the upstream runs and reports batch b1
    cron.run_now(up)
    assert run_due(engine, runner) == {up: Outcome.SUCCESS}
    # Then the downstream is due at once, planned by its dependency
    row = endpoint_row(engine, down)
    assert row.next_run_source == "dependency" and row.next_run_at <= utcnow()
    assert run_due(engine, runner) == {down: Outcome.SUCCESS}
    [up_run] = run_rows(engine, up)
    [down_run] = run_rows(engine, down)
    assert down_run.source == "dependency"
    assert down_run.dependency["upstream_run_id"] == up_run.id and down_run.dependency["key"] == "b1"
    sent = target.requests_to("/echo")[-1]
    assert sent.headers["X-Batch"] == "b1"
    assert down_run.response_body["body"] == {"batch": "b1", "upstream_run": up_run.id}
    # When the upstream reports the same batch again, the downstream does not run for it twice
    cron.run_now(up)
    assert run_due(engine, runner) == {up: Outcome.SUCCESS}
    assert endpoint_row(engine, down).next_run_source != "dependency"
    assert run_due(engine, runner) == {}
    kinds = [d["kind"] for d in cron.decisions(down)]
    assert kinds[-1] == "upstream-ignored" and "already ran" in cron.decisions(down)[-1]["reason"]
    assert "ran" in kinds and "dependency-met" in kinds


def test_a_closed_gate_skips_the_scheduled_run_and_records_why(
    engine: Engine, cron: Cronicorn, runner: Runner, target: TargetServer
) -> None:
    _up, down = pipeline(cron, target, trigger=False, gate=True)
    # Given the downstream's scheduled run falls due before its upstream has reported
    with engine.begin() as conn:
        conn.execute(endpoints.update().where(endpoints.c.id == down).values(next_run_at=utcnow()))
    assert run_due(engine, runner) == {down: Outcome.SKIPPED}
    [run] = run_rows(engine, down)
    assert run.status == "skipped" and run.error_kind == "gated" and "gate closed" in run.error_message
    assert target.requests_to("/echo") == []
    row = endpoint_row(engine, down)
    assert row.failure_count == 0 and row.next_run_at > utcnow() + timedelta(minutes=50)
    assert cron.decisions(down)[-1]["kind"] == "skipped"


def test_a_failed_upstream_keeps_the_gate_closed(
    engine: Engine, cron: Cronicorn, runner: Runner, target: TargetServer
) -> None:
    up, down = pipeline(cron, target, gate=True)
    cron.update_endpoint(up, url=target.url("/status/500"))
    cron.run_now(up)
    assert run_due(engine, runner) == {up: Outcome.FAILED}
    assert endpoint_row(engine, down).next_run_source != "dependency"
    assert "outcome failed is not success" in cron.decisions(down)[-1]["reason"]


def test_a_cycle_is_refused_and_named(cron: Cronicorn, target: TargetServer) -> None:
    up, down = pipeline(cron, target)
    with pytest.raises(InvalidInput) as err:
        cron.set_dependency(up, upstream_endpoint_ids=[down])
    [e] = err.value.errors
    assert e.field == "upstream_endpoint_ids[0]" and "cycle: ingest" in e.reason and "report" in e.reason
    # The planner's declared upstreams count too
    with pytest.raises(InvalidInput, match="cycle"):
        cron.update_endpoint(up, upstream_endpoint_ids=[down])


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"condition": "$.status = 'done'"}, "condition"),
        ({"condition": "__import__('os')"}, "condition"),
        ({"batch_key": "status > 1"}, "batch_key"),
        ({"on": "sometimes"}, "on"),
        ({"fan_in": "most"}, "fan_in"),
        ({"trigger": False, "gate": False}, "trigger"),
        ({"template": {"body": {"x": "eval(1)"}}}, "template.body.x"),
        ({"template": {"cookies": {"x": "key"}}}, "template.cookies.[key]"),
        ({"upstream_endpoint_ids": []}, "upstream_endpoint_ids"),
    ],
)
def test_a_bad_dependency_is_refused_naming_the_field_and_changes_nothing(
    cron: Cronicorn, target: TargetServer, spec: dict[str, object], field: str
) -> None:
    up, down = pipeline(cron, target)
    before = cron.get_dependency(down)
    with pytest.raises(InvalidInput) as err:
        cron.set_dependency(down, {"upstream_endpoint_ids": [up], **spec})
    assert field in [e.field for e in err.value.errors], err.value
    assert cron.get_dependency(down) == before


def test_an_archived_or_foreign_upstream_is_refused(engine: Engine, cron: Cronicorn, target: TargetServer) -> None:
    up, down = pipeline(cron, target)
    other_tenant = Cronicorn(engine, tenant_id="other", clock=utcnow)
    theirs = other_tenant.add_endpoint(
        other_tenant.create_job(name="x").id, name="x", url=target.url("/ok"), baseline_interval_ms=60_000
    )
    with pytest.raises(InvalidInput) as err:
        cron.set_dependency(down, upstream_endpoint_ids=[theirs.id])
    assert err.value.errors[0].field == "upstream_endpoint_ids[0]"
    cron.archive_endpoint(up)
    with pytest.raises(InvalidInput, match="archived") as err:
        cron.set_dependency(down, upstream_endpoint_ids=[up])
    assert err.value.errors[0].field == "upstream_endpoint_ids[0]"
    with pytest.raises(NotFound):
        other_tenant.set_dependency(down, upstream_endpoint_ids=[theirs.id])


def test_register_declares_dependencies_by_name(cron: Cronicorn, target: TargetServer) -> None:
    _job, [ingest, report] = cron.register(
        {"name": "etl"},
        [
            {"name": "ingest", "url": target.url("/echo"), "baseline_interval_ms": 60_000},
            {"name": "report", "url": target.url("/echo"), "baseline_cron": "0 6 * * *"},
        ],
        dependencies={"report": {"upstream_endpoint_ids": ["ingest"], "gate": True}},
    )
    declared = cron.get_dependency(report.id)
    assert declared is not None and declared["spec"]["upstream_endpoint_ids"] == [ingest.id]
    with pytest.raises(InvalidInput) as err:
        cron.register(
            {"name": "etl"},
            [{"name": "ingest", "url": target.url("/echo"), "baseline_interval_ms": 60_000}],
            dependencies={"ingest": {"upstream_endpoint_ids": ["ingest"], "condition": "$.a =="}},
        )
    assert err.value.errors[0].field == "dependencies.ingest.condition"


def fan_in(cron: Cronicorn, target: TargetServer, mode: str) -> tuple[str, str, str]:
    """Two upstreams in two jobs, each answering with the batch its body names; one downstream."""
    ups = []
    for name in ("orders", "customers"):
        job = cron.create_job(name=f"extract-{name}")
        ups.append(
            cron.add_endpoint(
                job.id,
                name=name,
                url=target.url("/echo"),
                method="POST",
                body={"batch_id": "b1"},
                baseline_interval_ms=3_600_000,
            ).id
        )
    load = cron.add_endpoint(
        cron.create_job(name="load").id,
        name="load",
        url=target.url("/echo"),
        method="POST",
        baseline_interval_ms=3_600_000,
    )
    cron.set_dependency(
        load.id,
        upstream_endpoint_ids=ups,
        fan_in=mode,
        batch_key="$.body.batch_id",
        template={"body": {"batch": "key", "from": "endpoint_id"}},
    )
    return ups[0], ups[1], load.id


def report(cron: Cronicorn, engine: Engine, runner: Runner, upstream: str, batch: str) -> None:
    """The upstream runs now and reports `batch`."""
    cron.update_endpoint(upstream, body={"batch_id": batch})
    cron.run_now(upstream)
    assert run_due(engine, runner) == {upstream: Outcome.SUCCESS}


def test_fan_in_any_runs_on_the_first_upstream_that_reports_a_new_batch(
    engine: Engine, cron: Cronicorn, runner: Runner, target: TargetServer
) -> None:
    orders, customers, load = fan_in(cron, target, "any")
    # When one upstream reports b1, the downstream runs for b1, handed that upstream
    report(cron, engine, runner, orders, "b1")
    assert endpoint_row(engine, load).next_run_source == "dependency"
    assert run_due(engine, runner) == {load: Outcome.SUCCESS}
    # When the other reports the same batch, it does not run again
    report(cron, engine, runner, customers, "b1")
    assert endpoint_row(engine, load).next_run_source != "dependency"
    assert run_due(engine, runner) == {}
    assert "batch key 'b1' already ran" in cron.decisions(load)[-1]["reason"]
    # When the other reports a new batch, it runs for that one, handed the other upstream
    report(cron, engine, runner, customers, "b2")
    assert run_due(engine, runner) == {load: Outcome.SUCCESS}
    first, second = run_rows(engine, load)
    assert (first.dependency["key"], first.dependency["upstream_endpoint_id"]) == ("b1", orders)
    assert (second.dependency["key"], second.dependency["upstream_endpoint_id"]) == ("b2", customers)
    assert [r.response_body["body"] for r in (first, second)] == [
        {"batch": "b1", "from": orders},
        {"batch": "b2", "from": customers},
    ]


def test_fan_in_all_with_a_batch_key_waits_until_every_upstream_reports_the_same_key(
    engine: Engine, cron: Cronicorn, runner: Runner, target: TargetServer
) -> None:
    orders, customers, load = fan_in(cron, target, "all")
    # One upstream alone does not meet it
    report(cron, engine, runner, orders, "b2")
    assert run_due(engine, runner) == {}
    assert cron.decisions(load)[-1]["reason"] == f"waiting for upstream {customers}"
    # Both reported, but different batches: still no run, and the verdict names both keys
    report(cron, engine, runner, customers, "b1")
    assert endpoint_row(engine, load).next_run_source != "dependency"
    assert run_due(engine, runner) == {}
    reason = cron.decisions(load)[-1]["reason"]
    assert "upstreams reported different batch keys" in reason
    assert f"{orders}='b2'" in reason and f"{customers}='b1'" in reason
    # Once they agree, it runs once, for that batch
    report(cron, engine, runner, customers, "b2")
    assert run_due(engine, runner) == {load: Outcome.SUCCESS}
    [run] = run_rows(engine, load)
    assert run.source == "dependency" and run.dependency["key"] == "b2"
    assert run.dependency["upstream_endpoint_id"] == customers  # the run that completed it
    # Both reporting b2 again does not run it twice
    report(cron, engine, runner, orders, "b2")
    report(cron, engine, runner, customers, "b2")
    assert run_due(engine, runner) == {}
    assert len(run_rows(engine, load)) == 1
    assert len(target.requests_to("/echo")) == 6  # the five upstream runs and the one load

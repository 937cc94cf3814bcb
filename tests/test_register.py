"""Deploy-time registration: idempotent, by name, one transaction, with update/skip/error on conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.specs import EndpointSpec, JobSpec
from tests.clients import Clock, snapshot

MIN = timedelta(minutes=1)
JOB = {"name": "billing", "description": "invoices"}
SPECS: list[dict[str, Any]] = [
    {"name": "sync", "url": "https://a.example.com/sync", "baseline_interval_ms": 60_000},
    {
        "name": "report",
        "url": "https://a.example.com/report",
        "method": "POST",
        "body": {"kind": "daily"},
        "baseline_cron": "0 6 * * *",
        "timezone": "Europe/Paris",
        "headers": {"X-Team": "billing"},
    },
]


def test_the_first_registration_creates_the_job_and_its_endpoints(client: Cronicorn, now: datetime) -> None:
    job, eps = client.register(JOB, SPECS)
    assert (job.name, job.description, job.status) == ("billing", "invoices", "active")
    assert [e.name for e in eps] == ["sync", "report"] and all(e.job_id == job.id for e in eps)
    assert eps[0].next_run_at == now + MIN
    assert (eps[1].method, eps[1].body, eps[1].timezone, eps[1].next_run_source) == (
        "POST",
        {"kind": "daily"},
        "Europe/Paris",
        "baseline-cron",
    )


def test_registering_twice_changes_nothing(client: Cronicorn, engine: Engine, clock: Clock, now: datetime) -> None:
    job, eps = client.register(JOB, SPECS)
    before = snapshot(engine)
    clock.now = now + 5 * MIN
    again_job, again = client.register(JOB, SPECS)
    assert again_job == job and again == eps  # same ids, same updated_at, same next_run_at
    assert snapshot(engine) == before


def test_specs_given_as_models_are_the_same_declaration(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    job, eps = client.register(JOB, SPECS)
    before = snapshot(engine)
    clock.now = now + MIN
    again_job, again = client.register(JobSpec(**JOB), [EndpointSpec(**s) for s in SPECS])
    assert (again_job.id, [e.id for e in again]) == (job.id, [e.id for e in eps])
    assert snapshot(engine) == before


def test_update_mode_changes_what_differs_and_replans_only_that(client: Cronicorn, clock: Clock, now: datetime) -> None:
    _, eps = client.register(JOB, SPECS)
    clock.now = now + MIN
    changed = [{**SPECS[0], "baseline_interval_ms": 30_000}, SPECS[1]]
    _, after = client.register(JOB, changed)
    assert [e.id for e in after] == [e.id for e in eps]
    assert after[0].baseline_interval_ms == 30_000 and after[0].updated_at == now + MIN
    assert after[0].next_run_at == now + MIN + timedelta(seconds=30)
    assert after[1] == eps[1]


def test_update_mode_can_switch_the_baseline_kind(client: Cronicorn) -> None:
    _, eps = client.register(JOB, SPECS)
    spec = {k: v for k, v in SPECS[0].items() if k != "baseline_interval_ms"}
    _, [sync] = client.register(JOB, [{**spec, "baseline_cron": "*/5 * * * *"}])
    assert (sync.id, sync.baseline_cron, sync.baseline_interval_ms) == (eps[0].id, "*/5 * * * *", None)


def test_new_endpoints_are_added_and_undeclared_ones_are_left_alone(client: Cronicorn) -> None:
    job, eps = client.register(JOB, SPECS)
    extra = {"name": "extra", "url": "https://a.example.com/extra", "baseline_interval_ms": 5_000}
    _, [added] = client.register(JOB, [extra])
    assert added.name == "extra" and added.job_id == job.id
    listed = client.list_endpoints(job.id)
    assert sorted(e.name for e in listed) == ["extra", "report", "sync"]
    assert [e for e in listed if e.name != "extra"] == sorted(eps, key=lambda e: e.id)


def test_skip_mode_keeps_existing_endpoints_but_adds_missing_ones(client: Cronicorn) -> None:
    _, eps = client.register(JOB, SPECS)
    new = {"name": "new", "url": "https://a.example.com/new", "baseline_interval_ms": 5_000}
    job, after = client.register(
        {**JOB, "description": "changed"}, [{**SPECS[0], "baseline_interval_ms": 5_000}, new], on_conflict="skip"
    )
    assert after[0] == eps[0] and after[1].name == "new" and job.description == "invoices"


def test_error_mode_refuses_any_difference_and_writes_nothing(client: Cronicorn, engine: Engine) -> None:
    client.register(JOB, SPECS)
    before = snapshot(engine)
    new = {"name": "new", "url": "https://a.example.com/new", "baseline_interval_ms": 5_000}
    with pytest.raises(Conflict, match="sync"):
        client.register(JOB, [new, {**SPECS[0], "timeout_ms": 5_000}], on_conflict="error")
    with pytest.raises(Conflict, match="description"):
        client.register({**JOB, "description": "other"}, SPECS, on_conflict="error")
    assert snapshot(engine) == before
    _, eps = client.register(JOB, [*SPECS, new], on_conflict="error")  # identical ones and new ones are fine
    assert [e.name for e in eps] == ["sync", "report", "new"]


def test_a_changed_job_description_is_updated(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job, _ = client.register(JOB, SPECS)
    clock.now = now + MIN
    updated, _ = client.register({**JOB, "description": "all invoicing"}, SPECS)
    assert (updated.id, updated.description, updated.updated_at) == (job.id, "all invoicing", now + MIN)


def test_an_archived_job_frees_its_name(client: Cronicorn) -> None:
    job, _ = client.register(JOB, SPECS)
    client.archive_job(job.id)
    fresh, eps = client.register(JOB, SPECS)
    assert fresh.id != job.id and fresh.status == "active" and all(e.next_run_at is not None for e in eps)


def test_a_paused_job_is_found_and_stays_paused(client: Cronicorn) -> None:
    job, _ = client.register(JOB, SPECS)
    client.pause_job(job.id)
    again, eps = client.register(
        JOB, [*SPECS, {"name": "n", "url": "https://a.example.com/n", "baseline_interval_ms": 5_000}]
    )
    assert again.id == job.id and again.status == "paused" and [e.next_run_at for e in eps] == [None, None, None]


def test_registration_is_scoped_to_the_tenant(engine: Engine, client: Cronicorn, clock: Clock) -> None:
    job, eps = client.register(JOB, SPECS)
    theirs, their_eps = Cronicorn(engine, tenant_id="acme", clock=clock).register(JOB, SPECS)
    assert theirs.id != job.id and theirs.tenant_id == "acme"
    assert not {e.id for e in their_eps} & {e.id for e in eps}
    assert [j.id for j in client.list_jobs()] == [job.id]


@pytest.mark.parametrize(
    "job, specs, field",
    [
        (JOB, [SPECS[0], {**SPECS[1], "url": "nope"}], "endpoints[1].url"),
        (JOB, [SPECS[0], {**SPECS[0], "url": "https://b.example.com/"}], "endpoints"),
        ({"name": ""}, SPECS, "job.name"),
        (JOB, [{**SPECS[0], "baseline_cron": "@often"}], "endpoints[0].baseline_cron"),
        (JOB, [{**SPECS[0], "surprise": 1}], "endpoints[0].surprise"),
    ],
)
def test_registration_validates_everything_before_writing(
    client: Cronicorn, engine: Engine, job: dict[str, Any], specs: list[dict[str, Any]], field: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as info:
        client.register(job, specs)
    assert field in [e.field for e in info.value.errors]
    assert snapshot(engine) == before


def test_a_bad_conflict_mode_is_invalid_input(client: Cronicorn) -> None:
    with pytest.raises(InvalidInput, match="on_conflict"):
        client.register(JOB, SPECS, on_conflict="merge")  # type: ignore[arg-type]


def test_a_failure_half_way_leaves_nothing_behind(client: Cronicorn, engine: Engine) -> None:
    client.register(JOB, [SPECS[0]])
    before = snapshot(engine)
    bad_upstream = {
        "name": "down",
        "url": "https://a.example.com/d",
        "baseline_interval_ms": 5_000,
        "upstream_endpoint_ids": ["missing"],
    }
    with pytest.raises(InvalidInput, match=r"upstream_endpoint_ids\[0\]"):
        client.register({**JOB, "description": "new"}, [SPECS[1], bad_upstream])
    assert snapshot(engine) == before

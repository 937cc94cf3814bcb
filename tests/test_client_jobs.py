"""Jobs through the producer client, on SQLite and PostgreSQL: create, read, list, update, pause, resume, archive."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint
from tests.clients import Clock, snapshot

MIN = timedelta(minutes=1)


def add_endpoint(client: Cronicorn, job_id: str, name: str = "e", **fields: Any) -> Endpoint:
    return client.add_endpoint(
        job_id, **{"name": name, "url": "https://api.example.com/x", "baseline_interval_ms": 60_000, **fields}
    )


def test_a_new_job_is_active_with_a_uuid_and_a_stripped_name(client: Cronicorn, now: datetime) -> None:
    job = client.create_job(name="  billing  ", description="invoices and their health")
    assert uuid.UUID(job.id).version == 4
    assert (job.name, job.description, job.status, job.tenant_id) == (
        "billing",
        "invoices and their health",
        "active",
        "default",
    )
    assert job.created_at == job.updated_at == now and job.archived_at is None
    assert client.get_job(job.id) == job


def test_a_job_can_be_created_from_a_spec_object(client: Cronicorn) -> None:
    from cronicorn.producer.specs import JobSpec

    assert client.create_job(JobSpec(name="from-spec")).name == "from-spec"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "ok", "description": "x" * 1001}, "description"),
        ({"description": "no name"}, "name"),
        ({"name": "ok", "owner": "me"}, "owner"),
        ({"name": 42}, "name"),
    ],
)
def test_invalid_job_input_names_the_field_and_writes_nothing(
    client: Cronicorn, engine: Engine, fields: dict[str, Any], field: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as info:
        client.create_job(**fields)
    assert [e.field for e in info.value.errors] == [field]
    assert str(info.value).startswith(f"invalid input: {field}: ")
    assert snapshot(engine) == before


def test_an_unknown_job_is_not_found_with_its_id_in_the_message(client: Cronicorn) -> None:
    with pytest.raises(NotFound, match="job 'nope' not found"):
        client.get_job("nope")


def test_jobs_are_listed_oldest_first_filtered_by_status_and_paginated(client: Cronicorn, clock: Clock) -> None:
    created = []
    for i in range(4):
        clock.now += MIN
        created.append(client.create_job(name=f"job-{i}"))
    client.pause_job(created[1].id)
    client.archive_job(created[2].id)
    assert [j.name for j in client.list_jobs()] == ["job-0", "job-1", "job-2", "job-3"]
    assert [j.name for j in client.list_jobs(status="active")] == ["job-0", "job-3"]
    assert [j.name for j in client.list_jobs(status="paused")] == ["job-1"]
    assert [j.name for j in client.list_jobs(status="archived")] == ["job-2"]
    assert [j.name for j in client.list_jobs(limit=2, offset=1)] == ["job-1", "job-2"]


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"status": "sleeping"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_listing_jobs_with_a_bad_filter_names_it(client: Cronicorn, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        client.list_jobs(**kwargs)


def test_updating_a_job_changes_only_the_given_fields(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job = client.create_job(name="billing", description="old")
    clock.now = now + MIN
    renamed = client.update_job(job.id, name="invoicing")
    assert (renamed.name, renamed.description, renamed.updated_at) == ("invoicing", "old", now + MIN)
    cleared = client.update_job(job.id, description=None)
    assert (cleared.name, cleared.description) == ("invoicing", None)


def test_an_update_that_changes_nothing_writes_nothing(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job = client.create_job(name="billing", description="same")
    clock.now = now + MIN
    assert client.update_job(job.id, description="same").updated_at == now


@pytest.mark.parametrize(
    "fields, field",
    [({"name": ""}, "name"), ({"description": "x" * 1001}, "description"), ({"status": "paused"}, "status")],
)
def test_an_invalid_job_update_names_the_field_and_writes_nothing(
    client: Cronicorn, engine: Engine, fields: dict[str, Any], field: str
) -> None:
    job = client.create_job(name="billing")
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as info:
        client.update_job(job.id, **fields)
    assert [e.field for e in info.value.errors] == [field]
    assert snapshot(engine) == before


def test_pausing_a_job_unschedules_every_endpoint_at_once(client: Cronicorn) -> None:
    job = client.create_job(name="j")
    eps = [add_endpoint(client, job.id, f"e{i}") for i in range(3)]
    assert all(e.next_run_at is not None for e in eps)
    paused = client.pause_job(job.id)
    assert paused.status == "paused"
    assert [client.get_endpoint(e.id).next_run_at for e in eps] == [None, None, None]
    assert client.explain(eps[0].id) == []


def test_resuming_a_job_replans_every_endpoint_from_now(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job = client.create_job(name="j")
    every_minute = add_endpoint(client, job.id, "minute")
    hourly_cron = add_endpoint(client, job.id, "cron", baseline_interval_ms=None, baseline_cron="0 * * * *")
    client.pause_job(job.id)
    clock.now = now + 90 * MIN
    resumed = client.resume_job(job.id)
    assert resumed.status == "active" and resumed.updated_at == now + 90 * MIN
    assert client.get_endpoint(every_minute.id).next_run_at == now + 91 * MIN
    assert client.get_endpoint(hourly_cron.id).next_run_at == now + 2 * 60 * MIN


def test_an_endpoint_added_to_a_paused_job_waits_for_the_job(client: Cronicorn) -> None:
    job = client.pause_job(client.create_job(name="j").id)
    ep = add_endpoint(client, job.id)
    assert ep.next_run_at is None
    client.resume_job(job.id)
    assert client.get_endpoint(ep.id).next_run_at is not None


def test_resuming_an_active_job_changes_nothing(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job = client.create_job(name="j")
    ep = add_endpoint(client, job.id)
    clock.now = now + 5 * MIN
    assert client.resume_job(job.id).updated_at == now
    assert client.get_endpoint(ep.id).next_run_at == ep.next_run_at


def test_archiving_a_job_stops_its_endpoints_for_good(client: Cronicorn, clock: Clock, now: datetime) -> None:
    job = client.create_job(name="j")
    ep = add_endpoint(client, job.id)
    clock.now = now + MIN
    archived = client.archive_job(job.id)
    assert archived.status == "archived" and archived.archived_at == now + MIN
    assert client.get_endpoint(ep.id).next_run_at is None
    clock.now = now + 2 * MIN
    assert client.archive_job(job.id) == archived  # archiving twice is a no-op
    for attempt in (
        lambda: client.resume_job(job.id),
        lambda: client.pause_job(job.id),
        lambda: client.update_job(job.id, name="again"),
        lambda: add_endpoint(client, job.id, "late"),
    ):
        with pytest.raises(Conflict, match="archived"):
            attempt()
    assert client.get_job(job.id) == archived
    with pytest.raises(Conflict):
        client.run_now(ep.id)


def test_another_tenants_jobs_behave_as_not_found(engine: Engine, client: Cronicorn, clock: Clock) -> None:
    job = client.create_job(name="mine")
    other = Cronicorn(engine, tenant_id="acme", clock=clock)
    for call in (
        other.get_job,
        other.pause_job,
        other.resume_job,
        other.archive_job,
        lambda i: other.update_job(i, name="theirs"),
        lambda i: add_endpoint(other, i),
    ):
        with pytest.raises(NotFound):
            call(job.id)
    assert other.list_jobs() == []
    theirs = other.create_job(name="mine")
    assert theirs.tenant_id == "acme" and [j.id for j in client.list_jobs()] == [job.id]
    assert client.get_job(job.id).status == "active"

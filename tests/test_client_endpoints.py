"""Endpoints (and their runs) through the producer client, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint
from cronicorn.producer.specs import EndpointSpec
from cronicorn.store.tables import endpoints, runs
from tests.clients import Clock, snapshot

MIN = timedelta(minutes=1)
URL = "https://api.example.com/x"


@pytest.fixture
def job_id(client: Cronicorn) -> str:
    return client.create_job(name="j").id


def add(client: Cronicorn, job_id: str, name: str = "e", **fields: Any) -> Endpoint:
    return client.add_endpoint(job_id, **{"name": name, "url": URL, "baseline_interval_ms": 60_000, **fields})


def set_columns(engine: Engine, endpoint_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(**values))


def test_a_new_endpoint_keeps_every_field_and_is_planned_at_once(client: Cronicorn, job_id: str, now: datetime) -> None:
    ep = client.add_endpoint(
        job_id,
        name=" sync ",
        description="poll faster when the queue grows",
        url=URL,
        method="post",
        headers={"Authorization": "Bearer t"},
        body={"full": True, "items": [1, 2]},
        baseline_interval_ms=120_000,
        min_interval_ms=30_000,
        max_interval_ms=600_000,
        timeout_ms=5_000,
        max_execution_time_ms=10_000,
        max_response_size_kb=64,
    )
    assert uuid.UUID(ep.id).version == 4 and ep.job_id == job_id
    assert (ep.name, ep.method, ep.headers, ep.body) == (
        "sync",
        "POST",
        {"Authorization": "***"},  # write-only: stored as given, read masked
        {"full": True, "items": [1, 2]},
    )
    with client.engine.connect() as conn:
        assert conn.execute(select(endpoints.c.headers).where(endpoints.c.id == ep.id)).scalar_one() == {
            "Authorization": "Bearer t"
        }
    assert (ep.baseline_interval_ms, ep.baseline_cron, ep.timezone) == (120_000, None, "UTC")
    assert (
        ep.min_interval_ms,
        ep.max_interval_ms,
        ep.timeout_ms,
        ep.max_execution_time_ms,
        ep.max_response_size_kb,
    ) == (30_000, 600_000, 5_000, 10_000, 64)
    assert ep.next_run_at == now + 2 * MIN and ep.next_run_source == "baseline-interval"
    assert ep.failure_count == 0 and ep.paused_until is None and not ep.running and ep.created_at == now
    assert client.get_endpoint(ep.id) == ep


def test_defaults_follow_the_reference(client: Cronicorn, job_id: str) -> None:
    ep = add(client, job_id)
    assert (ep.method, ep.headers, ep.body, ep.timeout_ms, ep.max_execution_time_ms, ep.max_response_size_kb) == (
        "GET",
        {},
        None,
        30_000,
        60_000,
        100,
    )


def test_a_cron_endpoint_is_planned_on_its_time_zones_wall_clock(client: Cronicorn, job_id: str) -> None:
    ep = add(client, job_id, baseline_interval_ms=None, baseline_cron="0 9 * * *", timezone="Europe/Berlin")
    assert ep.next_run_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC) and ep.next_run_source == "baseline-cron"


def test_an_endpoint_can_be_added_from_a_spec_object(client: Cronicorn, job_id: str) -> None:
    ep = client.add_endpoint(job_id, EndpointSpec(name="s", url=URL, baseline_interval_ms=5_000), description="extra")
    assert (ep.name, ep.description, ep.baseline_interval_ms) == ("s", "extra", 5_000)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"url": "ftp://files.example.com/x"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"method": "FETCH"}, "method"),
        ({"headers": {"X-Bad": "a\r\nInjected: 1"}}, "headers"),
        ({"headers": {"X\nBad": "a"}}, "headers"),
        ({"headers": {"X-Num": 5}}, "headers"),
        ({"body": {"a": 1}}, "body"),
        ({"method": "DELETE", "body": [1]}, "body"),
        ({"baseline_interval_ms": 999}, "baseline_interval_ms"),
        ({"baseline_interval_ms": "soon"}, "baseline_interval_ms"),
        ({"baseline_cron": "0 9 * * *"}, "baseline"),
        ({"baseline_interval_ms": None}, "baseline"),
        ({"baseline_interval_ms": None, "baseline_cron": "61 * * * *"}, "baseline_cron"),
        ({"baseline_interval_ms": None, "baseline_cron": "0 9 * *"}, "baseline_cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"min_interval_ms": -1}, "min_interval_ms"),
        ({"max_interval_ms": 999}, "max_interval_ms"),
        ({"min_interval_ms": 120_000, "max_interval_ms": 60_000}, "min_interval_ms"),
        ({"timeout_ms": 999}, "timeout_ms"),
        ({"timeout_ms": 90_000}, "timeout_ms"),
        ({"max_execution_time_ms": 1_800_001}, "max_execution_time_ms"),
        ({"max_response_size_kb": 0}, "max_response_size_kb"),
        ({"max_response_size_kb": 10_241}, "max_response_size_kb"),
        ({"colour": "red"}, "colour"),
        ({"retry_max_attempts": -1}, "retry_max_attempts"),
        ({"retry_max_attempts": 11}, "retry_max_attempts"),
        ({"retry_backoff_ms": 999}, "retry_backoff_ms"),
        ({"retry_backoff_max_ms": 86_400_001}, "retry_backoff_max_ms"),
        ({"retry_backoff_ms": 10_000, "retry_backoff_max_ms": 5_000}, "retry_backoff_max_ms"),
        ({"retry_on": ["5xx", "404"]}, "retry_on"),
        ({"retry_on": ["5xx", "5xx"]}, "retry_on"),
        ({"retry_on": "5xx"}, "retry_on"),
    ],
)
def test_invalid_endpoint_input_names_the_field_and_writes_nothing(
    client: Cronicorn, engine: Engine, job_id: str, fields: dict[str, Any], field: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as info:
        add(client, job_id, **fields)
    assert [e.field.split(".")[0] for e in info.value.errors] == [field], info.value
    assert info.value.errors[0].reason and f"{field}" in str(info.value)
    assert snapshot(engine) == before


def test_retries_are_off_by_default_and_kept_as_given(client: Cronicorn, job_id: str) -> None:
    plain = add(client, job_id)
    assert (plain.retry_max_attempts, plain.retry_backoff_ms, plain.retry_backoff_max_ms) == (0, 1_000, 60_000)
    assert plain.retry_on == ["timeout", "connection", "5xx", "429"]
    assert (plain.retry_slot_at, plain.retry_number, plain.retry_reason, plain.not_before_at) == (None, 0, None, None)
    retrying = add(client, job_id, "r", retry_max_attempts=3, retry_backoff_ms=5_000, retry_on=["429"])
    assert (retrying.retry_max_attempts, retrying.retry_backoff_ms, retrying.retry_on) == (3, 5_000, ["429"])
    updated = client.update_endpoint(retrying.id, retry_on=[], retry_max_attempts=None)  # None: unchanged
    assert updated.retry_on == [] and updated.retry_max_attempts == 3


def test_every_bad_field_is_named_at_once(client: Cronicorn, job_id: str) -> None:
    with pytest.raises(InvalidInput) as info:
        client.add_endpoint(job_id, name="", url="gopher://x", baseline_interval_ms=5, unknown=1)
    assert {e.field for e in info.value.errors} == {"name", "url", "baseline_interval_ms", "unknown"}


def test_a_body_is_accepted_for_post_put_and_patch(client: Cronicorn, job_id: str) -> None:
    for i, method in enumerate(("POST", "PUT", "PATCH")):
        assert add(client, job_id, f"e{i}", method=method, body=["any", {"json": None}]).body == ["any", {"json": None}]


def test_adding_to_an_unknown_job_is_not_found(client: Cronicorn) -> None:
    with pytest.raises(NotFound, match="job 'nope' not found"):
        add(client, "nope")


def test_endpoints_are_listed_by_job_without_archived_ones_unless_asked(
    client: Cronicorn, job_id: str, clock: Clock
) -> None:
    other_job = client.create_job(name="other").id
    eps = []
    for i in range(3):
        clock.now += MIN
        eps.append(add(client, job_id, f"e{i}"))
    clock.now += MIN
    elsewhere = add(client, other_job, "x")
    client.archive_endpoint(eps[1].id)
    assert [e.name for e in client.list_endpoints(job_id)] == ["e0", "e2"]
    assert [e.name for e in client.list_endpoints(job_id, include_archived=True)] == ["e0", "e1", "e2"]
    assert [e.id for e in client.list_endpoints()] == [eps[0].id, eps[2].id, elsewhere.id]
    assert [e.name for e in client.list_endpoints(job_id, include_archived=True, limit=1, offset=1)] == ["e1"]
    with pytest.raises(InvalidInput, match="limit"):
        client.list_endpoints(limit=0)


def test_an_interval_edit_moves_the_next_run_at_once(
    client: Cronicorn, job_id: str, clock: Clock, now: datetime
) -> None:
    ep = add(client, job_id, baseline_interval_ms=3_600_000)
    assert ep.next_run_at == now + 60 * MIN
    clock.now = now + 5 * MIN
    faster = client.update_endpoint(ep.id, baseline_interval_ms=10_000)
    assert faster.next_run_at == now + 5 * MIN + timedelta(seconds=10) and faster.updated_at == now + 5 * MIN
    assert client.get_endpoint(ep.id).next_run_at == faster.next_run_at


def test_setting_a_cron_replaces_the_interval_and_back(client: Cronicorn, job_id: str, now: datetime) -> None:
    ep = add(client, job_id)
    cron = client.update_endpoint(ep.id, baseline_cron="*/15 * * * *")
    assert (cron.baseline_cron, cron.baseline_interval_ms, cron.next_run_source) == (
        "*/15 * * * *",
        None,
        "baseline-cron",
    )
    assert cron.next_run_at == now + 15 * MIN
    back = client.update_endpoint(ep.id, baseline_interval_ms=120_000)
    assert (back.baseline_cron, back.baseline_interval_ms, back.next_run_at) == (None, 120_000, now + 2 * MIN)


def test_a_partial_update_keeps_the_other_fields(client: Cronicorn, job_id: str) -> None:
    ep = add(client, job_id, method="POST", body={"a": 1}, headers={"X-A": "1"}, description="d")
    updated = client.update_endpoint(ep.id, url="https://other.example.com/y", description=None)
    assert (updated.url, updated.method, updated.body, updated.headers, updated.description) == (
        "https://other.example.com/y",
        "POST",
        {"a": 1},
        {"X-A": "1"},
        None,
    )


def test_an_update_is_validated_against_the_merged_endpoint(client: Cronicorn, engine: Engine, job_id: str) -> None:
    ep = add(client, job_id, method="POST", body={"a": 1}, max_interval_ms=60_000)
    before = snapshot(engine)
    for fields, field in (
        ({"method": "GET"}, "body"),
        ({"min_interval_ms": 120_000}, "min_interval_ms"),
        ({"timeout_ms": 61_000}, "timeout_ms"),
        ({"baseline_interval_ms": None}, "baseline"),
        ({"url": "mailto:a@b.c"}, "url"),
        ({"schedule": "hourly"}, "schedule"),
        ({"timeout_ms": "fast"}, "timeout_ms"),
    ):
        with pytest.raises(InvalidInput) as info:
            client.update_endpoint(ep.id, **fields)
        assert [e.field for e in info.value.errors] == [field]
    assert snapshot(engine) == before
    assert client.update_endpoint(ep.id, method="GET", body=None).body is None


def test_an_update_that_changes_nothing_writes_nothing(
    client: Cronicorn, job_id: str, clock: Clock, now: datetime
) -> None:
    ep = add(client, job_id)
    clock.now = now + 30 * 1000 * timedelta(milliseconds=1)
    same = client.update_endpoint(ep.id, baseline_interval_ms=60_000, url=URL)
    assert same == ep  # neither updated_at nor next_run_at moved


def test_an_update_leaves_a_running_attempts_claim_alone(
    client: Cronicorn, engine: Engine, job_id: str, now: datetime
) -> None:
    ep = add(client, job_id)
    set_columns(engine, ep.id, claimed_slot=now, lease_until=now + MIN, next_run_at=now + MIN, fence=7)
    updated = client.update_endpoint(ep.id, baseline_interval_ms=5_000)
    assert updated.running and updated.next_run_at == now + MIN and updated.baseline_interval_ms == 5_000
    with engine.connect() as conn:
        assert conn.execute(select(endpoints.c.fence).where(endpoints.c.id == ep.id)).scalar_one() == 7


def test_archiving_an_endpoint_unschedules_it_for_good(
    client: Cronicorn, job_id: str, clock: Clock, now: datetime
) -> None:
    ep = add(client, job_id)
    clock.now = now + MIN
    archived = client.archive_endpoint(ep.id)
    assert archived.archived_at == now + MIN and archived.next_run_at is None
    clock.now = now + 2 * MIN
    assert client.archive_endpoint(ep.id) == archived  # idempotent
    attempts: list[Callable[[], object]] = [
        lambda: client.update_endpoint(ep.id, baseline_interval_ms=5_000),
        lambda: client.reset_failures(ep.id),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="archived"):
            attempt()
    assert client.get_endpoint(ep.id) == archived


def test_reset_failures_drops_the_backoff_at_once(
    client: Cronicorn, engine: Engine, job_id: str, now: datetime
) -> None:
    ep = add(client, job_id)
    set_columns(engine, ep.id, failure_count=4, next_run_at=now + 16 * MIN)
    reset = client.reset_failures(ep.id)
    assert reset.failure_count == 0 and reset.next_run_at == now + MIN and reset.updated_at == now


def test_another_tenants_endpoints_behave_as_not_found(
    engine: Engine, client: Cronicorn, job_id: str, clock: Clock
) -> None:
    ep = add(client, job_id)
    other = Cronicorn(engine, tenant_id="acme", clock=clock)
    for call in (
        other.get_endpoint,
        other.archive_endpoint,
        other.reset_failures,
        other.explain,
        lambda i: other.update_endpoint(i, baseline_interval_ms=5_000),
    ):
        with pytest.raises(NotFound):
            call(ep.id)
    assert other.list_endpoints() == [] and other.list_endpoints(job_id) == []
    assert client.get_endpoint(ep.id) == ep


def _insert_runs(engine: Engine, ep: Endpoint, now: datetime, count: int) -> None:
    with engine.begin() as conn:
        for i in range(count):
            conn.execute(
                runs.insert().values(
                    id=f"run-{i}",
                    endpoint_id=ep.id,
                    job_id=ep.job_id,
                    status="success" if i % 2 else "failed",
                    source="baseline-interval",
                    scheduled_at=now + i * MIN,
                    attempt=1,
                    fence=i + 1,
                    started_at=now + i * MIN,
                    finished_at=now + i * MIN + timedelta(seconds=1),
                    duration_ms=1000,
                    status_code=200 if i % 2 else 500,
                    response_body={"i": i},
                )
            )


def test_runs_are_listed_newest_first_with_filters_and_a_total(
    engine: Engine, client: Cronicorn, job_id: str, now: datetime
) -> None:
    ep = add(client, job_id)
    sibling = add(client, job_id, "sibling")
    _insert_runs(engine, ep, now, 5)
    page = client.list_runs(endpoint_id=ep.id, limit=2)
    assert page.total == 5 and [r.id for r in page.runs] == ["run-4", "run-3"]
    assert [r.id for r in client.list_runs(endpoint_id=ep.id, limit=2, offset=4).runs] == ["run-0"]
    assert client.list_runs(job_id=job_id).total == 5 and client.list_runs(endpoint_id=sibling.id).total == 0
    assert [r.id for r in client.list_runs(status="failed").runs] == ["run-4", "run-2", "run-0"]
    assert client.list_runs(since=now + 3 * MIN).total == 2 and client.list_runs(until=now + 3 * MIN).total == 3
    run = client.get_run("run-3")
    assert (run.status, run.status_code, run.response_body, run.duration_ms) == ("success", 200, {"i": 3}, 1000)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "exploded"}, "status"),
        ({"since": datetime(2026, 1, 1)}, "since"),
    ],
)
def test_listing_runs_with_a_bad_filter_names_it(client: Cronicorn, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        client.list_runs(**kwargs)


def test_another_tenants_runs_are_not_found(
    engine: Engine, client: Cronicorn, job_id: str, clock: Clock, now: datetime
) -> None:
    _insert_runs(engine, add(client, job_id), now, 1)
    other = Cronicorn(engine, tenant_id="acme", clock=clock)
    with pytest.raises(NotFound, match="run 'run-0' not found"):
        other.get_run("run-0")
    assert other.list_runs().total == 0


def test_reasons_read_like_sentences(client: Cronicorn, job_id: str) -> None:
    with pytest.raises(InvalidInput) as info:
        client.add_endpoint(job_id, name=" ", url=URL, baseline_interval_ms=500, timeout_ms="fast")
    assert str(info.value) == (
        "invalid input: name: must not be empty; baseline_interval_ms: must be >= 1000; "
        "timeout_ms: must be a whole number"
    )
    with pytest.raises(InvalidInput, match="^invalid input: url: is required$"):
        client.add_endpoint(job_id, name="x", baseline_interval_ms=1000)

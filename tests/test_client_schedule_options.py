"""Schedule options through the Python client: stored, read back, validated (bad values named, nothing written)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.core.settings import Settings, SettingsError
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.input_caps import InputCaps
from cronicorn.store.tables import endpoints
from tests.clients import Clock, snapshot

SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
BASE = {"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 600_000}
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def add(client: Cronicorn, **fields: Any) -> Any:
    return client.add_endpoint(client.create_job(name="j").id, {**BASE, **fields})


def test_every_option_is_stored_and_read_back(client: Cronicorn, now: datetime) -> None:
    ep = add(
        client,
        catch_up="all",
        catch_up_window_ms=7_200_000,
        overlap="buffer_one",
        jitter_ms=0,
        starts_at=now + HOUR,
        ends_at=now + 48 * HOUR,
        max_runs=7,
    )
    assert (ep.catch_up, ep.catch_up_window_ms, ep.overlap, ep.jitter_ms) == ("all", 7_200_000, "buffer_one", 0)
    assert (ep.starts_at, ep.ends_at, ep.max_runs, ep.runs_left, ep.ended_at) == (
        now + HOUR,
        now + 48 * HOUR,
        7,
        7,
        None,
    )
    assert (ep.next_run_at, ep.next_run_source) == (now + HOUR, "starts-at")
    assert client.get_endpoint(ep.id) == ep == client.list_endpoints(ep.job_id)[0]


def test_the_defaults_are_coalesce_skip_no_jitter_no_dates_no_count(client: Cronicorn) -> None:
    ep = add(client)
    assert (ep.catch_up, ep.catch_up_window_ms, ep.overlap, ep.jitter_ms) == ("coalesce", 3_600_000, "skip", 0)
    assert (ep.run_at, ep.starts_at, ep.ends_at, ep.max_runs, ep.runs_left) == (None, None, None, None, None)
    assert (ep.backfill_next_at, ep.backfill_until, ep.grid_slot_at, ep.ended_at) == (None, None, None, None)


def test_the_installation_default_catch_up_is_given_to_endpoints_created_without_one(engine: Engine) -> None:
    caps = InputCaps.of(Settings.from_env({"CRONICORN_CATCH_UP": "skip"}))
    client = Cronicorn(engine, caps=caps)
    assert add(client).catch_up == "skip" and add(client, catch_up="all").catch_up == "all"
    # Stored on the endpoint: an edit that does not name it keeps it, whatever the default now is.
    ep = add(client)
    assert Cronicorn(engine).update_endpoint(ep.id, name="renamed").catch_up == "skip"
    with pytest.raises(SettingsError, match="CRONICORN_CATCH_UP='later'"):
        Settings.from_env({"CRONICORN_CATCH_UP": "later"})


BAD = [
    ({"catch_up": "sometimes"}, "catch_up", "one of 'coalesce', 'skip' or 'all'"),
    ({"overlap": "queue"}, "overlap", "one of 'skip' or 'buffer_one'"),
    ({"catch_up_window_ms": 500}, "catch_up_window_ms", ">= 1000"),
    ({"catch_up_window_ms": 90_000_000}, "catch_up_window_ms", "<= 86400000"),
    ({"jitter_ms": -1}, "jitter_ms", ">= 0"),
    ({"jitter_ms": 3_600_001, "baseline_interval_ms": 7_200_000}, "jitter_ms", "<= 3600000"),
    ({"jitter_ms": 600_001}, "jitter_ms", "must not exceed baseline_interval_ms"),
    ({"max_runs": 0}, "max_runs", ">= 1"),
    ({"max_runs": "many"}, "max_runs", "whole number"),
    ({"starts_at": datetime(2026, 3, 2, 12)}, "starts_at", "aware datetime"),
    ({"ends_at": datetime(9999, 1, 1, tzinfo=UTC)}, "ends_at", "between 1970-01-01 and 9000-01-01"),
    ({"starts_at": NOW + HOUR, "ends_at": NOW}, "ends_at", "after starts_at"),
    ({"run_at": NOW, "baseline_cron": "0 * * * *", "baseline_interval_ms": None}, "baseline", "exactly one of"),
    ({"run_at": NOW, "baseline_interval_ms": None, "max_interval_ms": 60_000}, "max_interval_ms", "one-off"),
    ({"run_at": NOW, "baseline_interval_ms": None, "jitter_ms": 5}, "jitter_ms", "one-off"),
    ({"run_at": NOW, "baseline_interval_ms": None, "starts_at": NOW + SEC}, "run_at", "before starts_at"),
    ({"run_at": NOW, "baseline_interval_ms": None, "ends_at": NOW - SEC}, "run_at", "after ends_at"),
    ({"run_at": "tomorrow", "baseline_interval_ms": None}, "run_at", "datetime"),
]


@pytest.mark.parametrize("fields, field, reason", BAD, ids=[f"{f}-{r[:20]}" for _, f, r in BAD])
def test_a_bad_option_is_named_at_creation_update_and_registration_and_writes_nothing(
    client: Cronicorn, engine: Engine, fields: dict[str, Any], field: str, reason: str
) -> None:
    ep = add(client, name="kept")
    before = snapshot(engine)
    for call, prefix in (
        (lambda: client.add_endpoint(ep.job_id, {**BASE, **fields}), ""),
        (lambda: client.update_endpoint(ep.id, **fields), ""),
        (lambda: client.register({"name": "j"}, [{**BASE, **fields}]), "endpoints[0]."),
    ):
        with pytest.raises(InvalidInput) as refused:
            call()
        named = {e.field: e.reason for e in refused.value.errors}
        assert prefix + field in named and reason in named[prefix + field], refused.value
        assert snapshot(engine) == before


def test_setting_one_kind_of_schedule_replaces_the_others(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    one_off = client.update_endpoint(ep.id, run_at=now + HOUR)
    assert (one_off.baseline_interval_ms, one_off.run_at, one_off.next_run_source) == (None, now + HOUR, "one-off")
    back = client.update_endpoint(ep.id, baseline_cron="0 * * * *")
    assert (back.run_at, back.baseline_cron, back.next_run_at) == (None, "0 * * * *", now + HOUR)


def test_clearing_the_dates_and_the_count_takes_none(client: Cronicorn, now: datetime) -> None:
    ep = add(client, starts_at=now + HOUR, ends_at=now + 2 * HOUR, max_runs=3)
    cleared = client.update_endpoint(ep.id, starts_at=None, ends_at=None, max_runs=None)
    assert (cleared.starts_at, cleared.ends_at, cleared.max_runs, cleared.runs_left) == (None, None, None, None)
    assert cleared.next_run_at == now + 10 * MIN
    # None for an option with a default keeps the stored value (as for timeout_ms).
    kept = client.update_endpoint(ep.id, catch_up=None, overlap=None, jitter_ms=None, catch_up_window_ms=None)
    assert (kept.catch_up, kept.overlap, kept.jitter_ms) == ("coalesce", "skip", 0)


def test_registering_the_same_count_again_does_not_restart_it(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    spec = {**BASE, "max_runs": 3, "ends_at": now + 24 * HOUR}
    _, [ep] = client.register({"name": "j"}, [spec])
    with engine.begin() as conn:  # two runs happened
        conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(runs_left=1))
    before = snapshot(engine)
    _, [again] = client.register({"name": "j"}, [spec])
    assert again.runs_left == 1 and snapshot(engine) == before  # the same declaration writes nothing
    _, [changed] = client.register({"name": "j"}, [{**spec, "max_runs": 5}])
    assert changed.runs_left == 5


def test_an_end_in_the_past_is_accepted_and_the_endpoint_is_ended_at_once(client: Cronicorn, now: datetime) -> None:
    # Refusing it would break a deploy that re-registers an endpoint after its end date.
    ep = add(client, ends_at=now - HOUR)
    assert (ep.next_run_at, ep.ended_at) == (None, now)
    with pytest.raises(Conflict, match="ended"):
        client.run_now(ep.id)


# --- backfill -----------------------------------------------------------------------------------
BAD_RANGES = [
    (NOW - HOUR, NOW + SEC, "until", "must not be in the future"),
    (NOW - HOUR, NOW - HOUR, "since", "must be before until"),
    (NOW - HOUR, NOW - 2 * HOUR, "since", "must be before until"),
    (NOW - 2 * 24 * 1001 * HOUR, NOW, "until", "more than 1000 slots"),
    (NOW - 5 * MIN, NOW, "since", "no slot of the endpoint's schedule"),
    (datetime(2026, 3, 2, 11), NOW, "since", "aware datetime"),
    (None, NOW, "since", "is required"),
]


@pytest.mark.parametrize("since, until, field, reason", BAD_RANGES, ids=[r for *_, r in BAD_RANGES])
def test_a_bad_backfill_range_is_named_and_writes_nothing(
    client: Cronicorn, engine: Engine, since: Any, until: Any, field: str, reason: str
) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *")
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as refused:
        client.backfill(ep.id, since, until)
    assert [(e.field, reason in e.reason) for e in refused.value.errors] == [(field, True)], refused.value
    assert snapshot(engine) == before


def test_a_backfill_is_refused_for_a_one_off_an_archived_endpoint_or_while_another_runs(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    one_off = add(client, baseline_interval_ms=None, run_at=now + HOUR)
    running = add(client)
    client.backfill(running.id, now - HOUR, now)
    archived = client.archive_endpoint(add(client).id)
    before = snapshot(engine)
    for endpoint_id, reason in ((one_off.id, "one-off"), (running.id, "in progress"), (archived.id, "archived")):
        with pytest.raises(Conflict, match=reason):
            client.backfill(endpoint_id, now - HOUR, now)
    assert snapshot(engine) == before


def test_a_backfill_is_stored_as_a_cursor_and_planned_at_once(client: Cronicorn, now: datetime) -> None:
    ep = client.backfill(add(client).id, now - 30 * MIN, now)
    assert (ep.backfill_next_at, ep.backfill_until) == (now - 30 * MIN, now)
    assert (ep.next_run_at, ep.next_run_source) == (now - 30 * MIN, "backfill")

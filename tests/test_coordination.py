"""Coordination on both engines: cycles refused, upstream results ask for analyses, one test per conflict kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import openai
import pytest
from sqlalchemy import Engine, select

from cronicorn.core.errors import InvalidInput
from cronicorn.planner.selection import select_for_analysis, select_wanted
from cronicorn.planner.session_loop import PlannerConfig, run_session
from cronicorn.planner.tools import ToolBox, ToolError
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint
from cronicorn.store.attempts import Leases, Order, begin_attempts
from cronicorn.store.claims import claim_due
from cronicorn.store.conflicts import list_conflicts
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.tables import analysis_wanted, endpoint_watches, hint_events
from cronicorn.telemetry.metrics import CONFLICTS
from tests.core.test_coordination import NOW
from tests.factories import endpoint_row
from tests.fake_openai import FakeOpenAI, submit, turns
from tests.test_attempts import ok

MIN = timedelta(minutes=1)
CFG = PlannerConfig(model="fake-model", retries=0, retry_backoff_s=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Cronicorn:
    return Cronicorn(engine, clock=clock)


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


def add(client: Cronicorn, job_id: str, name: str, **fields: Any) -> Endpoint:
    return client.add_endpoint(
        job_id, name=name, url=f"https://{name}.example.com/", baseline_interval_ms=60_000, **fields
    )


def box(engine: Engine, ep: Endpoint, clock: Clock, *, chain: list[str] | None = None) -> ToolBox:
    """One AI session's tools for the endpoint (a new box is a new session)."""
    return ToolBox(
        engine=engine,
        tenant_id="default",
        endpoint_id=ep.id,
        job_id=ep.job_id,
        clock=clock,
        baseline_interval_ms=ep.baseline_interval_ms,
        chain=chain or [],
    )


def run_once(engine: Engine, endpoint_id: str, at: datetime) -> None:
    """Claim, start and finish one successful run of the endpoint at `at` (or when it is next due)."""
    at = max(at, endpoint_row(engine, endpoint_id).next_run_at)
    claims = [c for c in claim_due(engine, at, limit=100) if c.endpoint_id == endpoint_id]
    [claim] = claims
    started = begin_attempts(engine, [Order(endpoint_id, claim.fence)], at, leases=Leases(), take_locks=set)
    [attempt] = started.attempts
    assert attempt is not None
    assert finish_attempts(engine, [(attempt, ok(at + timedelta(seconds=1)))]) == [True]


def kinds(engine: Engine, at: datetime = NOW) -> list[tuple[str, str, str | None]]:
    found = list_conflicts(engine, "default", at, include_closed=True)
    return sorted((c["kind"], c["endpoint_id"], c["other_endpoint_id"]) for c in found)


# --- cycles among declared upstreams --------------------------------------------------------------


def test_a_two_endpoint_cycle_is_refused_with_the_cycle_named_and_nothing_changed(client: Cronicorn) -> None:
    ingest, report = client.create_job(name="ingest"), client.create_job(name="report")
    a = add(client, ingest.id, "a")
    b = add(client, report.id, "b", upstream_endpoint_ids=[a.id])
    with pytest.raises(InvalidInput) as refused:
        client.update_endpoint(a.id, upstream_endpoint_ids=[b.id])
    [error] = refused.value.errors
    assert error.field == "upstream_endpoint_ids[0]"
    assert error.reason == (f"would make a cycle: a ({a.id}) → b ({b.id}) → a ({a.id})")
    assert client.get_endpoint(a.id).upstream_endpoint_ids in ([], None)


def test_a_longer_cycle_is_refused_and_a_diamond_is_not(client: Cronicorn) -> None:
    job = client.create_job(name="pipeline")
    a = add(client, job.id, "a")
    b = add(client, job.id, "b", upstream_endpoint_ids=[a.id])
    c = add(client, job.id, "c", upstream_endpoint_ids=[b.id])
    d = add(client, job.id, "d", upstream_endpoint_ids=[b.id, c.id])  # a diamond: no cycle
    with pytest.raises(InvalidInput, match="would make a cycle: a .* → d .* → b .* → a "):
        client.update_endpoint(a.id, upstream_endpoint_ids=[d.id])
    assert d.upstream_endpoint_ids == [b.id, c.id]


def test_another_tenants_endpoint_is_not_found_and_the_graph_stops_at_the_tenant(engine: Engine, clock: Clock) -> None:
    ours, theirs = Cronicorn(engine, clock=clock), Cronicorn(engine, clock=clock, tenant_id="other")
    foreign = add(theirs, theirs.create_job(name="t").id, "foreign")
    job = ours.create_job(name="o")
    with pytest.raises(InvalidInput, match=r"upstream_endpoint_ids\[0\]: endpoint .* not found"):
        add(ours, job.id, "mine", upstream_endpoint_ids=[foreign.id])


# --- a new upstream result asks for an analysis of its watchers ------------------------------------


def test_an_upstream_result_asks_for_an_analysis_that_the_reactive_selection_picks_once(
    engine: Engine, client: Cronicorn
) -> None:
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    run_once(engine, up.id, NOW)
    with engine.connect() as conn:
        [wanted] = conn.execute(select(analysis_wanted)).all()
    assert wanted.endpoint_id == down.id and wanted.upstream_endpoint_id == up.id and wanted.chain == [up.id]
    assert select_wanted(engine, NOW + MIN, min_spacing_s=300) == [down.id]
    assert select_wanted(engine, NOW + 2 * MIN, min_spacing_s=300) == []  # picked: not enqueued twice
    assert select_wanted(engine, NOW + 7 * MIN, min_spacing_s=300) == [down.id]  # its task was lost: again


def test_the_reactive_session_sees_the_graph_and_serves_the_request(
    engine: Engine, client: Cronicorn, clock: Clock, model: FakeOpenAI
) -> None:
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    after = add(client, client.create_job(name="archive").id, "archive", upstream_endpoint_ids=[down.id])
    run_once(engine, up.id, NOW)
    model.script = turns([submit("upstream has a new batch")])
    clock.now = NOW + 2 * MIN
    session = run_session(
        engine, openai.OpenAI(api_key="t", base_url=model.base_url, max_retries=0), down.id, clock, CFG
    )
    assert session.status == "success"
    context = json.loads(model.requests[0]["messages"][1]["content"].split("\n\n", 1)[1])
    assert [u["name"] for u in context["declared_upstreams"]] == ["ingest"]
    assert context["declared_upstreams"][0]["latest_run"]["status"] == "success"
    assert [d["name"] for d in context["downstreams"]] == ["archive"] and after.id == context["downstreams"][0]["id"]
    assert context["triggered_by"]["upstream_endpoint_id"] == up.id and context["open_conflicts"] == []
    with engine.connect() as conn:
        assert conn.execute(select(analysis_wanted)).all() == []  # served
    # The minimum spacing holds for the next request too.
    run_once(engine, up.id, NOW + 3 * MIN)
    assert select_wanted(engine, NOW + 4 * MIN, min_spacing_s=300) == []
    assert select_wanted(engine, NOW + 8 * MIN, min_spacing_s=300) == [down.id]


def test_editing_the_upstreams_moves_the_watch(engine: Engine, client: Cronicorn) -> None:
    job = client.create_job(name="j")
    a, b = add(client, job.id, "a"), add(client, job.id, "b")
    c = add(client, job.id, "c", upstream_endpoint_ids=[a.id])
    client.update_endpoint(c.id, upstream_endpoint_ids=[b.id])
    with engine.connect() as conn:
        assert conn.execute(select(endpoint_watches.c.upstream_endpoint_id)).scalars().all() == [b.id]


# --- one test per conflict kind ------------------------------------------------------------------


def test_thrash_is_recorded_damped_and_the_hint_held(engine: Engine, client: Cronicorn, clock: Clock) -> None:
    ep = add(client, client.create_job(name="j").id, "flappy")
    before = CONFLICTS.labels("thrash")._value.get()
    for i, interval in enumerate([10_000, 600_000, 10_000, 600_000]):  # four sessions, three reversals
        clock.now = NOW + i * 10 * MIN
        result = box(engine, ep, clock).call("propose_interval", {"intervalMs": interval, "reason": f"session {i}"})
    assert "conflict (thrash)" in result["notes"][-1]
    assert kinds(engine, clock.now) == [("thrash", ep.id, None)]
    assert CONFLICTS.labels("thrash")._value.get() == before + 1
    # Damped: not analysed, and the held (slower) hint is not reversed.
    clock.now += MIN
    assert ep.id not in select_for_analysis(engine, clock.now + 2 * timedelta(hours=1), min_spacing_s=0)
    with pytest.raises(ToolError, match="held until"):
        box(engine, ep, clock).call("propose_interval", {"intervalMs": 10_000, "reason": "again"})
    assert client.get_endpoint(ep.id).ai_hint_interval_ms == 600_000


def test_a_downstream_sped_up_while_its_upstream_is_paused_is_refused(
    engine: Engine, client: Cronicorn, clock: Clock
) -> None:
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    box(engine, up, clock).call("pause_until", {"untilIso": (NOW + 30 * MIN).isoformat(), "reason": "source down"})
    with pytest.raises(ToolError, match="upstream .* is paused; the upstream wins"):
        box(engine, down, clock).call("propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "go"})
    assert client.get_endpoint(down.id).ai_hint_next_run_at is None
    assert kinds(engine) == [("graph-contradiction", down.id, up.id)]


def test_an_upstream_slowed_after_its_downstream_was_sped_up_clears_the_downstreams_hint(
    engine: Engine, client: Cronicorn, clock: Clock
) -> None:
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    box(engine, down, clock).call("propose_interval", {"intervalMs": 10_000, "reason": "batches coming"})
    result = box(engine, up, clock).call("propose_interval", {"intervalMs": 600_000, "reason": "source slow"})
    assert any("graph-contradiction" in n for n in result["notes"])
    assert client.get_endpoint(down.id).ai_hint_interval_ms is None
    assert kinds(engine) == [("graph-contradiction", down.id, up.id)]


def test_siblings_hinted_opposite_ways_for_the_same_cause_the_slower_wins(
    engine: Engine, client: Cronicorn, clock: Clock
) -> None:
    up = add(client, client.create_job(name="orders").id, "orders")
    job = client.create_job(name="fulfilment")
    fast = add(client, job.id, "fast", upstream_endpoint_ids=[up.id])
    slow = add(client, job.id, "slow", upstream_endpoint_ids=[up.id])
    box(engine, slow, clock, chain=[up.id]).call("propose_interval", {"intervalMs": 600_000, "reason": "backlog"})
    with pytest.raises(ToolError, match="slower decision wins"):
        box(engine, fast, clock, chain=[up.id]).call("propose_interval", {"intervalMs": 10_000, "reason": "rush"})
    assert kinds(engine) == [("siblings-opposed", fast.id, slow.id)]


def test_a_run_time_trigger_loop_is_recorded_and_not_passed_on(engine: Engine, client: Cronicorn, clock: Clock) -> None:
    job = client.create_job(name="j")
    a = add(client, job.id, "a")
    b = add(client, job.id, "b", upstream_endpoint_ids=[a.id])
    with engine.begin() as conn:  # a cycle from before cycles were refused
        conn.execute(endpoint_watches.insert().values(upstream_endpoint_id=b.id, downstream_endpoint_id=a.id))
    # a's AI asked for its run because of b's result, which came from a's: the next one loops.
    box(engine, a, clock, chain=[a.id, b.id]).call(
        "propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "b"}
    )
    run_once(engine, a.id, NOW + timedelta(seconds=1))
    assert kinds(engine, NOW + MIN) == [("trigger-loop", b.id, a.id)]
    with engine.connect() as conn:
        assert conn.execute(select(analysis_wanted)).all() == []
        assert conn.execute(select(hint_events.c.chain)).scalars().all() == [[a.id, b.id]]
    [conflict] = list_conflicts(engine, "default", NOW + MIN)
    assert conflict["detail"] == f"the runs cascade back to themselves: {b.id} → {a.id} → {b.id}"


def test_the_open_conflicts_reach_the_next_planner_context(
    engine: Engine, client: Cronicorn, clock: Clock, model: FakeOpenAI
) -> None:
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    box(engine, up, clock).call("pause_until", {"untilIso": (NOW + 30 * MIN).isoformat(), "reason": "source down"})
    with pytest.raises(ToolError):
        box(engine, down, clock).call("propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "go"})
    model.script = turns([submit()])
    ai = openai.OpenAI(api_key="t", base_url=model.base_url, max_retries=0)
    run_session(engine, ai, down.id, clock, CFG)
    context = json.loads(model.requests[0]["messages"][1]["content"].split("\n\n", 1)[1])
    [conflict] = context["open_conflicts"]
    assert conflict["kind"] == "graph-contradiction" and conflict["other_endpoint_id"] == up.id
    assert context["declared_upstreams"][0]["paused_by"] == "ai"


def test_conflicts_are_listed_per_tenant_and_close_after_the_window(engine: Engine, client: Cronicorn) -> None:
    clock = Clock()
    up = add(client, client.create_job(name="ingest").id, "ingest")
    down = add(client, client.create_job(name="report").id, "report", upstream_endpoint_ids=[up.id])
    box(engine, up, clock).call("pause_until", {"untilIso": (NOW + 30 * MIN).isoformat(), "reason": "down"})
    with pytest.raises(ToolError):
        box(engine, down, clock).call("propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "go"})
    assert len(list_conflicts(engine, "default", NOW, endpoint_id=up.id)) == 1
    assert list_conflicts(engine, "other", NOW) == []
    assert list_conflicts(engine, "default", NOW + timedelta(hours=2)) == []
    assert len(list_conflicts(engine, "default", NOW + timedelta(hours=2), include_closed=True)) == 1
    with pytest.raises(InvalidInput, match="limit"):
        list_conflicts(engine, "default", NOW, limit=0)


def test_beat_asks_for_reactive_analyses_every_few_seconds_and_scheduled_ones_as_before() -> None:
    from cronicorn.beat.schedule import beat_schedule
    from cronicorn.core.settings import Settings

    schedule = beat_schedule(Settings.from_env({}))
    assert schedule["plan_reactive_analyses"]["schedule"] == timedelta(seconds=2)
    assert schedule["plan_reactive_analyses"]["task"] == "cronicorn.plan_reactive_analyses"
    assert schedule["plan_analyses"]["schedule"] == timedelta(seconds=30)

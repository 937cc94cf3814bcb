"""The planner's tool contracts: the caps each schema states are the caps enforced, and nothing is clamped silently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_AI_PAUSE_MINUTES,
    MAX_HINT_REACH_MS,
    MAX_HINT_TTL_MINUTES,
    MAX_INTERVAL_HINT_MS,
    MAX_NEXT_ANALYSIS_MS,
    MAX_REASON_CHARS,
    MIN_INTERVAL_HINT_MS,
    MIN_NEXT_ANALYSIS_MS,
)
from cronicorn.planner.tools import TOOLS, ToolBox, ToolError, default_next_analysis_ms
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.hint_notes import interval_notes, oneshot_notes
from cronicorn.producer.hints import IntervalHint, OneShotHint
from cronicorn.producer.records import Endpoint
from tests.test_planner import record_runs

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
# Caps a JSON schema cannot state as numbers (how far ahead a time may lie); stated in words instead.
RELATIVE_CAPS = {
    ("propose_next_time", "nextRunAtIso"): timedelta(milliseconds=MAX_HINT_REACH_MS),
    ("pause_until", "untilIso"): timedelta(minutes=MAX_AI_PAUSE_MINUTES),
}


@pytest.fixture
def client(engine: Engine) -> Cronicorn:
    return Cronicorn(engine, clock=lambda: NOW)


@pytest.fixture
def endpoint(engine: Engine, client: Cronicorn) -> Endpoint:
    job = client.create_job(name="shop")
    ep = client.add_endpoint(
        job.id,
        name="orders",
        url="https://shop.example.com/orders",
        baseline_interval_ms=600_000,
        min_interval_ms=30_000,
        max_interval_ms=3_600_000,
    )
    record_runs(engine, ep, [{"orders": i} for i in range(7)])
    return ep


def box_for(engine: Engine, ep: Endpoint, *, shadow: bool = False) -> ToolBox:
    return ToolBox(
        engine=engine,
        tenant_id="default",
        endpoint_id=ep.id,
        job_id=ep.job_id,
        clock=lambda: NOW,
        shadow=shadow,
        baseline_interval_ms=ep.baseline_interval_ms,
    )


# --- the schema walk -------------------------------------------------------------------------
OK, REFUSED, BEYOND = "ok", "refused", "beyond"  # BEYOND: refused, or held to the bound and said so


def _type(prop: dict[str, Any]) -> str:
    kind = prop["type"]
    return str(kind[0] if isinstance(kind, list) else kind)


def _valid(prop: dict[str, Any]) -> Any:
    kind = _type(prop)
    if "enum" in prop:
        return prop["enum"][0]
    if prop.get("format") == "date-time":
        return (NOW + timedelta(hours=1)).isoformat()
    return {"integer": prop.get("minimum", 1), "number": prop.get("maximum", 1), "string": "x"}.get(
        kind, {"boolean": False, "array": []}.get(kind)
    )


def _numbers(prop: dict[str, Any]) -> list[tuple[Any, str, Any]]:
    step = 1 if _type(prop) == "integer" else 0.5
    out: list[tuple[Any, str, Any]] = [("12", REFUSED, None), (True, REFUSED, None)]
    if "minimum" in prop:
        out += [(prop["minimum"], OK, None), (prop["minimum"] - step, BEYOND, prop["minimum"])]
    if "maximum" in prop:
        out += [(prop["maximum"], OK, None), (prop["maximum"] + step, BEYOND, prop["maximum"])]
    if "exclusiveMinimum" in prop:
        out += [(prop["exclusiveMinimum"], REFUSED, None), (prop["exclusiveMinimum"] + step, OK, None)]
    if _type(prop) == "integer":
        out.append((1.5, REFUSED, None))
    return out


def _strings(prop: dict[str, Any]) -> list[tuple[Any, str, Any]]:
    out: list[tuple[Any, str, Any]] = [(5, REFUSED, None)]
    if prop.get("format") == "date-time":
        return out + [("tomorrow", REFUSED, None), ("2026-03-02T13:00:00", REFUSED, None)]
    if "maxLength" in prop:
        out += [("x" * prop["maxLength"], OK, None), ("x" * (prop["maxLength"] + 1), REFUSED, None)]
    if prop.get("minLength") == 1:
        out += [("", REFUSED, None)]
    if "enum" in prop:
        out += [(value, OK, None) for value in prop["enum"]] + [("nonsense", REFUSED, None)]
    return out


def cases(prop: dict[str, Any]) -> list[tuple[Any, str, Any]]:
    """(value, expectation, bound) for every cap the property states."""
    kind = _type(prop)
    out = {
        "integer": _numbers,
        "number": _numbers,
        "string": _strings,
        "boolean": lambda p: [(True, OK, None), ("yes", REFUSED, None)],
        "array": lambda p: [(["a"], OK, None), ("a", REFUSED, None), ([1], REFUSED, None)],
    }[kind](prop)
    return out + ([(None, OK, None)] if isinstance(prop["type"], list) and "null" in prop["type"] else [])


def test_every_tool_schema_states_the_caps_the_code_enforces(engine: Engine, endpoint: Endpoint) -> None:
    # Writes go through for real, so the client's and the API's validated models are walked too.
    box = box_for(engine, endpoint)
    checked = 0
    for name, schema in SCHEMAS.items():
        props = schema["properties"]
        valid = {p: _valid(props[p]) for p in schema["required"]}
        box.call(name, valid)
        with pytest.raises(ToolError, match="unknown argument 'bogus'"):
            box.call(name, {**valid, "bogus": 1})
        for required in schema["required"]:
            with pytest.raises(ToolError, match=f"^{required} is required"):
                box.call(name, {k: v for k, v in valid.items() if k != required})
        for prop_name, prop in props.items():
            for value, expect, bound in cases(prop):
                args = {**valid, prop_name: value}
                label = f"{name}({prop_name}={value!r})"
                if expect == OK:
                    box.call(name, args)
                    continue
                try:
                    result = box.call(name, args)
                except ToolError as exc:
                    assert str(exc).startswith(prop_name), f"{label}: the error must name the argument: {exc}"
                else:
                    said = json.dumps(result)
                    assert expect == BEYOND and f"{prop_name} {value} was clamped to {bound}" in said, label
                checked += 1
    assert checked >= 50  # the walk really walked


def test_times_state_how_far_ahead_they_may_lie_and_that_cap_is_enforced(engine: Engine, endpoint: Endpoint) -> None:
    times = {(n, p) for n, s in SCHEMAS.items() for p, prop in s["properties"].items() if prop.get("format")}
    assert times == set(RELATIVE_CAPS)  # a new time argument needs its cap stated and tested here
    box = box_for(engine, endpoint)
    for (name, prop_name), cap in RELATIVE_CAPS.items():
        assert f"at most {cap.days} days from now" in SCHEMAS[name]["properties"][prop_name]["description"]
        box.call(name, {prop_name: (NOW + cap).isoformat(), "reason": "at the cap"})
        with pytest.raises(ToolError, match=f"^{prop_name} must be at most {cap.days} days from now"):
            box.call(name, {prop_name: (NOW + cap + MIN).isoformat(), "reason": "past the cap"})


@pytest.mark.parametrize(
    "tool, prop, cap, value",
    [
        ("propose_interval", "intervalMs", "minimum", MIN_INTERVAL_HINT_MS),
        ("propose_interval", "intervalMs", "maximum", MAX_INTERVAL_HINT_MS),
        ("propose_interval", "ttlMinutes", "maximum", MAX_HINT_TTL_MINUTES),
        ("propose_interval", "ttlMinutes", "default", DEFAULT_INTERVAL_HINT_TTL_MINUTES),
        ("propose_next_time", "ttlMinutes", "maximum", MAX_HINT_TTL_MINUTES),
        ("propose_next_time", "ttlMinutes", "default", DEFAULT_ONESHOT_HINT_TTL_MINUTES),
        ("propose_interval", "reason", "maxLength", MAX_REASON_CHARS),
        ("pause_until", "reason", "maxLength", MAX_REASON_CHARS),
        ("clear_hints", "reason", "maxLength", MAX_REASON_CHARS),
        ("submit_analysis", "next_analysis_in_ms", "minimum", MIN_NEXT_ANALYSIS_MS),
        ("submit_analysis", "next_analysis_in_ms", "maximum", MAX_NEXT_ANALYSIS_MS),
        ("submit_analysis", "confidence", "default", "high"),
        ("get_response_history", "limit", "default", 5),
        ("get_sibling_latest_responses", "includeResponses", "default", False),
    ],
)
def test_the_stated_caps_are_the_shared_constants(tool: str, prop: str, cap: str, value: Any) -> None:
    assert SCHEMAS[tool]["properties"][prop][cap] == value


def test_the_ais_caps_on_hints_are_the_ones_people_get() -> None:
    interval = IntervalHint.model_json_schema()["properties"]
    oneshot = OneShotHint.model_json_schema()["properties"]
    tool = SCHEMAS["propose_interval"]["properties"]
    assert (tool["intervalMs"]["minimum"], tool["intervalMs"]["maximum"]) == (
        interval["interval_ms"]["minimum"],
        interval["interval_ms"]["maximum"],
    )
    assert tool["ttlMinutes"]["maximum"] == interval["ttl_minutes"]["maximum"] == oneshot["ttl_minutes"]["maximum"]
    assert tool["ttlMinutes"]["exclusiveMinimum"] == interval["ttl_minutes"]["exclusiveMinimum"]


# --- pauses ----------------------------------------------------------------------------------
def test_the_ai_cannot_pause_past_its_cap(engine: Engine, client: Cronicorn, endpoint: Endpoint) -> None:
    box = box_for(engine, endpoint)
    with pytest.raises(ToolError, match="^untilIso must be at most 7 days from now"):
        box.call("pause_until", {"untilIso": "9999-12-31T00:00:00Z", "reason": "forever"})
    assert client.get_endpoint(endpoint.id).paused_until is None


def test_a_pause_without_its_time_is_an_error_and_does_not_resume(
    engine: Engine, client: Cronicorn, endpoint: Endpoint
) -> None:
    box = box_for(engine, endpoint)
    box.call("pause_until", {"untilIso": (NOW + timedelta(hours=2)).isoformat(), "reason": "spike"})
    with pytest.raises(ToolError, match="^untilIso is required"):
        box.call("pause_until", {"reason": "forgot the time"})
    with pytest.raises(ToolError, match="^untilIso must be in the future"):
        box.call("pause_until", {"untilIso": (NOW - MIN).isoformat(), "reason": "in the past"})
    assert client.get_endpoint(endpoint.id).paused_until == NOW + timedelta(hours=2)
    box.call("pause_until", {"untilIso": None, "reason": "over"})  # null, said explicitly, resumes
    assert client.get_endpoint(endpoint.id).paused_until is None


# --- hints outside min/max are clamped, and the result says so --------------------------------
def test_an_interval_below_the_minimum_is_clamped_and_the_result_says_to_what_and_why(
    engine: Engine, endpoint: Endpoint
) -> None:
    result = box_for(engine, endpoint).call("propose_interval", {"intervalMs": 1_000, "reason": "busy"})
    assert result["applied"] and result["notes"] == [
        "the interval hint of 1000 ms was clamped to 30000 ms: the endpoint's minimum interval "
        "(min_interval_ms) keeps its runs at least 30000 ms apart"
    ]


def test_an_interval_above_the_maximum_is_clamped_and_said_so_in_shadow_mode_too(
    engine: Engine, client: Cronicorn, endpoint: Endpoint
) -> None:
    before = client.get_endpoint(endpoint.id)
    result = box_for(engine, endpoint, shadow=True).call("propose_interval", {"intervalMs": 7_200_000, "reason": "x"})
    assert not result["applied"] and "interval hint of 7200000 ms was clamped to 3600000 ms" in result["notes"][0]
    assert client.get_endpoint(endpoint.id) == before


def test_a_one_shot_before_the_minimum_interval_is_clamped_and_said_so(engine: Engine, endpoint: Endpoint) -> None:
    # The last run was a minute ago and the minimum interval is 30 s: "now" is allowed, "in 10 s" is too.
    with engine.begin() as conn:
        from cronicorn.store.tables import endpoints

        conn.execute(
            endpoints.update().where(endpoints.c.id == endpoint.id).values(last_run_at=NOW - timedelta(seconds=5))
        )
    result = box_for(engine, endpoint).call("propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "go"})
    floor = NOW + timedelta(seconds=25)
    assert result["next_run_at"] == floor.isoformat() and result["next_run_source"] == "clamped-min"
    assert result["notes"][0].startswith(
        f"the one-shot time was clamped to {floor.isoformat()}: the endpoint's minimum"
    )


def test_a_one_shot_later_than_the_planned_run_says_the_run_stays(engine: Engine, endpoint: Endpoint) -> None:
    planned = box_for(engine, endpoint).call("clear_hints", {"reason": "start clean"})["next_run_at"]
    later = datetime.fromisoformat(planned) + timedelta(hours=1)
    result = box_for(engine, endpoint).call("propose_next_time", {"nextRunAtIso": later.isoformat(), "reason": "x"})
    assert result["next_run_at"] == planned and f"the next run stays at {planned}" in result["notes"][0]


def test_hints_within_the_guardrails_carry_no_notes(engine: Engine, endpoint: Endpoint) -> None:
    result = box_for(engine, endpoint).call("propose_interval", {"intervalMs": 60_000, "reason": "steady"})
    assert "notes" not in result


def test_notes_name_a_pause_that_defers_the_hint() -> None:
    ep = _record(paused_until=NOW + timedelta(hours=1), paused_by="user")
    assert "paused until 2026-03-02T13:00:00+00:00 (by a person)" in interval_notes(60_000, ep, NOW)[0]
    assert "paused until" in oneshot_notes(NOW, ep, NOW)[0]
    assert oneshot_notes(NOW - MIN, _record(), NOW)[0].startswith("the one-shot time 2026-03-02T11:59:00+00:00 is in")


def _record(**changes: Any) -> Endpoint:
    fields: dict[str, Any] = {name: None for name in Endpoint.__dataclass_fields__}
    fields.update(id="e", job_id="j", name="e", url="https://x.example/", method="GET", headers={}, timezone="UTC")
    fields.update(failure_count=0, timeout_ms=1000, max_execution_time_ms=1000, max_response_size_kb=1)
    fields.update(created_at=NOW, updated_at=NOW, next_run_at=NOW + timedelta(minutes=10), running=False)
    return Endpoint(**{**fields, **changes})


# --- submit_analysis and the reads' defaults --------------------------------------------------
@pytest.mark.parametrize(
    "baseline_interval_ms, expected",
    [
        (600_000, 600_000),
        (None, 300_000),  # cron: five minutes, as the original
        (1_000, MIN_NEXT_ANALYSIS_MS),  # a fast endpoint is not analysed every second
        (3 * 86_400_000, MAX_NEXT_ANALYSIS_MS),
    ],
)
def test_the_next_analysis_defaults_to_the_baseline_interval_within_the_bounds(
    baseline_interval_ms: int | None, expected: int
) -> None:
    assert default_next_analysis_ms(baseline_interval_ms) == expected


def test_a_bare_submission_gets_the_originals_defaults(engine: Engine, endpoint: Endpoint) -> None:
    box = box_for(engine, endpoint)
    result = box.call("submit_analysis", {"reasoning": "stable"})
    assert box.submission is not None
    assert (box.submission.confidence, box.submission.actions_taken, box.submission.next_analysis_in_ms) == (
        "high",
        [],
        600_000,
    )
    assert result["next_analysis_at"] == (NOW + timedelta(minutes=10)).isoformat()


def test_an_out_of_range_next_analysis_is_clamped_and_said_so(engine: Engine, endpoint: Endpoint) -> None:
    box = box_for(engine, endpoint)
    result = box.call("submit_analysis", {"reasoning": "x", "next_analysis_in_ms": 60_000})
    assert box.submission is not None and box.submission.next_analysis_in_ms == MIN_NEXT_ANALYSIS_MS
    assert result["notes"] == [
        "next_analysis_in_ms 60000 was clamped to 300000: it must be between 300000 and 86400000"
    ]


def test_siblings_come_with_a_preview_unless_responses_are_asked_for(
    engine: Engine, client: Cronicorn, endpoint: Endpoint
) -> None:
    sibling = client.add_endpoint(
        endpoint.job_id, name="stock", url="https://shop.example.com/stock", baseline_interval_ms=60_000
    )
    record_runs(engine, sibling, [{"items": "x" * 1000}])
    box = box_for(engine, endpoint)
    [preview] = box.call("get_sibling_latest_responses", {})["siblings"]
    [full] = box.call("get_sibling_latest_responses", {"includeResponses": True})["siblings"]
    assert len(preview["latest_response"]["body"]) == 201 and len(full["latest_response"]["body"]) == 401
    assert preview["latest_response"]["status_code"] == 200


def test_history_defaults_to_five_runs_with_previews(engine: Engine, endpoint: Endpoint) -> None:
    box = box_for(engine, endpoint)
    first = box.call("get_response_history", {})
    assert (first["count"], first["has_more"], first["next_offset"]) == (5, True, 5)
    assert all(len(r["body"]) <= 200 for r in first["runs"])
    rest = box.call("get_response_history", {"offset": first["next_offset"]})
    assert (rest["count"], rest["has_more"], rest["next_offset"]) == (2, False, None)

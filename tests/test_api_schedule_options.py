"""Schedule options over REST: camelCase in and out, 422 naming the camelCase field, backfill's route."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api_client import ENDPOINT, NOW, Api, z
from tests.clients import snapshot

SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
OPTIONS = {
    "catchUp": "all",
    "catchUpWindowMs": 7_200_000,
    "overlap": "buffer_one",
    "jitterMs": 5_000,
    "startsAt": z(NOW + HOUR),
    "endsAt": z(NOW + 24 * HOUR),
    "maxRuns": 10,
}


def job(api: Api) -> str:
    return str(api("POST", "/jobs", {"name": "options"}).json()["id"])


def test_every_option_goes_in_and_comes_out_in_camel_case(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    created = api("POST", f"/jobs/{job(api)}/endpoints", {**ENDPOINT, **OPTIONS})
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: body[k] for k in OPTIONS} == OPTIONS
    assert (body["runsLeft"], body["endedAt"], body["runAt"]) == (10, None, None)
    assert (body["backfillNextAt"], body["backfillUntil"]) == (None, None)
    assert body["nextRunAt"] == z(NOW + HOUR) and body["nextRunSource"] == "starts-at"
    assert api("GET", f"/endpoints/{body['id']}").json() == body
    planned = api("GET", f"/endpoints/{body['id']}/explain", params={"n": 2}).json()["planned"]
    assert planned[0] == {
        "at": z(NOW + HOUR),
        "source": "starts-at",
        "note": None,
        "detail": f"10 of max_runs left, this one included; starts_at {z(NOW + HOUR)}",
    }
    second = datetime.fromisoformat(planned[1]["at"].replace("Z", "+00:00"))
    assert NOW + HOUR + MIN <= second <= NOW + HOUR + MIN + 5 * SEC and "jitter" in planned[1]["detail"]


def test_an_ended_endpoint_is_shown_as_ended_in_reads_and_explain(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    ended = api("POST", f"/jobs/{job(api)}/endpoints", {**ENDPOINT, "endsAt": z(NOW - HOUR)}).json()
    assert (ended["endedAt"], ended["nextRunAt"]) == (z(NOW), None)
    explained = api("GET", f"/endpoints/{ended['id']}/explain").json()
    assert explained == {"planned": [], "endedAt": z(NOW), "decisions": []}
    answer = api("POST", f"/endpoints/{ended['id']}/run-now")
    assert answer.status_code == 409 and "ended" in answer.json()["error"]


def test_a_one_off_is_the_third_kind_of_schedule(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    one_off = {k: v for k, v in ENDPOINT.items() if k not in ("baselineIntervalMs", "maxIntervalMs")}
    created = api("POST", f"/jobs/{job(api)}/endpoints", {**one_off, "runAt": z(NOW + HOUR)})
    assert created.status_code == 201, created.text
    assert (created.json()["runAt"], created.json()["nextRunSource"]) == (z(NOW + HOUR), "one-off")
    ep = created.json()
    back = api("PATCH", f"/jobs/{ep['jobId']}/endpoints/{ep['id']}", {"baselineIntervalMs": 60_000})
    assert (back.json()["runAt"], back.json()["baselineIntervalMs"]) == (None, 60_000)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"catchUp": "sometimes"}, "catchUp"),
        ({"overlap": "queue"}, "overlap"),
        ({"catchUpWindowMs": 1}, "catchUpWindowMs"),
        ({"catchUpWindowMs": "1h"}, "catchUpWindowMs"),
        ({"jitterMs": 60_001}, "jitterMs"),
        ({"maxRuns": 0}, "maxRuns"),
        ({"startsAt": "2026-03-02T12:00:00"}, "startsAt"),
        ({"endsAt": "next week"}, "endsAt"),
        ({"startsAt": z(NOW + HOUR), "endsAt": z(NOW)}, "endsAt"),
        ({"runAt": z(NOW)}, "baseline"),
    ],
)
def test_a_bad_option_is_a_422_naming_the_camel_case_field_and_writes_nothing(
    api_pair: tuple[Api, Api, Engine], fields: dict[str, Any], field: str
) -> None:
    api, _, engine = api_pair
    job_id = job(api)
    ep = api("POST", f"/jobs/{job_id}/endpoints", ENDPOINT).json()
    before = snapshot(engine)
    for answer in (
        api("POST", f"/jobs/{job_id}/endpoints", {**ENDPOINT, "name": "x", **fields}),
        api("PATCH", f"/jobs/{job_id}/endpoints/{ep['id']}", fields) if field != "baseline" else None,
    ):
        if answer is None:
            continue
        assert answer.status_code == 422, answer.text
        assert field in [d["field"] for d in answer.json()["details"]], answer.text
    assert snapshot(engine) == before


def test_backfill_runs_a_past_range_and_is_refused_with_the_field_or_the_reason(
    api_pair: tuple[Api, Api, Engine],
) -> None:
    api, other, engine = api_pair
    ep = api("POST", f"/jobs/{job(api)}/endpoints", ENDPOINT).json()
    where = f"/endpoints/{ep['id']}/backfill"
    before = snapshot(engine)
    for body, field in (
        ({"since": z(NOW - HOUR), "until": z(NOW + MIN)}, "until"),
        ({"since": z(NOW), "until": z(NOW - HOUR)}, "since"),
        ({"since": "yesterday", "until": z(NOW)}, "since"),
        ({"until": z(NOW)}, "since"),
    ):
        answer = api("POST", where, body)
        assert answer.status_code == 422 and [d["field"] for d in answer.json()["details"]] == [field], answer.text
    assert other("POST", where, {"since": z(NOW - HOUR), "until": z(NOW)}).status_code == 404
    assert snapshot(engine) == before
    started = api("POST", where, {"since": z(NOW - 3 * MIN), "until": z(NOW)})
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["backfillNextAt"], body["backfillUntil"], body["nextRunSource"]) == (
        z(NOW - 3 * MIN),
        z(NOW),
        "backfill",
    )
    again = api("POST", where, {"since": z(NOW - 3 * MIN), "until": z(NOW)})
    assert again.status_code == 409 and "in progress" in again.json()["error"]

"""Notification channels and auto-pause over REST: camelCase, 201/204, 422 naming the field, tenants apart."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api_client import ENDPOINT, Api


def test_a_channel_is_added_listed_and_removed_and_its_secret_shown_once(api_pair: tuple[Api, Api, Engine]) -> None:
    api, other, _ = api_pair
    job_id = api("POST", "/jobs", {"name": "j"}).json()["id"]
    made = api(
        "POST",
        "/notification-channels",
        {"kind": "webhook", "target": "https://hooks.example.com/x", "jobId": job_id, "failureThreshold": 5},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["jobId"] == job_id and body["failureThreshold"] == 5 and len(body["secret"]) >= 16
    assert body["events"] == ["failing", "recovered", "ai_paused", "auto_paused"]
    [listed] = api("GET", "/notification-channels").json()["channels"]
    assert listed["id"] == body["id"] and listed["secret"] is None
    assert other("GET", "/notification-channels").json()["channels"] == []  # tenants never see each other's
    assert other("DELETE", f"/notification-channels/{body['id']}").status_code == 404
    assert api("DELETE", f"/notification-channels/{body['id']}").status_code == 204
    assert api("GET", "/notification-channels").json()["channels"] == []
    assert api("GET", "/notifications").json() == {"notifications": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "pager", "target": "x"}, "kind"),
        ({"kind": "webhook", "target": "ftp://x"}, "target"),
        ({"kind": "email", "target": "nobody"}, "target"),
        ({"kind": "webhook", "target": "https://example.com/x", "events": ["boom"]}, "events"),
        ({"kind": "webhook", "target": "https://example.com/x", "failureThreshold": 0}, "failureThreshold"),
        ({"kind": "webhook", "target": "https://example.com/x", "failureThreshold": "3"}, "failureThreshold"),
        ({"kind": "webhook", "target": "https://example.com/x", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_channel_is_a_422_naming_the_field(
    api_pair: tuple[Api, Api, Engine], body: dict[str, Any], field: str
) -> None:
    api, _, _ = api_pair
    response = api("POST", "/notification-channels", body)
    assert response.status_code == 422, response.text
    assert any(d["field"] == field for d in response.json()["details"]), response.json()
    assert api("GET", "/notification-channels").json()["channels"] == []


def test_auto_pause_is_set_on_an_endpoint_or_a_job_and_validated(api_pair: tuple[Api, Api, Engine]) -> None:
    api, other, _ = api_pair
    job_id = api("POST", "/jobs", {"name": "j"}).json()["id"]
    ep = api("POST", f"/jobs/{job_id}/endpoints", ENDPOINT).json()
    assert api("PUT", f"/jobs/{job_id}/auto-pause", {"afterFailures": 5}).json() == {
        "jobId": job_id,
        "afterFailures": 5,
    }
    done = api("PUT", f"/endpoints/{ep['id']}/auto-pause", {"afterFailures": None})
    assert done.status_code == 200 and done.json()["afterFailures"] is None
    bad = api("PUT", f"/endpoints/{ep['id']}/auto-pause", {"afterFailures": 0})
    assert bad.status_code == 422 and any(d["field"] == "afterFailures" for d in bad.json()["details"]), bad.json()
    assert other("PUT", f"/jobs/{job_id}/auto-pause", {"afterFailures": 5}).status_code == 404

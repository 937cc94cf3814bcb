"""Dependencies over REST: declared, read, refused with a 422 naming the field, removed; decisions read."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.api_client import ENDPOINT, Api


def endpoint(api: Api, name: str) -> str:
    job = api("POST", "/jobs", {"name": f"job-{name}"}).json()["id"]
    created = api("POST", f"/jobs/{job}/endpoints", {**ENDPOINT, "name": name})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_dependency_is_declared_read_and_removed_over_rest(api_pair: tuple[Api, Api, Engine]) -> None:
    api, other, _ = api_pair
    up, down = endpoint(api, "ingest"), endpoint(api, "report")
    spec = {"upstreamEndpointIds": [up], "batchKey": "$.batch_id", "gate": True, "fanIn": "all"}
    answer = api("PUT", f"/endpoints/{down}/dependency", spec)
    assert answer.status_code == 200, answer.text
    assert answer.json()["spec"]["batchKey"] == "$.batch_id"
    assert api("GET", f"/endpoints/{down}/dependency").json()["upstreams"][0]["upstreamEndpointId"] == up
    assert api("GET", f"/endpoints/{down}/decisions").json() == {"decisions": []}
    assert api("GET", f"/endpoints/{down}/explain").json()["decisions"] == []
    # Another tenant sees nothing
    assert other("GET", f"/endpoints/{down}/dependency").status_code == 404
    # A cycle, a bad expression, a body that is no object: 422 naming the field, nothing written
    cycle = api("PUT", f"/endpoints/{up}/dependency", {"upstreamEndpointIds": [down]})
    assert cycle.status_code == 422 and "cycle" in cycle.text and "upstreamEndpointIds" in cycle.text
    bad = api("PUT", f"/endpoints/{down}/dependency", {"upstreamEndpointIds": [up], "condition": "$.a =="})
    assert bad.status_code == 422 and "condition" in bad.text
    assert api("PUT", f"/endpoints/{down}/dependency", [1]).status_code == 422
    assert api("GET", f"/endpoints/{down}/dependency").json()["spec"]["gate"] is True
    assert api("DELETE", f"/endpoints/{down}/dependency").status_code == 204
    assert api("GET", f"/endpoints/{down}/dependency").status_code == 404

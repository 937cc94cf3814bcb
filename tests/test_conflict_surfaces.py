"""Conflicts surface everywhere a person looks: the REST API, the command line (and the client, the
metric and the planner's context: see `tests/test_coordination.py`)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.planner.tools import ToolBox, ToolError
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_objects import add_object_commands
from tests.api_client import NOW, Api

MIN = timedelta(minutes=1)


def contradict(engine: Engine, tenant_id: str, up: dict[str, Any], down: dict[str, Any]) -> None:
    """The AI pauses the upstream, then tries to speed up its downstream: refused, and recorded."""

    def box(ep: dict[str, Any]) -> ToolBox:
        return ToolBox(engine=engine, tenant_id=tenant_id, endpoint_id=ep["id"], job_id=ep["job_id"], clock=lambda: NOW)

    box(up).call("pause_until", {"untilIso": (NOW + 30 * MIN).isoformat(), "reason": "source down"})
    with pytest.raises(ToolError):
        box(down).call("propose_next_time", {"nextRunAtIso": NOW.isoformat(), "reason": "go"})


def test_conflicts_are_listed_over_rest_per_tenant_and_bad_queries_name_the_field(
    api_pair: tuple[Api, Api, Engine],
) -> None:
    acme, other, engine = api_pair
    job = acme("POST", "/jobs", {"name": "pipeline"}).json()
    body = {"url": "https://x.example.com/", "baselineIntervalMs": 60_000}
    up = acme("POST", f"/jobs/{job['id']}/endpoints", {**body, "name": "ingest"}).json()
    down = acme("POST", f"/jobs/{job['id']}/endpoints", {**body, "name": "report", "upstreamEndpointIds": [up["id"]]})
    down = down.json()
    contradict(engine, "acme", {**up, "job_id": job["id"]}, {**down, "job_id": job["id"]})
    [conflict] = acme("GET", "/conflicts").json()["conflicts"]
    assert conflict["kind"] == "graph-contradiction" and conflict["endpointId"] == down["id"]
    assert conflict["otherEndpointId"] == up["id"] and "upstream wins" in conflict["resolution"]
    assert len(acme("GET", f"/conflicts?endpointId={up['id']}").json()["conflicts"]) == 1
    assert other("GET", "/conflicts").json()["conflicts"] == []  # the tenant boundary holds
    # A cycle over REST is refused, naming the field; nothing changes.
    refused = acme("PATCH", f"/jobs/{job['id']}/endpoints/{up['id']}", {"upstreamEndpointIds": [down["id"]]})
    assert refused.status_code == 422 and "cycle" in refused.text and "upstreamEndpointIds[0]" in refused.text
    for query, field in [("limit=0", "limit"), ("includeClosed=perhaps", "includeClosed"), ("endpointId=%00", "")]:
        answer = acme("GET", f"/conflicts?{query}")
        assert answer.status_code == 422 and field in answer.text, (query, answer.text)


def test_conflicts_are_listed_on_the_command_line(
    engine: Engine, capsys: pytest.CaptureFixture[str], now: datetime
) -> None:
    client = Cronicorn(engine, clock=lambda: NOW)
    job = client.create_job(name="pipeline")
    up = client.add_endpoint(job.id, name="ingest", url="https://x.example.com/", baseline_interval_ms=60_000)
    down = client.add_endpoint(
        job.id, name="report", url="https://y.example.com/", baseline_interval_ms=60_000, upstream_endpoint_ids=[up.id]
    )
    contradict(engine, "default", {"id": up.id, "job_id": job.id}, {"id": down.id, "job_id": job.id})
    parser = argparse.ArgumentParser(prog="cronicorn")
    add_object_commands(parser.add_subparsers(dest="command", required=True), lambda _args: client)

    def run(*argv: str) -> str:
        capsys.readouterr()
        args = parser.parse_args(list(argv))
        assert args.func(args) == 0
        return capsys.readouterr().out

    out = run("conflicts", "list")
    assert "graph-contradiction" in out and "report" in out and "1 open conflicts" in out
    [found] = json.loads(run("conflicts", "list", "--endpoint", up.id, "--json"))
    assert found["kind"] == "graph-contradiction"
    assert "0 conflicts" not in run("conflicts", "list", "--all")

"""The dependency graph pages: the tenant's (`/dependencies`) and one job's (`/jobs/{id}/dependencies`).

Endpoints are nodes (grouped by job, coloured by status), edges run upstream → downstream with their mode,
condition and last evaluation. The same edges are an HTML table, so the page says everything without
JavaScript; `static/graph.js` draws the picture from the JSON the page carries (laid out by the vendored
dagre). Only endpoints that have an edge are read, at most `MAX_EDGES` edges (`read_graph`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from cronicorn.api.dashboard.auth import SignedIn
from cronicorn.api.dashboard.render import page
from cronicorn.api.dashboard.why import endpoint_status
from cronicorn.api.deps import client_for, deps
from cronicorn.core.dependencies import Dependency
from cronicorn.core.edge_evaluation import EdgeResult
from cronicorn.producer.records import Endpoint, Job
from cronicorn.store.dependency_graph import MAX_EDGES, DependencyGraph, GraphEdge, read_graph

router = APIRouter(include_in_schema=False)

# How each result reads in the table and which colour it takes (the pill classes of dashboard.css).
RESULTS: dict[EdgeResult, tuple[str, str]] = {
    EdgeResult.FIRED: ("fired", "success"),
    EdgeResult.GATE_OPEN: ("gate open", "success"),
    EdgeResult.WAITING: ("waiting for fan-in", "running"),
    EdgeResult.GATED: ("gated", "paused"),
    EdgeResult.CONDITION_FALSE: ("condition false", "skipped"),
    EdgeResult.OUTCOME: ("outcome not wanted", "skipped"),
    EdgeResult.KEY_MISSING: ("batch key missing", "skipped"),
    EdgeResult.KEY_RAN: ("batch key already ran", "skipped"),
    EdgeResult.IGNORED: ("ignored", "skipped"),
    EdgeResult.NONE: ("not evaluated yet", ""),
}


@router.get("/dependencies")
def tenant_graph_page(request: Request, session: SignedIn) -> Response:
    graph = read_graph(deps(request).engine, session.tenant_id)
    return _page(request, graph, None)


@router.get("/jobs/{job_id}/dependencies")
def job_graph_page(request: Request, session: SignedIn, job_id: str = Path(max_length=36)) -> Response:
    job = client_for(request, session.tenant_id).get_job(job_id)  # NotFound (404) for another tenant's job
    graph = read_graph(deps(request).engine, session.tenant_id, job_id=job.id)
    return _page(request, graph, job)


def _page(request: Request, graph: DependencyGraph, job: Job | None) -> Response:
    now = deps(request).clock()
    view = graph_view(graph, now)
    return page(request, "dependencies.html", now=now, job=job, graph=view, total=graph.total_edges, limit=MAX_EDGES)


def graph_view(graph: DependencyGraph, now: datetime) -> dict[str, Any]:
    """Nodes and edges as the template lists them and `graph.js` draws them (plain JSON values)."""
    nodes = [
        {
            "id": n.endpoint.id,
            "name": n.endpoint.name,
            "job_id": n.endpoint.job_id,
            "job": n.job_name,
            "status": endpoint_status(Endpoint.from_row(n.endpoint), n.endpoint.job_status, now),
        }
        for n in graph.nodes
    ]
    edges = [_edge(e) for e in graph.edges]
    jobs = {n["job_id"]: n["job"] for n in nodes}
    drawn = ("from", "to", "mode", "condition", "result", "label", "tone")
    return {
        "nodes": nodes,
        "by_id": {n["id"]: n for n in nodes},
        "edges": edges,
        "jobs": sorted(jobs.items(), key=_by_name),
        "drawing": {"nodes": nodes, "edges": [{k: e[k] for k in drawn} for e in edges]},
    }


def _by_name(item: tuple[str, str]) -> tuple[str, str]:
    return item[1], item[0]


def mode(dep: Dependency) -> str:
    """How the downstream waits: it is triggered by the upstreams, gated by them, or both."""
    return " + ".join(word for word, on in (("trigger", dep.trigger), ("gate", dep.gate)) if on) or "none"


def _edge(edge: GraphEdge) -> dict[str, Any]:
    dep, ev = edge.dependency, edge.evaluation
    label, tone = RESULTS[ev.result]
    return {
        "from": edge.upstream_endpoint_id,
        "to": edge.endpoint_id,
        "mode": mode(dep),
        "on": dep.on.value,
        "fan_in": dep.fan_in.value,
        "condition": dep.condition,
        "batch_key": dep.batch_key,
        "result": ev.result.value,
        "label": label,
        "tone": tone,
        "reason": ev.reason,
        "at": _parsed(ev.at),
        "run_id": ev.upstream_run_id,
        "counted_run_id": edge.counted_run_id,
    }


def _parsed(at: str | None) -> datetime | None:
    """A decision's recorded time (ISO text) as a datetime; None when it is missing or unreadable."""
    try:
        return datetime.fromisoformat(at) if at else None
    except ValueError:
        return None

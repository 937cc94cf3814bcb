"""A tenant's dependency graph as the dashboard draws it: the edges (upstream → downstream) with each one's
last evaluation, and the endpoints at their ends with their jobs.

Only endpoints that have an edge are read, and at most `limit` edges (the total is counted, so the page
can say how many it left out): a tenant with 10,000 endpoints and a few edges reads a few rows. The
tenant's edges are found through its declarations (`ix_dependencies_tenant`); a job's through its
endpoints, on either end of an edge (the edge primary key and `ix_dependency_edges_upstream`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, Select, and_, func, select, union

from cronicorn.core.dependencies import Dependency
from cronicorn.core.edge_evaluation import Evaluation, last_evaluation
from cronicorn.core.errors import InvalidInput
from cronicorn.store.endpoint_rows import EndpointRow, select_endpoint_rows
from cronicorn.store.tables import dependencies, dependency_edges, endpoints, jobs

MAX_EDGES = 100  # edges one page draws: more is unreadable as a picture and slow to render as a table


@dataclass(frozen=True)
class GraphEdge:
    """upstream → downstream, how the downstream waits on it and what its last evaluation came to."""

    upstream_endpoint_id: str
    endpoint_id: str  # the downstream, whose dependency this edge belongs to
    dependency: Dependency
    counted_run_id: str | None  # the upstream run that counts on it now (None: it waits for one)
    evaluation: Evaluation


@dataclass(frozen=True)
class GraphNode:
    endpoint: EndpointRow  # with its job's status
    job_name: str


@dataclass(frozen=True)
class DependencyGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    total_edges: int  # the edges in scope; more than len(edges) when the limit cut some


def _edges_in_scope(tenant_id: str, job_id: str | None) -> Select[Any]:
    query = (
        select(
            dependency_edges.c.endpoint_id,
            dependency_edges.c.upstream_endpoint_id,
            dependency_edges.c.run_id,
            dependencies.c.spec,
            dependencies.c.decisions,
        )
        .join(dependencies, dependencies.c.endpoint_id == dependency_edges.c.endpoint_id)
        .where(dependencies.c.tenant_id == tenant_id)
    )
    if job_id is not None:
        # Two index lookups (downstream by the primary key, upstream by its index), not an OR that
        # would filter every edge.
        e = dependency_edges.c
        in_job = select(endpoints.c.id).where(endpoints.c.job_id == job_id)
        touching = union(
            select(e.endpoint_id, e.upstream_endpoint_id).where(e.endpoint_id.in_(in_job)),
            select(e.endpoint_id, e.upstream_endpoint_id).where(e.upstream_endpoint_id.in_(in_job)),
        ).subquery()
        query = query.join(
            touching,
            and_(touching.c.endpoint_id == e.endpoint_id, touching.c.upstream_endpoint_id == e.upstream_endpoint_id),
        )
    return query


def read_graph(engine: Engine, tenant_id: str, *, job_id: str | None = None, limit: int = MAX_EDGES) -> DependencyGraph:
    """The tenant's edges (or those touching one of its jobs' endpoints), at most `limit`, and their ends.

    The caller has checked that `job_id` is the tenant's; edges are only ever read through the tenant's
    own declarations and nodes through its own jobs, so another tenant's graph cannot show here.
    """
    if not 1 <= limit <= 1000:
        raise InvalidInput.one("limit", "must be between 1 and 1000")
    scope = _edges_in_scope(tenant_id, job_id)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(scope.subquery())).scalar_one()
        rows = conn.execute(
            scope.order_by(dependency_edges.c.endpoint_id, dependency_edges.c.upstream_endpoint_id).limit(limit)
        ).all()
        ids = sorted({r.endpoint_id for r in rows} | {r.upstream_endpoint_id for r in rows})
        nodes = [
            GraphNode(EndpointRow.of(n), n.job_name)
            for n in conn.execute(
                select_endpoint_rows()
                .add_columns(jobs.c.name.label("job_name"))
                .where(endpoints.c.id.in_(ids), jobs.c.tenant_id == tenant_id)
                .order_by(jobs.c.name, jobs.c.id, endpoints.c.name, endpoints.c.id)
            )
        ]
    known = {n.endpoint.id for n in nodes}
    edges = [_edge(r) for r in rows if r.endpoint_id in known and r.upstream_endpoint_id in known]
    return DependencyGraph(nodes, edges, int(total))


def _edge(row: Row[Any]) -> GraphEdge:
    dep = Dependency.of(row.spec)
    evaluation = last_evaluation(
        row.decisions or [], row.upstream_endpoint_id, waiting=row.run_id is None, trigger=dep.trigger
    )
    return GraphEdge(row.upstream_endpoint_id, row.endpoint_id, dep, row.run_id, evaluation)

"""The watch graph: which endpoints declare which upstreams (`upstream_endpoint_ids`), both ways.

`endpoints.upstream_endpoint_ids` is what people declared; `endpoint_watches` holds the same edges
keyed by upstream, so an upstream's finish finds its watchers by index instead of scanning.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select

from cronicorn.store.tables import endpoint_watches, endpoints, jobs


def replace_watches(conn: Connection, downstream_id: str, upstream_ids: Sequence[str]) -> None:
    """Make the graph's edges into `downstream_id` what it declares now (in the caller's transaction)."""
    conn.execute(endpoint_watches.delete().where(endpoint_watches.c.downstream_endpoint_id == downstream_id))
    rows = [{"upstream_endpoint_id": u, "downstream_endpoint_id": downstream_id} for u in dict.fromkeys(upstream_ids)]
    if rows:
        conn.execute(endpoint_watches.insert(), rows)


# Built once: aliasing a table copies its whole column collection, which cost more CPU than the
# rest of a run's finish when this was built per call (it runs in every finish transaction).
_UP_JOBS = jobs.alias("up_jobs")
_UP = endpoints.alias("up")
_WATCHERS = (
    select(endpoint_watches.c.upstream_endpoint_id, endpoint_watches.c.downstream_endpoint_id)
    .join(endpoints, endpoints.c.id == endpoint_watches.c.downstream_endpoint_id)
    .join(jobs, jobs.c.id == endpoints.c.job_id)
    .join(_UP, _UP.c.id == endpoint_watches.c.upstream_endpoint_id)
    .join(_UP_JOBS, _UP_JOBS.c.id == _UP.c.job_id)
    .where(
        endpoint_watches.c.upstream_endpoint_id.in_(bindparam("upstream_ids", expanding=True)),
        endpoints.c.archived_at.is_(None),
        # The tenant boundary holds even for an edge written before it was checked.
        jobs.c.tenant_id == _UP_JOBS.c.tenant_id,
    )
    .order_by(endpoint_watches.c.downstream_endpoint_id)
)


def watchers_of(conn: Connection, upstream_ids: Sequence[str]) -> dict[str, list[str]]:
    """For each upstream, the live endpoints of its own tenant that watch it (an index lookup per upstream)."""
    if not upstream_ids:
        return {}
    found: dict[str, list[str]] = {}
    for upstream, downstream in conn.execute(_WATCHERS, {"upstream_ids": sorted(set(upstream_ids))}):
        found.setdefault(upstream, []).append(downstream)
    return found


def downstream_ids(conn: Connection, endpoint_id: str) -> list[str]:
    return list(
        conn.execute(
            select(endpoint_watches.c.downstream_endpoint_id).where(
                endpoint_watches.c.upstream_endpoint_id == endpoint_id
            )
        ).scalars()
    )


def find_cycle(conn: Connection, tenant_id: str, endpoint_id: str, upstream_ids: Sequence[str]) -> list[str] | None:
    """The path back to `endpoint_id` if it declared `upstream_ids`, or None: upstream → its upstreams
    ..., one query per level, over the tenant's live endpoints only."""
    parent: dict[str, str] = {u: endpoint_id for u in upstream_ids}
    frontier = [u for u in upstream_ids if u != endpoint_id]
    while frontier:
        rows = conn.execute(
            select(endpoints.c.id, endpoints.c.upstream_endpoint_ids)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(endpoints.c.id.in_(frontier), jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        )
        next_frontier = []
        for node, ups in rows:
            for up in ups or []:
                if up == endpoint_id:
                    return _path(parent, endpoint_id, node)
                if up not in parent:
                    parent[up] = node
                    next_frontier.append(up)
        frontier = next_frontier
    return None


def _path(parent: dict[str, str], start: str, last: str) -> list[str]:
    """start → (declares upstream) ... → last → start, from the walk's parent links."""
    chain = [last]
    while chain[-1] in parent and parent[chain[-1]] != start:
        chain.append(parent[chain[-1]])
    return [start, *reversed(chain), start]

"""The graph of endpoints: dependencies and the upstreams a planner reads, and the cycles they would make.

An endpoint's upstreams are the endpoints its dependency waits for (`dependency_edges`) and the ones
its planner reads (`endpoints.upstream_endpoint_ids`). Either kind of cycle is refused when it would
be declared: a dependency cycle would wait forever (or trigger forever), and a planner cycle lets two
models chase each other. The walk reads only the new upstreams' ancestors, level by level.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from cronicorn.core.errors import InvalidInput
from cronicorn.store.tables import dependency_edges, endpoints

MAX_WALK = 10_000  # ancestors read at most: a graph this deep is refused as if it were a cycle


def upstreams_of(conn: Connection, endpoint_ids: Sequence[str]) -> dict[str, set[str]]:
    """Every upstream (both kinds) of each endpoint, by endpoint id."""
    ids = sorted(set(endpoint_ids))
    found: dict[str, set[str]] = {i: set() for i in ids}
    for row in conn.execute(
        select(dependency_edges.c.endpoint_id, dependency_edges.c.upstream_endpoint_id).where(
            dependency_edges.c.endpoint_id.in_(ids)
        )
    ):
        found[row.endpoint_id].add(row.upstream_endpoint_id)
    for row in conn.execute(select(endpoints.c.id, endpoints.c.upstream_endpoint_ids).where(endpoints.c.id.in_(ids))):
        found[row.id].update(row.upstream_endpoint_ids or ())
    return found


def find_cycle(conn: Connection, endpoint_id: str, new_upstreams: Sequence[str]) -> list[str] | None:
    """The cycle `endpoint_id` would close by waiting on `new_upstreams`, as [it, ..., it], or None."""
    if endpoint_id in new_upstreams:
        return [endpoint_id, endpoint_id]
    parent: dict[str, str] = {u: endpoint_id for u in new_upstreams}  # who waits on each node we reached
    frontier = list(dict.fromkeys(new_upstreams))
    while frontier:
        if len(parent) > MAX_WALK:
            return [endpoint_id, "...", endpoint_id]
        level = upstreams_of(conn, frontier)
        following = []
        for node in frontier:
            for up in sorted(level.get(node, ())):
                if up == endpoint_id:
                    return _path(parent, node, endpoint_id)
                if up not in parent:
                    parent[up] = node
                    following.append(up)
        frontier = following
    return None


def _path(parent: dict[str, str], last: str, start: str) -> list[str]:
    """start -> ... -> last -> start: who waits on whom, downstream first."""
    chain = [last]
    while chain[-1] != start:
        chain.append(parent[chain[-1]])
    return [*reversed(chain), start]


def name_path(conn: Connection, path: Sequence[str]) -> str:
    """A cycle as people read it: endpoint names (ids where no name is known), downstream first."""
    names = dict(
        conn.execute(
            select(endpoints.c.id, endpoints.c.name).where(endpoints.c.id.in_([p for p in path if p != "..."]))
        ).all()
    )
    return " → ".join(f"{names[p]} ({p})" if p in names else f"this endpoint ({p})" for p in path)


def refuse_cycle(conn: Connection, endpoint_id: str, upstream_ids: Sequence[str], field: str) -> None:
    """Raise InvalidInput naming the cycle (and the upstream in `field` that closes it), if any."""
    cycle = find_cycle(conn, endpoint_id, upstream_ids)
    if cycle is not None:
        first = upstream_ids.index(cycle[1]) if cycle[1] in upstream_ids else 0
        raise InvalidInput.one(f"{field}[{first}]", f"would make a cycle: {name_path(conn, cycle)}")

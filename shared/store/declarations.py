"""Dependency declarations in the database: write one (edges by upstream), read it, remove it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from cronicorn.store.tables import dependencies, dependency_edges, endpoints


def write_declaration(conn: Connection, tenant_id: str, endpoint_id: str, spec: dict[str, Any], now: datetime) -> None:
    """Declare (or replace) the dependency of `endpoint_id`, in the caller's transaction.

    An upstream kept keeps what it already reported (its run that counts); the batch keys run and
    the decisions are kept too. An upstream dropped is forgotten.
    """
    upstreams = list(spec["upstream_endpoint_ids"])
    current = conn.execute(select(dependencies.c.endpoint_id).where(dependencies.c.endpoint_id == endpoint_id)).first()
    if current is None:
        conn.execute(
            dependencies.insert().values(
                endpoint_id=endpoint_id,
                tenant_id=tenant_id,
                spec=spec,
                keys_done=[],
                context=None,
                decisions=[],
                created_at=now,
                updated_at=now,
            )
        )
    else:
        conn.execute(
            dependencies.update().where(dependencies.c.endpoint_id == endpoint_id).values(spec=spec, updated_at=now)
        )
    kept = set(
        conn.execute(
            select(dependency_edges.c.upstream_endpoint_id).where(dependency_edges.c.endpoint_id == endpoint_id)
        ).scalars()
    )
    gone = kept - set(upstreams)
    if gone:
        conn.execute(
            dependency_edges.delete().where(
                and_(
                    dependency_edges.c.endpoint_id == endpoint_id,
                    dependency_edges.c.upstream_endpoint_id.in_(sorted(gone)),
                )
            )
        )
    new = [u for u in upstreams if u not in kept]
    if new:
        conn.execute(dependency_edges.insert(), [{"endpoint_id": endpoint_id, "upstream_endpoint_id": u} for u in new])


def read_declaration(conn: Connection, endpoint_id: str) -> dict[str, Any] | None:
    """The declaration with what it remembers: the upstream runs that count now, keys run, decisions."""
    row = conn.execute(select(dependencies).where(dependencies.c.endpoint_id == endpoint_id)).first()
    if row is None:
        return None
    edges = conn.execute(
        select(dependency_edges)
        .where(dependency_edges.c.endpoint_id == endpoint_id)
        .order_by(dependency_edges.c.upstream_endpoint_id)
    ).all()
    return {
        "endpoint_id": endpoint_id,
        "spec": row.spec,
        "upstreams": [
            {
                "upstream_endpoint_id": e.upstream_endpoint_id,
                "run_id": e.run_id,
                "at": e.at.isoformat() if e.at else None,
                "batch_key": e.batch_key,
            }
            for e in edges
        ],
        "keys_done": list(row.keys_done or [])[-20:],
        "decisions": list(row.decisions or []),
        "updated_at": row.updated_at.isoformat(),
    }


def read_decisions(conn: Connection, endpoint_id: str) -> list[dict[str, Any]]:
    """The endpoint's last dependency decisions, newest last (empty without a dependency)."""
    row = conn.execute(select(dependencies.c.decisions).where(dependencies.c.endpoint_id == endpoint_id)).first()
    return list(row.decisions or []) if row is not None else []


def remove_declaration(conn: Connection, endpoint_id: str) -> bool:
    """Forget the dependency (its edges go with it); the endpoint runs on its own schedule again."""
    conn.execute(dependency_edges.delete().where(dependency_edges.c.endpoint_id == endpoint_id))
    removed = conn.execute(dependencies.delete().where(dependencies.c.endpoint_id == endpoint_id)).rowcount
    conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(dependency_due_at=None))
    return bool(removed)

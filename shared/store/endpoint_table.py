"""The dashboard's endpoint table: one page of a tenant's endpoints by job and name, filtered, and how many
match in all. A page reads what it shows, not the whole tenant:

1. one GROUP BY counts the matching endpoints of each job, in the table's job order (name, then id):
   the total, and where each job's rows fall;
2. the page's window [offset, offset + limit) is mapped onto the one or few jobs it covers (`window`);
3. only those jobs' endpoints are read, each job's in `ix_endpoints_job_name` order (name, then id),
   from the offset inside the first of them.
So page 150 costs about what page 1 does (no sort of every endpoint, no skipping thousands of rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, func, or_, select, union_all

from cronicorn.core.errors import InvalidInput
from cronicorn.store.tables import endpoints, jobs, runs

FILTERS = ("all", "active", "paused", "failing", "hinted", "ended", "archived")
"""The endpoint table's status filter: one of these names."""


@dataclass(frozen=True)
class TableRow:
    """One endpoint as the table shows it, with its job's name and status and its newest run."""

    endpoint: dict[str, Any]
    job_name: str
    job_status: str
    last_status: str | None
    last_status_code: int | None
    last_source: str | None


@dataclass(frozen=True)
class Slice:
    """The rows of one job that a page shows: skip `offset` of its matching endpoints, take `limit`."""

    job_id: str
    offset: int
    limit: int


def window(counts: Sequence[tuple[str, int]], offset: int, limit: int) -> list[Slice]:
    """The jobs a page covers, given each job's matching count in table order (pure arithmetic)."""
    slices, start, end = [], 0, offset + limit
    for job_id, count in counts:
        first, last = max(offset, start), min(end, start + count)
        if first < last:
            slices.append(Slice(job_id, first - start, last - first))
        start += count
        if start >= end:
            break
    return slices


def _status_filter(status: str, now: datetime) -> list[ColumnElement[bool]]:
    live = endpoints.c.archived_at.is_(None)
    not_paused = or_(endpoints.c.paused_until.is_(None), endpoints.c.paused_until <= now)
    chosen: dict[str, list[ColumnElement[bool]]] = {
        "active": [live, endpoints.c.ended_at.is_(None), jobs.c.status == "active", not_paused],
        "paused": [live, or_(endpoints.c.paused_until > now, jobs.c.status == "paused")],
        "failing": [live, endpoints.c.failure_count > 0],
        "hinted": [live, endpoints.c.ai_hint_expires_at > now],
        "ended": [live, endpoints.c.ended_at.is_not(None)],
        "archived": [endpoints.c.archived_at.is_not(None)],
    }
    return chosen.get(status, [live])


def _search(search: str) -> list[ColumnElement[bool]]:
    if not search.strip():
        return []
    # LIKE's own wildcards in the search are taken literally.
    needle = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [
        or_(
            func.lower(endpoints.c.name).like(needle, escape="\\"),
            func.lower(endpoints.c.url).like(needle, escape="\\"),
            func.lower(jobs.c.name).like(needle, escape="\\"),
        )
    ]


def endpoint_table(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    *,
    search: str = "",
    status: str = "all",
    job_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[TableRow], int]:
    """One page of the tenant's endpoints by job and name, filtered, and how many match in all."""
    if status not in FILTERS:
        raise InvalidInput.one("status", f"must be one of {', '.join(FILTERS)}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput.one("limit", "must be between 1 and 1000, with an offset of at least 0")
    where = [jobs.c.tenant_id == tenant_id, *_status_filter(status, now), *_search(search)]
    if job_id:
        where.append(endpoints.c.job_id == job_id)
    with engine.connect() as conn:
        counts = [
            (r.id, int(r.n))
            for r in conn.execute(
                select(jobs.c.id, func.count().label("n"))
                .select_from(endpoints.join(jobs, jobs.c.id == endpoints.c.job_id))
                .where(*where)
                .group_by(jobs.c.id, jobs.c.name)
                .order_by(jobs.c.name, jobs.c.id)
            )
        ]
        slices = window(counts, offset, limit)
        page = _rows(conn, where, slices, limit) if slices else []
        last = _last_runs(conn, [r["id"] for r in page])
    table = [
        TableRow(
            endpoint=row,
            job_name=row["job_name"],
            job_status=row["job_status"],
            last_status=last.get(row["id"], {}).get("status"),
            last_status_code=last.get(row["id"], {}).get("status_code"),
            last_source=last.get(row["id"], {}).get("source"),
        )
        for row in page
    ]
    return table, sum(n for _, n in counts)


def _rows(conn: Connection, where: list[ColumnElement[bool]], slices: list[Slice], limit: int) -> list[dict[str, Any]]:
    """The page's endpoints: within one job straight from `ix_endpoints_job_name` (no sort); across the
    few jobs a page spans, one query that sorts only those jobs' matching rows."""
    query = select(endpoints, jobs.c.name.label("job_name"), jobs.c.status.label("job_status")).select_from(
        endpoints.join(jobs, jobs.c.id == endpoints.c.job_id)
    )
    if len(slices) == 1:
        query = query.where(*where, endpoints.c.job_id == slices[0].job_id).order_by(endpoints.c.name, endpoints.c.id)
    else:
        query = query.where(*where, endpoints.c.job_id.in_([s.job_id for s in slices])).order_by(
            jobs.c.name, jobs.c.id, endpoints.c.name, endpoints.c.id
        )
    return [dict(r._mapping) for r in conn.execute(query.limit(limit).offset(slices[0].offset))]


def _last_runs(conn: Connection, endpoint_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest run of each endpoint: one indexed LIMIT 1 lookup each (ix_runs_endpoint_started),
    all in one round trip."""
    if not endpoint_ids:
        return {}
    newest = [
        select(
            select(runs.c.endpoint_id, runs.c.status, runs.c.status_code, runs.c.source)
            .where(runs.c.endpoint_id == endpoint_id)
            .order_by(runs.c.started_at.desc())
            .limit(1)
            .subquery()
        )
        for endpoint_id in endpoint_ids
    ]
    return {row.endpoint_id: dict(row._mapping) for row in conn.execute(union_all(*newest))}

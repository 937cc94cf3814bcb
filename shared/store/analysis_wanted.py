"""Reactive analyses: an upstream's new result asks for an analysis of the endpoints that watch it.

The request is a row written in the upstream's finish transaction (so a worker dying right after
loses nothing), at most one per endpoint (the first request waits; later ones add nothing). The
reactive selection (beat's `plan_reactive_analyses`, every few seconds) reads only these rows, so
its cost follows the requests, not the endpoints. The session that serves a request deletes it.

A run the AI asked for (an AI hint planned it) passes its cascade on: the watchers' requests carry
the chain of endpoints whose AI-driven runs led to them, and a watcher already on the chain (or a
chain too long) is a trigger loop: recorded, and not passed on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from cronicorn.core.constants import MAX_TRIGGER_CHAIN
from cronicorn.core.coordination import ConflictKind, Finding, loop_in
from cronicorn.core.model import JobStatus, PlanSource
from cronicorn.store.conflicts import record_conflicts
from cronicorn.store.hint_events import latest_ai_chain
from cronicorn.store.tables import ai_analysis_sessions, analysis_wanted, conflicts, endpoints, jobs
from cronicorn.store.watches import watchers_of

AI_SOURCES = frozenset({PlanSource.AI_ONESHOT.value, PlanSource.AI_INTERVAL.value})


@dataclass(frozen=True)
class Finished:
    """An upstream result: the endpoint, its run and why the run was planned."""

    endpoint_id: str
    run_id: str
    source: str | None
    tenant_id: str


def want_analyses(conn: Connection, finished: Sequence[Finished], now: datetime) -> int:
    """In the finish transaction: ask for an analysis of each watcher of each finished upstream."""
    watching = watchers_of(conn, [f.endpoint_id for f in finished])
    rows: dict[str, dict[str, Any]] = {}
    for f in finished:
        if f.endpoint_id not in watching:
            continue
        chain = latest_ai_chain(conn, f.endpoint_id) if f.source in AI_SOURCES else []
        chain = [*chain, f.endpoint_id]
        for watcher in watching[f.endpoint_id]:
            loop = loop_in(chain, watcher, limit=MAX_TRIGGER_CHAIN)
            if loop is not None:
                finding = Finding(
                    ConflictKind.TRIGGER_LOOP,
                    watcher,
                    f.endpoint_id,
                    "the cascade was stopped: no analysis was asked for",
                    loop,
                )
                record_conflicts(conn, f.tenant_id, [finding], now)
                continue
            rows.setdefault(
                watcher,
                {
                    "endpoint_id": watcher,
                    "wanted_at": now,
                    "upstream_endpoint_id": f.endpoint_id,
                    "upstream_run_id": f.run_id,
                    "chain": chain,
                    "picked_at": None,
                },
            )
    if rows:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        # The first request waits for its analysis; later ones before it add nothing. Sorted, so two
        # finishes inserting overlapping sets wait for each other in one order, never in a cycle.
        stmt = insert(analysis_wanted).on_conflict_do_nothing(index_elements=["endpoint_id"])
        conn.execute(stmt, [rows[k] for k in sorted(rows)])
    return len(rows)


def pick_wanted(
    engine: Engine, now: datetime, *, min_spacing_s: float, repick_after_s: float, limit: int = 100
) -> list[str]:
    """Requests whose endpoint may be analysed now (spacing kept, not damped, job active, not
    picked in the last `repick_after_s`), marked picked. Oldest first."""
    last_at = (
        select(func.max(ai_analysis_sessions.c.analyzed_at))
        .where(ai_analysis_sessions.c.endpoint_id == analysis_wanted.c.endpoint_id)
        .scalar_subquery()
    )
    damped = (
        select(conflicts.c.id)
        .where(
            conflicts.c.endpoint_id == analysis_wanted.c.endpoint_id,
            conflicts.c.open_until > now,
            conflicts.c.damp_until > now,
        )
        .exists()
    )
    query = (
        select(analysis_wanted.c.endpoint_id)
        .join(endpoints, endpoints.c.id == analysis_wanted.c.endpoint_id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(
            endpoints.c.archived_at.is_(None),
            jobs.c.status == JobStatus.ACTIVE.value,
            or_(
                analysis_wanted.c.picked_at.is_(None),
                analysis_wanted.c.picked_at <= now - timedelta(seconds=repick_after_s),
            ),
            or_(last_at.is_(None), last_at <= now - timedelta(seconds=min_spacing_s)),
            ~damped,
        )
        .order_by(analysis_wanted.c.wanted_at, analysis_wanted.c.endpoint_id)
        .limit(limit)
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=analysis_wanted, skip_locked=True)
        ids = list(conn.execute(query).scalars())
        if ids:
            conn.execute(analysis_wanted.update().where(analysis_wanted.c.endpoint_id.in_(ids)).values(picked_at=now))
    return ids


def wanted_for(conn: Connection, endpoint_id: str) -> dict[str, Any] | None:
    """The pending request for the endpoint: what started its session, if anything did."""
    row = conn.execute(select(analysis_wanted).where(analysis_wanted.c.endpoint_id == endpoint_id)).first()
    return dict(row._mapping) if row is not None else None


def served(conn: Connection, endpoint_id: str, analyzed_at: datetime) -> None:
    """The session that started at `analyzed_at` served the requests made before it; later ones stay."""
    conn.execute(
        analysis_wanted.delete().where(
            and_(analysis_wanted.c.endpoint_id == endpoint_id, analysis_wanted.c.wanted_at <= analyzed_at)
        )
    )

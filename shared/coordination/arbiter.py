"""The arbiter: every AI steering decision passes it before and after it is written.

Before: the precedence (`cronicorn.core.coordination.judge`) over the endpoint's neighbourhood
(its declared upstreams, the endpoints that watch it, its siblings, its own gate): the decision is applied or
refused, what it conflicts with is recorded, and AI hints it beats are cleared. After: the
endpoint's recent AI decisions are checked for thrash, which damps it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select

from cronicorn.core.constants import CONFLICT_WINDOW_MS, THRASH_DAMPING_MS, THRASH_REVERSALS
from cronicorn.core.coordination import ConflictKind, Direction, Finding, Neighbourhood, Verdict, is_thrash, judge
from cronicorn.producer import control
from cronicorn.store.conflicts import damped_until, record_conflicts
from cronicorn.store.dependency_edges import gate_closed
from cronicorn.store.hint_events import ai_decisions_since, latest_decisions
from cronicorn.store.tables import endpoints, jobs
from cronicorn.store.watches import downstream_ids

WINDOW = timedelta(milliseconds=CONFLICT_WINDOW_MS)


def _live_ids(conn: Connection, tenant_id: str, ids: list[str]) -> list[str]:
    if not ids:
        return []
    query = (
        select(endpoints.c.id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(endpoints.c.id.in_(ids), jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
    )
    return sorted(conn.execute(query).scalars())


def neighbourhood(conn: Connection, tenant_id: str, endpoint_id: str, now: datetime) -> Neighbourhood:
    """The current decisions around the endpoint, within its tenant."""
    me = conn.execute(
        select(endpoints.c.job_id, endpoints.c.upstream_endpoint_ids).where(endpoints.c.id == endpoint_id)
    ).one()
    ups = _live_ids(conn, tenant_id, list(me.upstream_endpoint_ids or []))
    downs = _live_ids(conn, tenant_id, downstream_ids(conn, endpoint_id))
    sibs = [
        s
        for s in conn.execute(
            select(endpoints.c.id).where(
                endpoints.c.job_id == me.job_id, endpoints.c.id != endpoint_id, endpoints.c.archived_at.is_(None)
            )
        ).scalars()
    ]
    latest = latest_decisions(conn, [endpoint_id, *ups, *downs, *sibs])
    paused = (
        set(
            conn.execute(
                select(endpoints.c.id).where(endpoints.c.id.in_(ups), endpoints.c.paused_until > now)
            ).scalars()
        )
        if ups
        else set()
    )
    return Neighbourhood(
        own=latest.get(endpoint_id),
        upstreams={u: latest.get(u) for u in ups},
        upstream_paused=frozenset(paused),
        downstreams={d: latest.get(d) for d in downs},
        siblings={s: latest.get(s) for s in sibs},
        damped_until=damped_until(conn, endpoint_id, now),
        gate_closed=gate_closed(conn, endpoint_id),
    )


def before_ai_decision(
    engine: Engine, tenant_id: str, endpoint_id: str, direction: Direction, now: datetime, *, cause: str | None
) -> Verdict:
    """Judge a new AI decision; record the conflicts found and clear the AI hints it beats."""
    with engine.connect() as conn:
        verdict = judge(
            endpoint_id, direction, neighbourhood(conn, tenant_id, endpoint_id, now), now, cause=cause, window=WINDOW
        )
    if verdict.findings:
        with engine.begin() as conn:
            record_conflicts(conn, tenant_id, verdict.findings, now)
    if verdict.allowed:
        for loser in verdict.clear:
            control.clear_hints(engine, tenant_id, now, loser, actor="ai")
    return verdict


def after_ai_decision(engine: Engine, tenant_id: str, endpoint_id: str, now: datetime) -> Finding | None:
    """Damp the endpoint if the AI's decisions on it now thrash (once per damping)."""
    with engine.begin() as conn:
        if damped_until(conn, endpoint_id, now) is not None:
            return None
        decisions = ai_decisions_since(conn, endpoint_id, now - WINDOW)
        if not is_thrash(decisions, now, window=WINDOW, limit=THRASH_REVERSALS):
            return None
        until = now + timedelta(milliseconds=THRASH_DAMPING_MS)
        finding = Finding(
            ConflictKind.THRASH,
            endpoint_id,
            None,
            f"damped until {until.isoformat()}: no analysis, and the current hint is held (the AI's hints "
            "the other way are refused) until then",
            f"the AI's hints reversed direction {THRASH_REVERSALS} times or more within "
            f"{CONFLICT_WINDOW_MS // 60_000} minutes",
        )
        record_conflicts(conn, tenant_id, [finding], now, damp_until=until)
        return finding

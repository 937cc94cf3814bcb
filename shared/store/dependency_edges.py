"""Dependencies in the database: read upstream results as they finish, open or close the gate as runs start.

Both halves run inside transactions the scheduler already makes, so nothing is lost between them:
- `record_upstream_results` runs in the upstream's finishing transaction (`cronicorn.store.finishes`).
  It finds the edges of the finished endpoints through `ix_dependency_edges_upstream` (cost follows
  the runs that finish, not the edges registered), remembers a run that counts on its edge, and when
  that meets a `trigger` dependency sets the downstream's `dependency_due_at` and re-plans it earlier:
  the next tick claims it (source `dependency`) through the governor, like a run-now.
- `open_gates` runs in the downstream's start transaction (`cronicorn.store.attempts`): a run that
  goes ahead on its dependency consumes the edges (and its batch key) and is handed the values;
  a run whose gate is closed is marked to be skipped, with the reason.
Every decision is appended to the downstream's bounded record ("why did or didn't it run").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select

from cronicorn.core.dependencies import (
    MAX_DECISIONS,
    MAX_KEYS_REMEMBERED,
    Dependency,
    Edge,
    Readiness,
    fill,
    qualify,
    readiness,
)
from cronicorn.core.expressions import Response
from cronicorn.core.model import PlanSource
from cronicorn.store.replanning import replan
from cronicorn.store.tables import dependencies, dependency_edges, endpoints


@dataclass(frozen=True)
class Finished:
    """An upstream run whose slot is decided: what its downstreams read."""

    endpoint_id: str
    run_id: str
    status: str
    response: Response


@dataclass(frozen=True)
class Passage:
    """What the dependency makes of a starting run: skip it (why), or what it was handed."""

    skip_reason: str | None = None
    record: dict[str, Any] | None = None  # stored on the run: the upstream run(s), key, values


def decision(at: datetime, kind: str, reason: str, **more: Any) -> dict[str, Any]:
    return {"at": at.isoformat(), "kind": kind, "reason": reason, **{k: v for k, v in more.items() if v is not None}}


def _append(record: list[dict[str, Any]] | None, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(record or []), *entries][-MAX_DECISIONS:]


def _edges_of(conn: Connection, downstream_ids: Sequence[str]) -> dict[str, list[Edge]]:
    rows = conn.execute(
        select(dependency_edges).where(dependency_edges.c.endpoint_id.in_(sorted(set(downstream_ids))))
    ).all()
    edges: dict[str, list[Edge]] = {}
    for r in rows:
        edges.setdefault(r.endpoint_id, []).append(Edge(r.upstream_endpoint_id, r.run_id, r.at, r.batch_key, r.handed))
    return edges


def downstream_ids(conn: Connection, upstream_ids: Sequence[str]) -> list[str]:
    """The endpoints that depend on any of `upstream_ids` (through the upstream index), sorted."""
    rows = conn.execute(_DOWNSTREAM, {"upstream_ids": sorted(set(upstream_ids))}).scalars()
    return sorted(set(rows))


# Built once: these two run in every finish and every start (building a statement and its cache
# key cost more CPU than executing it).
_DOWNSTREAM = (
    select(dependency_edges.c.endpoint_id)
    .where(dependency_edges.c.upstream_endpoint_id.in_(bindparam("upstream_ids", expanding=True)))
    .distinct()
)
_DEPENDENCIES = select(dependencies).where(dependencies.c.endpoint_id.in_(bindparam("endpoint_ids", expanding=True)))


def record_upstream_results(conn: Connection, finished: Sequence[Finished], now: datetime) -> None:
    """Remember the runs that count on their edges; trigger the downstreams they complete.

    The caller holds the locks of the downstream endpoints' rows (`downstream_ids`, locked in id
    order with the finishing rows): their edges and dependency rows are written only under them.
    A dependency declared between that read and this one may take its row lock out of order; a
    deadlock that makes is a transient error the runner retries (`finishes.transient`).
    """
    if not finished:
        return
    by_upstream = {f.endpoint_id: f for f in finished}
    rows = conn.execute(
        select(dependency_edges.c.endpoint_id, dependency_edges.c.upstream_endpoint_id, dependencies)
        .join(dependencies, dependencies.c.endpoint_id == dependency_edges.c.endpoint_id)
        .where(dependency_edges.c.upstream_endpoint_id.in_(sorted(by_upstream)))
        .order_by(dependency_edges.c.endpoint_id)
    ).all()
    if not rows:
        return
    notes: dict[str, list[dict[str, Any]]] = {}
    decls: dict[str, Any] = {}
    counted: set[str] = set()
    for row in rows:
        run = by_upstream[row.upstream_endpoint_id]
        dep = Dependency.of(row.spec)
        decls[row.endpoint_id] = (dep, row)
        verdict = qualify(dep, run.status, run.response, keys_done=row.keys_done or ())
        notes.setdefault(row.endpoint_id, []).append(
            decision(
                now,
                "upstream-counted" if verdict.counts else "upstream-ignored",
                f"upstream run {run.run_id}: {verdict.reason}",
                upstream_run_id=run.run_id,
                upstream_endpoint_id=run.endpoint_id,
                key=verdict.key,
                result=verdict.result.value,
            )
        )
        if verdict.counts:
            counted.add(row.endpoint_id)
            conn.execute(
                dependency_edges.update()
                .where(
                    and_(
                        dependency_edges.c.endpoint_id == row.endpoint_id,
                        dependency_edges.c.upstream_endpoint_id == run.endpoint_id,
                    )
                )
                .values(run_id=run.run_id, at=now, batch_key=verdict.key, handed=verdict.handed)
            )
    edges = _edges_of(conn, sorted(counted))
    for downstream, (dep, row) in decls.items():
        if downstream in counted:
            ready = readiness(dep, edges.get(downstream, []))
            notes[downstream].append(_readiness_note(dep, ready, now))
            if ready.met and dep.trigger:
                _trigger(conn, downstream, now)
        conn.execute(
            dependencies.update()
            .where(dependencies.c.endpoint_id == downstream)
            .values(decisions=_append(row.decisions, *notes[downstream]))
        )


def _readiness_note(dep: Dependency, ready: Readiness, now: datetime) -> dict[str, Any]:
    if not ready.met:
        return decision(now, "dependency-not-met", ready.reason)
    action = "triggers a run" if dep.trigger else "opens the gate for the next scheduled run"
    return decision(
        now,
        "dependency-met",
        f"{ready.reason}: {action}",
        upstream_run_id=ready.trigger.run_id if ready.trigger else None,
        key=ready.trigger.key if ready.trigger else None,
    )


def _trigger(conn: Connection, downstream: str, now: datetime) -> None:
    """A run as soon as the governor allows (guardrails, pause, spacing): a row the tick will claim.

    While the downstream's own call runs, `replan` leaves its claim alone and its finishing write
    plans from `dependency_due_at` instead: the trigger waits for the call, never overlaps it.
    """
    conn.execute(
        endpoints.update()
        .where(and_(endpoints.c.id == downstream, endpoints.c.archived_at.is_(None)))
        .values(dependency_due_at=now)
    )
    replan(conn, downstream, now, mode="earlier")


def open_gates(
    conn: Connection, starting: dict[str, tuple[str | None, int, bool]], now: datetime
) -> dict[str, Passage]:
    """What the dependency makes of each starting run: {endpoint id: (source, attempt, retry of a slot)}.

    Only endpoints with a dependency are in the result. A person's run-now goes ahead and consumes
    nothing (a person comes first); a later attempt of a slot that already went through (a retry)
    is handed what its slot was. Any other run goes ahead on a met dependency (consuming it), is
    skipped while a gate is closed (or when its trigger was consumed meanwhile), and otherwise runs
    as scheduled, handed nothing.
    """
    rows = conn.execute(_DEPENDENCIES, {"endpoint_ids": sorted(starting)}).all()
    if not rows:
        return {}
    edges = _edges_of(conn, [r.endpoint_id for r in rows])
    passages: dict[str, Passage] = {}
    for row in rows:
        source, attempt, retry = starting[row.endpoint_id]
        dep = Dependency.of(row.spec)
        if source == PlanSource.MANUAL.value:
            passages[row.endpoint_id] = Passage()
            _note(conn, row, decision(now, "ran", "run-now by a person: the dependency is not consulted"))
            continue
        if attempt > 1 or retry:
            passages[row.endpoint_id] = Passage(record=row.context)
            continue
        ready = readiness(dep, edges.get(row.endpoint_id, []))
        if ready.met and ready.trigger is not None:
            passages[row.endpoint_id] = _consume(conn, row, ready, now, source)
        elif dep.gate or source == PlanSource.DEPENDENCY.value:
            why = "gate closed" if dep.gate else "its trigger was consumed by an earlier run"
            reason = f"{why}: {ready.reason}"
            passages[row.endpoint_id] = Passage(skip_reason=reason)
            _note(conn, row, decision(now, "skipped", reason))
        else:
            passages[row.endpoint_id] = Passage()
            _note(conn, row, decision(now, "ran", f"scheduled run ({source}); dependency not met: {ready.reason}"))
    return passages


def _consume(conn: Connection, row: Any, ready: Readiness, now: datetime, source: str | None) -> Passage:
    trigger = ready.trigger
    assert trigger is not None  # readiness met always names the run that completed it
    record = {
        "upstream_run_id": trigger.run_id,
        "upstream_endpoint_id": trigger.upstream_endpoint_id,
        "key": trigger.key,
        "handed": fill(trigger.handed, trigger),
    }
    keys = list(row.keys_done or [])
    if trigger.key is not None:
        keys = [*keys, trigger.key][-MAX_KEYS_REMEMBERED:]
    conn.execute(
        dependency_edges.update()
        .where(dependency_edges.c.endpoint_id == row.endpoint_id)
        .values(run_id=None, at=None, batch_key=None, handed=None)
    )
    conn.execute(
        dependencies.update()
        .where(dependencies.c.endpoint_id == row.endpoint_id)
        .values(
            keys_done=keys,
            context=record,
            decisions=_append(
                row.decisions,
                decision(
                    now,
                    "ran",
                    f"dependency met ({ready.reason}); run as {source}",
                    upstream_run_id=trigger.run_id,
                    key=trigger.key,
                ),
            ),
        )
    )
    return Passage(record=record)


def _note(conn: Connection, row: Any, entry: dict[str, Any]) -> None:
    conn.execute(
        dependencies.update()
        .where(dependencies.c.endpoint_id == row.endpoint_id)
        .values(decisions=_append(row.decisions, entry))
    )


def gate_closed(conn: Connection, endpoint_id: str) -> str | None:
    """Why the endpoint's gate is closed now, or None (no gate, or its dependency is met)."""
    row = conn.execute(select(dependencies.c.spec).where(dependencies.c.endpoint_id == endpoint_id)).first()
    if row is None:
        return None
    dep = Dependency.of(row.spec)
    if not dep.gate:
        return None
    ready = readiness(dep, _edges_of(conn, [endpoint_id]).get(endpoint_id, []))
    return None if ready.met else ready.reason

"""The planner's tools bound to one endpoint: the handlers behind the table in `tool_table`.

Arguments are checked against the table before a handler runs, so the caps the model is told
are the caps enforced. Write tools go through `cronicorn.producer.control`, the same validated
path people use: the governor clamps into min/max (and the result says so), hints only move the
next run earlier, and an AI cannot lift a person's pause. In shadow mode writes are validated
and recorded, not applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from cronicorn.coordination.arbiter import after_ai_decision, before_ai_decision
from cronicorn.core.constants import DEFAULT_NEXT_ANALYSIS_MS, MAX_NEXT_ANALYSIS_MS, MIN_NEXT_ANALYSIS_MS
from cronicorn.core.coordination import Direction, interval_direction
from cronicorn.core.errors import CronicornError, InvalidInput
from cronicorn.planner.arguments import ToolError, parse_arguments
from cronicorn.planner.tool_table import (
    LATEST_BODY_CHARS,
    NEIGHBOUR_BODY_CHARS,
    PREVIEW_CHARS,
    TOOLS,
    TOOLS_BY_NAME,
)
from cronicorn.planner.views import endpoint_view, run_view
from cronicorn.producer import control
from cronicorn.producer.endpoints import get_endpoint
from cronicorn.producer.hint_notes import interval_notes, oneshot_notes
from cronicorn.producer.hints import IntervalHint, OneShotHint, Pause
from cronicorn.producer.records import Endpoint
from cronicorn.producer.specs import parse
from cronicorn.store.tables import endpoints, jobs, runs

__all__ = ["TOOLS", "Submission", "ToolBox", "ToolError", "default_next_analysis_ms", "truncate"]

# The validated models' fields under the tools' own (camelCase) argument names, for their refusals.
_ARGUMENT_OF = {
    "interval_ms": "intervalMs",
    "ttl_minutes": "ttlMinutes",
    "next_run_at": "nextRunAtIso",
    "paused_until": "untilIso",
}


def default_next_analysis_ms(baseline_interval_ms: int | None) -> int:
    """When to look again if the model does not say: the baseline interval (5 min for cron), within the bounds."""
    wanted = baseline_interval_ms if baseline_interval_ms is not None else DEFAULT_NEXT_ANALYSIS_MS
    return min(max(wanted, MIN_NEXT_ANALYSIS_MS), MAX_NEXT_ANALYSIS_MS)


def _tool_error(exc: InvalidInput) -> ToolError:
    """A refusal in the tool's own argument names, as the model wrote them."""
    return ToolError("; ".join(f"{_ARGUMENT_OF.get(e.field, e.field)} {e.reason}" for e in exc.errors))


@dataclass
class Submission:
    reasoning: str
    actions_taken: list[str]
    confidence: str
    next_analysis_in_ms: int


@dataclass
class ToolBox:
    """The tools of one session, bound to one endpoint, tenant and clock."""

    engine: Engine
    tenant_id: str
    endpoint_id: str
    job_id: str
    clock: Callable[[], datetime]
    shadow: bool = False
    baseline_interval_ms: int | None = None  # sets the default of next_analysis_in_ms
    submission: Submission | None = None
    shadow_actions: list[dict[str, Any]] = field(default_factory=list)
    # The cascade that started this session (an upstream's result), passed on with its decisions.
    chain: list[str] = field(default_factory=list)
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # its decisions count once (thrash)

    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        tool = TOOLS_BY_NAME.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}")
        now = self.clock()
        values, notes = parse_arguments(tool.params, args, now)
        try:
            if tool.writes and self.shadow:
                result = self._shadow(name, values, now)
            else:
                handler: Callable[[dict[str, Any], datetime], dict[str, Any]] = getattr(self, f"_{name}")
                result = handler(values, now)
        except InvalidInput as exc:
            raise _tool_error(exc) from None
        except CronicornError as exc:
            raise ToolError(str(exc)) from None
        notes += result.pop("notes", [])
        return {**result, "notes": notes} if notes else result

    def _shadow(self, name: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        # Validated exactly as for real, then recorded: nothing is written.
        ep = get_endpoint(self.engine, self.tenant_id, self.endpoint_id)
        notes: list[str] = []
        if name == "propose_interval":
            parse(IntervalHint, _hint_fields(values))
            notes = interval_notes(values["intervalMs"], ep, now)
        elif name == "propose_next_time":
            notes = oneshot_notes(parse(OneShotHint, _hint_fields(values)).at(now), ep, now)
        elif name == "pause_until" and values["untilIso"] is not None:
            parse(Pause, {"paused_until": values["untilIso"], "reason": values["reason"]}).until(now)
        args = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}
        self.shadow_actions.append({"tool": name, "args": args})
        return {"shadow": True, "applied": False, "would_apply": {"tool": name, "args": args}, "notes": notes}

    # --- reads -----------------------------------------------------------------------------
    def _finished_runs(self, endpoint_id: str, limit: int, offset: int = 0) -> list[Any]:
        query = (
            select(runs)
            .where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running")
            .order_by(runs.c.started_at.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def _get_latest_response(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        found = self._finished_runs(self.endpoint_id, 1)
        return run_view(found[0], body_chars=LATEST_BODY_CHARS) if found else {"message": "no finished runs yet"}

    def _get_response_history(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        limit, offset = values["limit"], values["offset"]
        # One more than asked tells whether older runs exist, without a second query (as the original).
        found = self._finished_runs(self.endpoint_id, limit + 1, offset)
        chars = LATEST_BODY_CHARS if values["includeBodies"] else PREVIEW_CHARS
        page = [run_view(r, body_chars=chars) for r in found[:limit]]
        more = len(found) > limit
        return {"runs": page, "count": len(page), "has_more": more, "next_offset": offset + limit if more else None}

    def _views(self, rows: list[Any], include: bool, now: datetime) -> list[dict[str, Any]]:
        views = []
        for row in rows:
            view = endpoint_view(row, now)
            if "job_name" in row._mapping:
                view["job"] = row.job_name
            latest = self._finished_runs(row.id, 1)
            chars = NEIGHBOUR_BODY_CHARS if include else PREVIEW_CHARS
            view["latest_response"] = run_view(latest[0], body_chars=chars) if latest else None
            views.append(view)
        return views

    def _get_sibling_latest_responses(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(endpoints)
                    .where(
                        endpoints.c.job_id == self.job_id,
                        endpoints.c.id != self.endpoint_id,
                        endpoints.c.archived_at.is_(None),
                    )
                    .order_by(endpoints.c.name)
                )
            )
        return {"siblings": self._views(rows, values["includeResponses"], now)}

    def _get_upstream_latest_responses(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        with self.engine.connect() as conn:
            declared = (
                conn.execute(
                    select(endpoints.c.upstream_endpoint_ids).where(endpoints.c.id == self.endpoint_id)
                ).scalar()
                or []
            )
            if not declared:
                return {"upstreams": [], "message": "this endpoint declares no upstream endpoints"}
            # Scoped to the tenant: a declared id can never reveal another tenant's responses.
            rows = list(
                conn.execute(
                    select(endpoints, jobs.c.name.label("job_name"))
                    .join(jobs, jobs.c.id == endpoints.c.job_id)
                    .where(
                        endpoints.c.id.in_(declared),
                        jobs.c.tenant_id == self.tenant_id,
                        endpoints.c.archived_at.is_(None),
                    )
                    .order_by(endpoints.c.name)
                )
            )
        return {"upstreams": self._views(rows, values["includeResponses"], now)}

    # --- writes (through the same validated path as people, and past the arbiter) ------------
    def _applied(self, ep: Endpoint, notes: list[str]) -> dict[str, Any]:
        return {
            "applied": True,
            "next_run_at": ep.next_run_at.isoformat() if ep.next_run_at else None,
            "next_run_source": ep.next_run_source,
            "notes": notes,
        }

    def _arbitrated(self, direction: Direction, now: datetime, write: Callable[[], Endpoint]) -> dict[str, Any]:
        """Judge the decision against the graph, write it if it stands, then check for thrash."""
        cause = self.chain[-1] if self.chain else None
        verdict = before_ai_decision(self.engine, self.tenant_id, self.endpoint_id, direction, now, cause=cause)
        if not verdict.allowed:
            raise ToolError(f"refused, a conflict: {verdict.refusal}")
        ep = write()
        notes = list(ep.notes)
        notes += [f"conflict ({f.kind.value}) on {f.endpoint_id}: {f.detail}; {f.resolution}" for f in verdict.findings]
        thrash = after_ai_decision(self.engine, self.tenant_id, self.endpoint_id, now)
        if thrash is not None:
            notes.append(f"conflict ({thrash.kind.value}): {thrash.detail}; {thrash.resolution}")
        return self._applied(ep, notes)

    def _propose_interval(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        interval_ms = values["intervalMs"]
        ep = get_endpoint(self.engine, self.tenant_id, self.endpoint_id)
        planned = ep.next_run_at
        direction = interval_direction(
            interval_ms,
            baseline_interval_ms=ep.baseline_interval_ms,
            planned_in_ms=int((planned - now).total_seconds() * 1000) if planned is not None else None,
        )
        return self._arbitrated(
            direction,
            now,
            lambda: control.set_interval_hint(
                self.engine,
                self.tenant_id,
                now,
                self.endpoint_id,
                interval_ms,
                values["ttlMinutes"],
                values["reason"],
                actor="ai",
                chain=self.chain,
                session_id=self.session_id,
            ),
        )

    def _propose_next_time(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self._arbitrated(
            Direction.FASTER,
            now,
            lambda: control.set_oneshot_hint(
                self.engine,
                self.tenant_id,
                now,
                self.endpoint_id,
                next_run_at=values["nextRunAtIso"],
                ttl_minutes=values["ttlMinutes"],
                reason=values["reason"],
                actor="ai",
                chain=self.chain,
                session_id=self.session_id,
            ),
        )

    def _pause_until(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        until = values["untilIso"]
        if until is None:
            return self._arbitrated(
                Direction.NEUTRAL,
                now,
                lambda: control.resume_endpoint(self.engine, self.tenant_id, now, self.endpoint_id, actor="ai"),
            )
        return self._arbitrated(
            Direction.SLOWER,
            now,
            lambda: control.pause_endpoint(
                self.engine,
                self.tenant_id,
                now,
                self.endpoint_id,
                until,
                values["reason"],
                actor="ai",
                chain=self.chain,
                session_id=self.session_id,
            ),
        )

    def _clear_hints(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        return self._applied(control.clear_hints(self.engine, self.tenant_id, now, self.endpoint_id, actor="ai"), [])

    def _submit_analysis(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        next_ms = values["next_analysis_in_ms"]
        notes = []
        if next_ms is None:
            next_ms = default_next_analysis_ms(self.baseline_interval_ms)
            notes.append(f"next_analysis_in_ms defaulted to {next_ms} (the baseline interval, within the bounds)")
        self.submission = Submission(values["reasoning"], values["actions_taken"], values["confidence"], next_ms)
        return {
            "accepted": True,
            "confidence": values["confidence"],
            "next_analysis_in_ms": next_ms,
            "next_analysis_at": (now + timedelta(milliseconds=next_ms)).isoformat(),
            "notes": notes,
        }


def _hint_fields(values: dict[str, Any]) -> dict[str, Any]:
    fields = {"ttl_minutes": values["ttlMinutes"], "reason": values["reason"]}
    if "intervalMs" in values:
        return {**fields, "interval_ms": values["intervalMs"]}
    return {**fields, "next_run_at": values["nextRunAtIso"]}


def truncate(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"

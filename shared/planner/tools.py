"""The planner's tools, bound to one endpoint: a table of schemas and a name -> function map.

Write tools go through `cronicorn.producer.control`, the same validated path people use: the governor
clamps into min/max, hints only move the next run earlier, and an AI cannot lift a person's
pause. In shadow mode writes are validated and recorded, not applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine, select

from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MIN_INTERVAL_HINT_MS,
)
from cronicorn.core.errors import CronicornError, InvalidInput
from cronicorn.planner.views import endpoint_view, run_view
from cronicorn.producer import control
from cronicorn.producer.hints import IntervalHint, OneShotHint, Pause
from cronicorn.producer.specs import parse
from cronicorn.store.tables import endpoints, jobs, runs

M = TypeVar("M", bound=BaseModel)

MIN_NEXT_ANALYSIS_MS = 5 * 60_000
MAX_NEXT_ANALYSIS_MS = 24 * 3_600_000
WRITE_TOOLS = frozenset({"propose_interval", "propose_next_time", "pause_until", "clear_hints"})


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


REASON = {"type": "string", "description": "why, in one sentence"}
TOOLS: list[dict[str, Any]] = [
    _fn("get_latest_response", "The latest finished run: status, status code, time, body (first 500 chars).", {}, []),
    _fn(
        "get_response_history",
        "Finished runs, newest first: status, duration, a 200-char preview or a 500-char body.",
        {
            "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            "offset": {"type": "integer", "minimum": 0, "default": 0},
            "includeBodies": {"type": "boolean", "default": False},
        },
        [],
    ),
    _fn(
        "get_sibling_latest_responses",
        "For each other endpoint of the same job: latest response, schedule, pause, failures, hints.",
        {"includeResponses": {"type": "boolean", "default": True}},
        [],
    ),
    _fn(
        "get_upstream_latest_responses",
        "For each declared upstream endpoint (in other jobs): its job, latest response, schedule, pause, failures.",
        {"includeResponses": {"type": "boolean", "default": True}},
        [],
    ),
    _fn(
        "propose_interval",
        "Run every intervalMs until the hint expires (clamped into min/max).",
        {
            "intervalMs": {"type": "integer", "minimum": MIN_INTERVAL_HINT_MS},
            "ttlMinutes": {"type": "number", "default": DEFAULT_INTERVAL_HINT_TTL_MINUTES},
            "reason": REASON,
        },
        ["intervalMs", "reason"],
    ),
    _fn(
        "propose_next_time",
        "Run once at nextRunAtIso (ISO 8601 with offset), if earlier than planned.",
        {
            "nextRunAtIso": {"type": "string"},
            "ttlMinutes": {"type": "number", "default": DEFAULT_ONESHOT_HINT_TTL_MINUTES},
            "reason": REASON,
        },
        ["nextRunAtIso", "reason"],
    ),
    _fn(
        "pause_until",
        "Pause until untilIso (ISO 8601 with offset), or resume with null. Cannot change a person's pause.",
        {"untilIso": {"type": ["string", "null"]}, "reason": REASON},
        ["untilIso", "reason"],
    ),
    _fn("clear_hints", "Drop all hints: the baseline schedule applies again.", {"reason": REASON}, ["reason"]),
    _fn(
        "submit_analysis",
        "End the session.",
        {
            "reasoning": {"type": "string"},
            "actions_taken": {"type": "array", "items": {"type": "string"}},
            "confidence": {"type": "string", "enum": ["low", "medium", "high"]},
            "next_analysis_in_ms": {
                "type": "integer",
                "minimum": MIN_NEXT_ANALYSIS_MS,
                "maximum": MAX_NEXT_ANALYSIS_MS,
            },
        },
        ["reasoning", "actions_taken", "confidence", "next_analysis_in_ms"],
    ),
]


class ToolError(Exception):
    """Bad arguments or a refused action: sent back to the model as the tool's result."""


def _int(args: dict[str, Any], name: str, default: int | None, lo: int, hi: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ToolError(f"{name} must be a whole number")
    if not lo <= int(value) <= hi:
        raise ToolError(f"{name} must be between {lo} and {hi}")
    return int(value)


def _when(args: dict[str, Any], name: str) -> datetime:
    raw = args.get(name)
    if not isinstance(raw, str):
        raise ToolError(f"{name} must be an ISO 8601 time with an offset")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(f"{name}={raw!r} is not an ISO 8601 time") from None


# Write tools take the validated models' fields under their own (camelCase) argument names.
ARGUMENTS = {
    "intervalMs": "interval_ms",
    "ttlMinutes": "ttl_minutes",
    "nextRunAtIso": "next_run_at",
    "untilIso": "paused_until",
    "reason": "reason",
}
_ARGUMENT_OF = {field_name: argument for argument, field_name in ARGUMENTS.items()}


def _tool_error(exc: InvalidInput) -> ToolError:
    """The refusal in the tool's own argument names, as the model wrote them."""
    return ToolError("; ".join(f"{_ARGUMENT_OF.get(e.field, e.field)} {e.reason}" for e in exc.errors))


def _validated(model: type[M], args: dict[str, Any], **decoded: Any) -> M:
    """`args` checked by the same model the client and the API use; arguments the model lacks are ignored."""
    data = {ARGUMENTS[k]: v for k, v in args.items() if ARGUMENTS.get(k) in model.model_fields}
    try:
        return parse(model, {**data, **decoded})
    except InvalidInput as exc:
        raise _tool_error(exc) from None


def _whole(value: Any) -> Any:
    # A model may write 10000.0 for 10000: a whole float is the same number of milliseconds.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def interval_hint_from(args: dict[str, Any]) -> IntervalHint:
    """propose_interval's arguments as a validated interval hint."""
    return _validated(IntervalHint, args, interval_ms=_whole(args.get("intervalMs")))


def oneshot_hint_from(args: dict[str, Any]) -> OneShotHint:
    """propose_next_time's arguments as a validated one-shot hint."""
    return _validated(OneShotHint, args, next_run_at=_when(args, "nextRunAtIso"))


def pause_from(args: dict[str, Any]) -> Pause:
    """pause_until's arguments (with a time) as a validated pause."""
    return _validated(Pause, args, paused_until=_when(args, "untilIso"))


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
    submission: Submission | None = None
    shadow_actions: list[dict[str, Any]] = field(default_factory=list)

    def call(self, name: str, args: dict[str, Any]) -> Any:
        handler = getattr(self, f"_{name}", None)
        if handler is None or name not in {t["function"]["name"] for t in TOOLS}:
            raise ToolError(f"unknown tool {name!r}")
        if name in WRITE_TOOLS and self.shadow:
            return self._shadow(name, args, handler)
        try:
            return handler(args)
        except InvalidInput as exc:
            raise _tool_error(exc) from None
        except CronicornError as exc:
            raise ToolError(str(exc)) from None

    def _shadow(self, name: str, args: dict[str, Any], handler: Callable[[dict[str, Any]], Any]) -> Any:
        # Validate exactly as for real, then record what would have happened: nothing is written.
        self._validate_write(name, args)
        self.shadow_actions.append({"tool": name, "args": args})
        return {"shadow": True, "applied": False, "would_apply": {"tool": name, "args": args}}

    def _validate_write(self, name: str, args: dict[str, Any]) -> None:
        if name == "propose_interval":
            interval_hint_from(args)
        elif name == "propose_next_time":
            oneshot_hint_from(args)
        elif name == "pause_until" and args.get("untilIso") is not None:
            pause_from(args)

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

    def _get_latest_response(self, args: dict[str, Any]) -> Any:
        found = self._finished_runs(self.endpoint_id, 1)
        return run_view(found[0], body_chars=500) if found else {"message": "no finished runs yet"}

    def _get_response_history(self, args: dict[str, Any]) -> Any:
        limit = _int(args, "limit", 5, 1, 10)
        offset = _int(args, "offset", 0, 0, 10_000)
        bodies = bool(args.get("includeBodies", False))
        found = self._finished_runs(self.endpoint_id, limit, offset)
        return {"runs": [run_view(r, body_chars=500 if bodies else 200) for r in found], "count": len(found)}

    def _views(self, rows: list[Any], include: bool) -> list[dict[str, Any]]:
        views = []
        for row in rows:
            view = endpoint_view(row, self.clock())
            if "job_name" in row._mapping:
                view["job"] = row.job_name
            if include:
                latest = self._finished_runs(row.id, 1)
                view["latest_response"] = run_view(latest[0], body_chars=300) if latest else None
            views.append(view)
        return views

    def _get_sibling_latest_responses(self, args: dict[str, Any]) -> Any:
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
        return {"siblings": self._views(rows, bool(args.get("includeResponses", True)))}

    def _get_upstream_latest_responses(self, args: dict[str, Any]) -> Any:
        with self.engine.connect() as conn:
            declared = (
                conn.execute(
                    select(endpoints.c.upstream_endpoint_ids).where(endpoints.c.id == self.endpoint_id)
                ).scalar()
                or []
            )
            # Scoped to the tenant: a declared id can never reveal another tenant's responses.
            rows = (
                list(
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
                if declared
                else []
            )
        if not declared:
            return {"upstreams": [], "message": "this endpoint declares no upstream endpoints"}
        return {"upstreams": self._views(rows, bool(args.get("includeResponses", True)))}

    # --- writes (through the same validated path as people) --------------------------------
    def _result(self, ep: Any) -> dict[str, Any]:
        return {
            "applied": True,
            "next_run_at": ep.next_run_at.isoformat() if ep.next_run_at else None,
            "next_run_source": ep.next_run_source,
        }

    def _propose_interval(self, args: dict[str, Any]) -> Any:
        hint = interval_hint_from(args)
        ep = control.set_interval_hint(
            self.engine,
            self.tenant_id,
            self.clock(),
            self.endpoint_id,
            hint.interval_ms,
            hint.ttl_minutes,
            hint.reason,
            actor="ai",
        )
        return self._result(ep)

    def _propose_next_time(self, args: dict[str, Any]) -> Any:
        hint = oneshot_hint_from(args)
        ep = control.set_oneshot_hint(
            self.engine,
            self.tenant_id,
            self.clock(),
            self.endpoint_id,
            next_run_at=hint.next_run_at,
            ttl_minutes=hint.ttl_minutes,
            reason=hint.reason,
            actor="ai",
        )
        return self._result(ep)

    def _pause_until(self, args: dict[str, Any]) -> Any:
        if args.get("untilIso") is None:
            ep = control.resume_endpoint(self.engine, self.tenant_id, self.clock(), self.endpoint_id, actor="ai")
        else:
            wanted = pause_from(args)
            ep = control.pause_endpoint(
                self.engine,
                self.tenant_id,
                self.clock(),
                self.endpoint_id,
                wanted.paused_until,
                wanted.reason,
                actor="ai",
            )
        return self._result(ep)

    def _clear_hints(self, args: dict[str, Any]) -> Any:
        return self._result(
            control.clear_hints(self.engine, self.tenant_id, self.clock(), self.endpoint_id, actor="ai")
        )

    def _submit_analysis(self, args: dict[str, Any]) -> Any:
        reasoning = args.get("reasoning")
        actions = args.get("actions_taken", [])
        confidence = args.get("confidence")
        if not isinstance(reasoning, str) or not reasoning.strip():
            raise ToolError("reasoning must be a non-empty string")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise ToolError("actions_taken must be a list of strings")
        if confidence not in ("low", "medium", "high"):
            raise ToolError("confidence must be low, medium or high")
        raw_next = args.get("next_analysis_in_ms", 3_600_000)
        if isinstance(raw_next, bool) or not isinstance(raw_next, (int, float)):
            raise ToolError("next_analysis_in_ms must be a number of milliseconds")
        # Out-of-range requests are clamped, not refused: the session still ends cleanly.
        next_ms = int(min(max(raw_next, MIN_NEXT_ANALYSIS_MS), MAX_NEXT_ANALYSIS_MS))
        self.submission = Submission(reasoning.strip(), actions, confidence, next_ms)
        return {"accepted": True, "next_analysis_at": (self.clock() + timedelta(milliseconds=next_ms)).isoformat()}


def truncate(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"

"""Tools that read: runs, AI planner sessions, explain ("why did or didn't it run", dependency decisions
included), conflicts, health."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from cronicorn.api.mcp.args import EndpointId, JobId, Limit, Offset, RunStatus, When
from cronicorn.api.mcp.scope import Scope, record, to_json
from cronicorn.api.mcp.why import why_not
from cronicorn.monitoring.health import check_health

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False)
RunId = Annotated[str, Field(min_length=1, max_length=64, description="run id, as list_runs returns it")]
SessionId = Annotated[str, Field(min_length=1, max_length=64, description="session id, as list_sessions returns it")]


def register(server: MCPServer, scope: Scope) -> None:
    @server.tool(annotations=READ)
    def list_runs(
        ctx: Context,
        endpoint_id: EndpointId | None = None,
        job_id: JobId | None = None,
        status: RunStatus | None = None,
        since: When = None,
        until: When = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="page size, 1-1000")] = 20,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Runs newest first (status, HTTP status code, duration, error), filtered by endpoint, job, status and
        start time, with the total matching. Response bodies are left out: read one with get_run."""
        client = scope.client(ctx)
        if endpoint_id is not None:
            client.get_endpoint(endpoint_id)  # another tenant's endpoint is not found, not an empty page
        page = client.list_runs(
            endpoint_id=endpoint_id, job_id=job_id, status=status, since=since, until=until, limit=limit, offset=offset
        )
        runs = [{k: v for k, v in asdict(r).items() if k not in ("response_body", "response_text")} for r in page.runs]
        return {"runs": to_json(runs), "total": page.total}

    @server.tool(annotations=READ)
    def get_run(run_id: RunId, ctx: Context) -> dict[str, Any]:
        """One run with its response: status code, headers, body (as stored, capped), error and notes."""
        return record(scope.client(ctx).get_run(run_id))

    @server.tool(annotations=READ)
    def list_sessions(
        ctx: Context, endpoint_id: EndpointId | None = None, limit: Limit = 20, offset: Offset = 0
    ) -> dict[str, Any]:
        """AI planner sessions newest first: what it read (tool calls), its reasoning, the hints it set, tokens."""
        client = scope.client(ctx)
        if endpoint_id is not None:
            client.get_endpoint(endpoint_id)
        return {"sessions": to_json(client.list_sessions(endpoint_id, limit=limit, offset=offset))}

    @server.tool(annotations=READ)
    def get_session(session_id: SessionId, ctx: Context) -> dict[str, Any]:
        """One AI planner session with every tool call it made and its outcome."""
        return record(scope.client(ctx).get_session(session_id))

    @server.tool(annotations=READ)
    def explain_endpoint(
        endpoint_id: EndpointId,
        ctx: Context,
        n: Annotated[int, Field(ge=1, le=100, description="how many future runs to plan, 1-100")] = 5,
    ) -> dict[str, Any]:
        """Why did or didn't it run? The endpoint's state in words (paused and by whom, job paused, archived,
        ended, failing and backing off, hints, a run in flight, a pending retry, what its dependency waits for),
        its last run, the next `n` run times with the governor rule behind each (assuming every run succeeds),
        and the last dependency `decisions` (upstream runs counted or ignored and why, dependency met or
        waiting, runs triggered, gated runs skipped; newest last, empty without a dependency)."""
        client = scope.client(ctx)
        endpoint = client.get_endpoint(endpoint_id)
        job = client.get_job(endpoint.job_id)
        last = client.list_runs(endpoint_id=endpoint_id, limit=1).runs
        planned = client.explain(endpoint_id, n)
        declared = client.get_dependency(endpoint_id)
        decisions = client.decisions(endpoint_id)
        return record(
            {
                "why": why_not(endpoint, job, last[0] if last else None, client.clock(), declared, decisions),
                "next_run_at": endpoint.next_run_at,
                "next_run_source": endpoint.next_run_source,
                "last_run": {k: v for k, v in asdict(last[0]).items() if k in _RUN_SUMMARY} if last else None,
                "planned": planned,
                "dependency": declared["spec"] if declared is not None else None,
                "decisions": decisions,
            }
        )

    @server.tool(annotations=READ)
    def list_conflicts(
        ctx: Context,
        endpoint_id: EndpointId | None = None,
        job_id: JobId | None = None,
        include_closed: bool = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Conflicts between steering decisions (thrash, graph-contradiction, siblings-opposed, trigger-loop),
        open ones unless include_closed, newest first, with how each was damped or resolved."""
        found = scope.client(ctx).list_conflicts(
            endpoint_id, job_id=job_id, include_closed=include_closed, limit=limit, offset=offset
        )
        return {"conflicts": to_json(found)}

    @server.tool(annotations=READ)
    def get_health(ctx: Context, endpoint_id: EndpointId | None = None) -> dict[str, Any]:
        """With endpoint_id: that endpoint's success and failure counts over 1 h / 4 h / 24 h and its failure
        streak. Without: the scheduler's health (database, Redis, queue depths, tick freshness) and this
        tenant's numbers (jobs by status, live endpoints, last 24 h of runs by status)."""
        client = scope.client(ctx)
        if endpoint_id is not None:
            endpoint = client.get_endpoint(endpoint_id)
            return record(
                {
                    "endpoint_id": endpoint_id,
                    "failure_count": endpoint.failure_count,
                    "last_run_at": endpoint.last_run_at,
                    "next_run_at": endpoint.next_run_at,
                    **asdict(client.endpoint_health(endpoint_id)),
                }
            )
        d = scope.deps
        return record(
            {
                "service": check_health(d.engine, d.redis, d.clock(), queue_depths=d.queue_depths),
                "tenant": client.dashboard_stats(),
            }
        )


_RUN_SUMMARY = frozenset(
    {"id", "status", "source", "scheduled_at", "started_at", "finished_at", "duration_ms"}
    | {"status_code", "error_kind", "error_message", "notes"}
)

"""Tools that steer an endpoint: hints, run now, reset failures, a test call, backfill."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import AwareDatetime, Field

from cronicorn.api.mcp.args import EndpointId, Reason, When
from cronicorn.api.mcp.scope import Scope, record
from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_HINT_REACH_MS,
    MAX_HINT_TTL_MINUTES,
    MAX_INTERVAL_HINT_MS,
    MIN_INTERVAL_HINT_MS,
)

WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False)
_TTL = f"minutes the hint lasts, (0, {MAX_HINT_TTL_MINUTES}]"
Ttl = Annotated[float, Field(gt=0, le=MAX_HINT_TTL_MINUTES, description=_TTL)]


def register(server: MCPServer, scope: Scope) -> None:
    @server.tool(annotations=WRITE)
    def set_interval_hint(
        endpoint_id: EndpointId,
        interval_ms: Annotated[
            int,
            Field(
                ge=MIN_INTERVAL_HINT_MS,
                le=MAX_INTERVAL_HINT_MS,
                description="run every this many ms; clamped into the endpoint's min/max guardrails",
            ),
        ],
        ctx: Context,
        ttl_minutes: Ttl = DEFAULT_INTERVAL_HINT_TTL_MINUTES,
        reason: Reason = None,
    ) -> dict[str, Any]:
        """Run the endpoint every `interval_ms` instead of its baseline until the hint expires (default 60 min),
        e.g. faster during an incident. The result's `notes` say if the guardrails clamped it."""
        return record(scope.client(ctx).set_interval_hint(endpoint_id, interval_ms, ttl_minutes, reason))

    @server.tool(annotations=WRITE)
    def set_oneshot_hint(
        endpoint_id: EndpointId,
        ctx: Context,
        next_run_at: When = None,
        next_run_in_ms: Annotated[
            int | None, Field(default=None, ge=0, le=MAX_HINT_REACH_MS, description="run once this many ms from now")
        ] = None,
        ttl_minutes: Ttl = DEFAULT_ONESHOT_HINT_TTL_MINUTES,
        reason: Reason = None,
    ) -> dict[str, Any]:
        """Run the endpoint once at `next_run_at` or in `next_run_in_ms` (give exactly one), if that is earlier
        than planned; the run it causes consumes it. To run now, use run_now."""
        return record(
            scope.client(ctx).set_oneshot_hint(
                endpoint_id,
                next_run_at=next_run_at,
                next_run_in_ms=next_run_in_ms,
                ttl_minutes=ttl_minutes,
                reason=reason,
            )
        )

    @server.tool(annotations=WRITE)
    def clear_hints(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """Drop the endpoint's interval and one-shot hints (a person's or the AI's); it returns to its baseline."""
        return record(scope.client(ctx).clear_hints(endpoint_id))

    @server.tool(annotations=WRITE)
    def run_now(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """Run the endpoint as soon as its guardrails allow (now, or last run + min_interval_ms), through the
        scheduler: the run is recorded. Refused while it is paused or archived or its job is not active."""
        return record(scope.client(ctx).run_now(endpoint_id))

    @server.tool(annotations=WRITE)
    def reset_failures(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """Forget the endpoint's consecutive failures and their backoff, e.g. after fixing its target."""
        return record(scope.client(ctx).reset_failures(endpoint_id))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True))
    def test_call(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """Call the endpoint's URL once, now, signed as scheduled calls are, and return what it answered
        (status code, body, duration, error). Nothing is stored and the schedule is untouched."""
        outcome = scope.client(ctx).test_call(endpoint_id, scope.deps.http, scope.deps.keyring)
        return record({**outcome.__dict__, "error_kind": outcome.error_kind.value if outcome.error_kind else None})

    @server.tool(annotations=WRITE)
    def backfill(
        endpoint_id: EndpointId,
        since: Annotated[AwareDatetime, Field(description="aware ISO 8601 time: the first slot at or after it runs")],
        until: Annotated[AwareDatetime, Field(description="aware ISO 8601 time, not in the future")],
        ctx: Context,
    ) -> dict[str, Any]:
        """Run the endpoint's missed slots in [since, until) now, oldest first, each as its own run (at most
        1000); the live schedule resumes after the last."""
        return record(scope.client(ctx).backfill(endpoint_id, since, until))

"""Prompts for common tasks: the seed's health check with recovery, and "why didn't it run"."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

HEALTH_CHECK = """Set up a health check with automatic recovery in Cronicorn.

1. create_job named "{job_name}".
2. add_endpoint "Health Check": GET {health_url}, baseline_interval_ms 60000, min_interval_ms 10000,
   max_interval_ms 300000, timeout_ms 10000, description: "Monitors service health. When status is
   degraded or error_count > 0, poll faster. When errors are detected, Trigger Recovery should run
   immediately."
3. add_endpoint "Trigger Recovery": POST {recovery_url}, baseline_interval_ms 3600000,
   min_interval_ms 300000, timeout_ms 30000, description: "Recovery action that restarts the service.
   Only run when Health Check shows errors. After triggering, wait at least 5 minutes before another
   attempt. When the service recovers, return to the hourly baseline."
4. If the recovery endpoint should run as a consequence of the health check rather than by the AI's
   reading alone, read the resource cronicorn://docs/coordination first.
5. test_call the health check once and show the user what it answered; then explain_endpoint both.
Ask before anything that pauses or archives a whole job."""

WHY = """The endpoint {endpoint_id} did not run when I expected. Call explain_endpoint for it, then
list_runs (limit 5) and, if the AI planner set hints, list_sessions (limit 3). Tell me in plain words
what stopped or moved it (a pause and who set it, the job's state, failures and backoff, a hint, the
guardrails, an ended schedule, its dependency and the decisions about it: an upstream run ignored and
why, a closed gate) and what I can do about it."""


def register(server: MCPServer) -> None:
    @server.prompt(
        name="setup_health_check_with_recovery",
        title="Set up a health check with recovery",
        description="A job with a health check that polls faster on errors and a recovery action that runs "
        "when it fails, with a cooldown (the coordination guide's first example).",
    )
    def setup_health_check_with_recovery(
        health_url: Annotated[str, Field(description="the service's health URL")],
        recovery_url: Annotated[str, Field(description="the URL that restarts or repairs the service")],
        job_name: Annotated[str, Field(description="name of the job")] = "Service Recovery Workflow",
    ) -> str:
        return HEALTH_CHECK.format(job_name=job_name, health_url=health_url, recovery_url=recovery_url)

    @server.prompt(
        name="why_didnt_it_run",
        title="Why didn't it run?",
        description="Explain why an endpoint did or didn't run, and what to do about it.",
    )
    def why_didnt_it_run(endpoint_id: Annotated[str, Field(description="the endpoint's id")]) -> str:
        return WHY.format(endpoint_id=endpoint_id)

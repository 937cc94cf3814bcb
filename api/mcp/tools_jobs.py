"""Tools for jobs and their endpoints: create, get, list, update, pause, resume, archive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from cronicorn.api.mcp.args import (
    EndpointChanges,
    EndpointFields,
    EndpointId,
    JobId,
    JobStatus,
    Limit,
    Offset,
    Reason,
    When,
)
from cronicorn.api.mcp.scope import Scope, record, to_json
from cronicorn.core.errors import FieldError, InvalidInput


@contextmanager
def fields_of(argument: str) -> Iterator[None]:
    """Name a bad field by its path in the arguments: `endpoint.url`, not `url`."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput([FieldError(f"{argument}.{e.field}", e.reason) for e in exc.errors]) from None


JobName = Annotated[str, Field(min_length=1, max_length=255, description="1-255 characters")]
JobDescription = Annotated[
    str | None,
    Field(default=None, max_length=1000, description="up to 1000 characters; the AI planner reads it as context"),
]
CONFIRM = "ask the user before calling this and call it only once they agree; "
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True)


def register(server: MCPServer, scope: Scope) -> None:  # noqa: C901 - one short function per tool
    @server.tool(annotations=WRITE)
    def create_job(name: JobName, ctx: Context, description: JobDescription = None) -> dict[str, Any]:
        """Create an active job: a named group of endpoints. Add its endpoints with add_endpoint."""
        return record(scope.client(ctx).create_job({"name": name, "description": description}))

    @server.tool(annotations=READ)
    def get_job(job_id: JobId, ctx: Context) -> dict[str, Any]:
        """One job (name, description, status active/paused/archived). Not found for another tenant's job."""
        return record(scope.client(ctx).get_job(job_id))

    @server.tool(annotations=READ)
    def list_jobs(
        ctx: Context, status: JobStatus | None = None, limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        """This tenant's jobs, oldest first, optionally only those in one status."""
        return {"jobs": to_json(scope.client(ctx).list_jobs(status=status, limit=limit, offset=offset))}

    @server.tool(annotations=WRITE)
    def update_job(
        job_id: JobId,
        ctx: Context,
        name: JobName | None = None,
        description: JobDescription = None,
        clear_description: Annotated[bool, Field(description="remove the description")] = False,
    ) -> dict[str, Any]:
        """Rename a job and/or change or clear its description (only what is given changes). Refused if archived."""
        fields: dict[str, Any] = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        if clear_description:
            if description is not None:
                raise InvalidInput.one("clear_description", "give a description or clear it, not both")
            fields["description"] = None
        if not fields:
            raise InvalidInput.one("name", "give name, description or clear_description")
        return record(scope.client(ctx).update_job(job_id, **fields))

    @server.tool(
        annotations=DESTRUCTIVE,
        description="Stop EVERY endpoint of the job at once until resume_job (a call in flight finishes, then "
        "nothing more is planned). Needs confirmation: " + CONFIRM + "name the job and say that all its "
        "endpoints stop. To stop one endpoint, use pause_endpoint.",
    )
    def pause_job(job_id: JobId, ctx: Context) -> dict[str, Any]:
        return record(scope.client(ctx).pause_job(job_id))

    @server.tool(annotations=WRITE)
    def resume_job(job_id: JobId, ctx: Context) -> dict[str, Any]:
        """Make a paused job active again; each endpoint is re-planned from now. Refused if archived."""
        return record(scope.client(ctx).resume_job(job_id))

    @server.tool(
        annotations=DESTRUCTIVE,
        description="Archive a job FOR GOOD: its endpoints never run again and it cannot be resumed (its runs "
        "are kept). Needs confirmation: " + CONFIRM + "name the job; this cannot be undone.",
    )
    def archive_job(job_id: JobId, ctx: Context) -> dict[str, Any]:
        return record(scope.client(ctx).archive_job(job_id))

    @server.tool(annotations=WRITE)
    def add_endpoint(job_id: JobId, endpoint: EndpointFields, ctx: Context) -> dict[str, Any]:
        """Add an endpoint (an HTTP call on a schedule) to an active or paused job; its first run is planned
        at once. Example: {"name": "Health Check", "url": "https://api.example.com/health",
        "baseline_interval_ms": 60000, "min_interval_ms": 10000, "max_interval_ms": 300000,
        "timeout_ms": 10000, "description": "When status is degraded, poll faster."}"""
        with fields_of("endpoint"):
            return record(scope.client(ctx).add_endpoint(job_id, endpoint))

    @server.tool(annotations=READ)
    def get_endpoint(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """One endpoint: its configuration and schedule state (next_run_at and why, hints, pause, failures).
        Secret header values read as "***"."""
        return record(scope.client(ctx).get_endpoint(endpoint_id))

    @server.tool(annotations=READ)
    def list_endpoints(
        ctx: Context,
        job_id: JobId | None = None,
        include_archived: bool = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """This tenant's endpoints (or one job's), oldest first; archived ones only with include_archived."""
        client = scope.client(ctx)
        if job_id is not None:
            client.get_job(job_id)  # another tenant's job is not found, not an empty list
        found = client.list_endpoints(job_id, include_archived=include_archived, limit=limit, offset=offset)
        return {"endpoints": to_json(found)}

    @server.tool(annotations=WRITE)
    def update_endpoint(endpoint_id: EndpointId, changes: EndpointChanges, ctx: Context) -> dict[str, Any]:
        """Change an endpoint's fields; the next run is re-planned at once. Refused if archived."""
        if not isinstance(changes, dict) or not changes:
            raise InvalidInput.one("changes", "give at least one field to change")
        with fields_of("changes"):
            return record(scope.client(ctx).update_endpoint(endpoint_id, **changes))

    @server.tool(annotations=WRITE)
    def pause_endpoint(
        endpoint_id: EndpointId,
        ctx: Context,
        until: When = None,
        for_minutes: Annotated[
            float | None, Field(default=None, gt=0, le=366 * 24 * 60, description="pause this many minutes from now")
        ] = None,
        reason: Reason = None,
    ) -> dict[str, Any]:
        """Pause one endpoint until a time (`until`) or for a while (`for_minutes`): give exactly one. Its next
        run moves there at once. Set by a person, the AI planner cannot lift it; resume_endpoint does."""
        if (until is None) == (for_minutes is None):
            raise InvalidInput.one("until", "give exactly one of until or for_minutes")
        client = scope.client(ctx)
        if for_minutes is not None:
            until = client.clock() + timedelta(minutes=for_minutes)
        assert until is not None
        return record(client.pause_endpoint(endpoint_id, until, reason))

    @server.tool(annotations=WRITE)
    def resume_endpoint(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """Lift an endpoint's pause (whoever set it) and re-plan its next run from now."""
        return record(scope.client(ctx).resume_endpoint(endpoint_id))

    @server.tool(
        annotations=DESTRUCTIVE,
        description="Archive an endpoint FOR GOOD: it never runs again (its runs are kept). Needs confirmation: "
        + CONFIRM
        + "name the endpoint; this cannot be undone.",
    )
    def archive_endpoint(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        return record(scope.client(ctx).archive_endpoint(endpoint_id))

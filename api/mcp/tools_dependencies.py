"""Tools for dependencies between endpoints: declare, read and clear one (why it ran: explain_endpoint)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from cronicorn.api.mcp.args import DependencyFields, EndpointId
from cronicorn.api.mcp.scope import Scope, record
from cronicorn.api.mcp.tools_jobs import CONFIRM, DESTRUCTIVE, READ, WRITE, fields_of

# get_dependency's answer for an endpoint without one: the same shape, `spec` null.
_NONE: dict[str, Any] = {"spec": None, "upstreams": [], "keys_done": [], "decisions": [], "updated_at": None}


def register(server: MCPServer, scope: Scope) -> None:
    @server.tool(annotations=WRITE)
    def set_dependency(endpoint_id: EndpointId, dependency: DependencyFields, ctx: Context) -> dict[str, Any]:
        """Make the endpoint run on (trigger) or only after (gate) runs of other endpoints of this tenant, in
        any job; replaces its dependency if it had one. Example, one report per new batch once processing
        finished: {"upstream_endpoint_ids": ["<process id>"], "condition": "$.status == \\"done\\"",
        "batch_key": "$.batch_id", "template": {"body": {"batch_id": "key"}}}. Returns the declaration as
        get_dependency does; a bad expression, an unknown, archived or foreign upstream, or a cycle is refused
        naming the field, and nothing is written."""
        with fields_of("dependency"):
            return record(scope.client(ctx).set_dependency(endpoint_id, dependency))

    @server.tool(annotations=READ)
    def get_dependency(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        """The endpoint's dependency (`spec`, null when it has none), the upstream runs that count now
        (`upstreams`), the batch keys already run (`keys_done`) and its last decisions."""
        declared = scope.client(ctx).get_dependency(endpoint_id)
        return record(declared if declared is not None else {"endpoint_id": endpoint_id, **_NONE})

    @server.tool(
        annotations=DESTRUCTIVE,
        description="Remove the endpoint's dependency: it runs on its own schedule alone again, and the batch "
        "keys it already ran are forgotten (declaring it again may run them again). `cleared` is false if it "
        "had none. Needs confirmation: " + CONFIRM + "name the endpoint and what it waited for.",
    )
    def clear_dependency(endpoint_id: EndpointId, ctx: Context) -> dict[str, Any]:
        return {"endpoint_id": endpoint_id, "cleared": scope.client(ctx).clear_dependency(endpoint_id)}

"""The MCP server: the tools, the docs as resources, and prompts for common tasks, over one tenant scope."""

from __future__ import annotations

from importlib import resources as package_files
from typing import Any

import anyio.to_thread
import redis
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from cronicorn.api.deps import Deps
from cronicorn.api.mcp import prompts, tools_control, tools_dependencies, tools_jobs, tools_read
from cronicorn.api.mcp.errors import invalid, tool_error
from cronicorn.api.mcp.scope import Caller, Scope
from cronicorn.core.errors import FieldError

INSTRUCTIONS = """Cronicorn schedules HTTP calls. A job groups endpoints; an endpoint is an HTTP call with a \
schedule (an interval, a cron or one time) and guardrails (min/max interval) that every plan is clamped into. \
Every call is stored as a run. An AI planner reads each endpoint's description and recent responses and sets \
time-bounded hints (run faster, run once, pause). Write endpoint descriptions as instructions to that planner. \
An endpoint can also run on (or only after) runs of other endpoints: set_dependency. \
Ask the user before pause_job, archive_job, archive_endpoint and clear_dependency. The docs are resources (cronicorn://docs/...)."""

# (file, uri name, title, description) of every doc served as a resource.
DOCS = (
    ("concepts.md", "concepts", "Concepts", "Jobs, endpoints, runs, the governor's rules and the AI planner."),
    ("coordination.md", "coordination", "Coordination guide", "How endpoints coordinate, and conflicts."),
    ("configuration.md", "configuration", "Configuration", "Every setting (environment variable) and its default."),
)


def doc_text(file: str) -> str:
    return (package_files.files("cronicorn.api.mcp") / "docs" / file).read_text(encoding="utf-8")


class CronicornServer(MCPServer[Any]):
    """MCPServer whose tool failures are the caller's words (the field and why, or the object), which
    refuses unknown arguments as REST refuses unknown fields, and holds HTTP keys to REST's rate limits."""

    scope: Scope

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is not None:
            unknown = sorted(set(arguments) - set(tool.parameters.get("properties", {})))
            if unknown:
                raise invalid([FieldError(field, "unknown argument") for field in unknown])
            if context is not None and self.scope.local is None:  # a key over HTTP
                write = not (tool.annotations and tool.annotations.read_only_hint)
                try:
                    await anyio.to_thread.run_sync(lambda: self.scope.check_rate(context, write=write))
                except redis.RedisError as exc:
                    raise ToolError(f"redis unavailable ({exc.__class__.__name__}); try again later") from None
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            answer = tool_error(exc.__cause__)
            if answer is None:
                raise
            raise answer from None


def build_server(deps: Deps, local: Caller | None) -> CronicornServer:
    """The server for one tenant (`local`, on stdio) or for the tenant of each HTTP request's key (None)."""
    server = CronicornServer("cronicorn", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")
    scope = server.scope = Scope(deps, local)
    for module in (tools_jobs, tools_control, tools_dependencies, tools_read):
        module.register(server, scope)
    for file, name, title, description in DOCS:
        server.resource(
            f"cronicorn://docs/{name}", name=name, title=title, description=description, mime_type="text/markdown"
        )(_reader(file))
    prompts.register(server)
    return server


def _reader(file: str) -> Any:
    def read() -> str:
        return doc_text(file)

    return read

"""The tools' argument types: the same caps as REST and the Python client, as JSON schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, WithJsonSchema

from cronicorn.api.schemas import EndpointIn
from cronicorn.core.constants import MAX_REASON_CHARS
from cronicorn.producer.dependency_specs import DependencySpec
from cronicorn.producer.specs import EndpointSpec

_ID = "the id (a UUID) as returned by the tool that created or listed it"
JobId = Annotated[str, Field(min_length=1, max_length=64, description=f"job id: {_ID}")]
EndpointId = Annotated[str, Field(min_length=1, max_length=64, description=f"endpoint id: {_ID}")]
Limit = Annotated[int, Field(ge=1, le=1000, description="page size, 1-1000")]
Offset = Annotated[int, Field(ge=0, le=1_000_000_000, description="how many to skip")]
Reason = Annotated[
    str | None, Field(default=None, max_length=MAX_REASON_CHARS, description="why, shown beside the endpoint")
]
When = Annotated[
    AwareDatetime | None, Field(default=None, description="aware ISO 8601 time, e.g. 2027-01-31T12:00:00Z")
]
RunStatus = Literal["running", "success", "failed", "abandoned", "canceled"]
JobStatus = Literal["active", "paused", "archived"]

# REST's names for the two fields whose Python names differ (headersJson, bodyJson).
_REST_NAMES = {"headers": "headers_json", "body": "body_json"}


def endpoint_schema(*, partial: bool) -> dict[str, Any]:
    """EndpointSpec's JSON schema (its caps) with REST's field descriptions; `partial` for updates."""
    schema = EndpointSpec.model_json_schema()
    for name, prop in schema["properties"].items():
        prop.pop("title", None)
        field = EndpointIn.model_fields.get(_REST_NAMES.get(name, name))
        if field is not None and field.description:
            prop["description"] = field.description
    schema.pop("title", None)
    if partial:
        schema.pop("required", None)
        schema["description"] = (
            "Only the fields given change; null clears description, body, min/max_interval_ms, starts_at, "
            "ends_at and max_runs. Setting one kind of schedule (baseline_cron, baseline_interval_ms or run_at) "
            "replaces the others. The merged endpoint is validated as a whole."
        )
    else:
        schema["description"] = (
            "The endpoint: an HTTP call, its schedule (exactly one of baseline_interval_ms, baseline_cron or "
            "run_at) and its guardrails (min_interval_ms / max_interval_ms clamp every plan, AI hints too). "
            "The description is the AI planner's instructions: say when to run faster, slower or not at all."
        )
    return schema


EndpointFields = Annotated[dict[str, Any], WithJsonSchema(endpoint_schema(partial=False))]
EndpointChanges = Annotated[dict[str, Any], WithJsonSchema(endpoint_schema(partial=True))]


# What each field of a dependency means, for the assistant (the spec's docstring, field by field).
_DEPENDENCY_FIELDS = {
    "upstream_endpoint_ids": "the endpoints it waits for: ids of this tenant's endpoints, in any job",
    "on": "the upstream outcome that counts: success (default), failure or any",
    "condition": "an expression over the upstream's response, e.g. '$.status == \"done\" and status < 300'",
    "fan_in": "all (default: every upstream has a run that counts) or any (one has)",
    "batch_key": "where the batch id is in the upstream's response, e.g. '$.batch_id': one run per new key",
    "trigger": "run as soon as the dependency is met (default true)",
    "gate": "skip the endpoint's other (scheduled) runs while the dependency is not met (default false)",
    "template": (
        'hands the upstream\'s data to the run: {"headers"|"query"|"body": {name: source}}, a source being '
        "run_id, endpoint_id, key, status, headers.<name> or a JSONPath into the upstream's response"
    ),
}


def dependency_schema() -> dict[str, Any]:
    """DependencySpec's JSON schema (its caps), each field described."""
    schema = DependencySpec.model_json_schema()
    for name, prop in schema["properties"].items():
        prop.pop("title", None)
        if name in _DEPENDENCY_FIELDS:
            prop["description"] = _DEPENDENCY_FIELDS[name]
    schema.pop("title", None)
    schema["description"] = (
        "What the endpoint waits for. It keeps its own schedule: `trigger` adds runs when the dependency is "
        "met, `gate` holds the scheduled ones until it is. Expressions are checked now; a cycle is refused."
    )
    return schema


DependencyFields = Annotated[dict[str, Any], WithJsonSchema(dependency_schema())]

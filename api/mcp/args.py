"""The tools' argument types: the same caps as REST and the Python client, as JSON schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, WithJsonSchema

from cronicorn.api.schemas import EndpointIn
from cronicorn.core.constants import MAX_REASON_CHARS
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

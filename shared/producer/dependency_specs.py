"""A dependency as a producer declares it, validated: expressions parsed once, here, naming the field."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cronicorn.core.dependencies import MAX_UPSTREAMS, TEMPLATE_NAMES
from cronicorn.core.expressions import ExpressionError, compile_expression, compile_operand
from cronicorn.producer.input_caps import DEFAULT_CAPS
from cronicorn.producer.request_parts import headers_problem
from cronicorn.producer.specs import _STRICT
from cronicorn.producer.storable import StorableModel

MAX_TEMPLATE_FIELDS = 20


class DependencySpec(StorableModel):
    """When an endpoint runs because of (or only after) runs of other endpoints of the tenant.

    upstream_endpoint_ids: the endpoints it waits for (any job of the same tenant).
    on: the upstream outcome that counts: success, failure or any.
    condition: an expression over the upstream's response (`$.status == "done" and status < 300`).
    fan_in: all (each upstream has a run that counts) or any (one has).
    batch_key: where the batch id is (`$.batch_id`): one run per new key, never two for one.
    trigger: run as soon as the dependency is met. gate: skip other runs while it is not.
    template: {"headers"|"query"|"body": {name: source}}, a source being run_id, endpoint_id,
      key, status, headers.<name> or a JSONPath into the upstream's response.
    """

    model_config = _STRICT
    upstream_endpoint_ids: list[str] = Field(min_length=1, max_length=MAX_UPSTREAMS)
    on: Literal["success", "failure", "any"] = "success"
    condition: str | None = Field(default=None, max_length=500)
    fan_in: Literal["all", "any"] = "all"
    batch_key: str | None = Field(default=None, max_length=500)
    trigger: bool = True
    gate: bool = False
    template: dict[Literal["headers", "query", "body"], dict[str, str]] = Field(default_factory=dict)

    @field_validator("upstream_endpoint_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists an endpoint twice")
        return value

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_expression(value)
            except ExpressionError as exc:
                raise ValueError(f"not a condition: {exc}") from None
        return value

    @field_validator("batch_key")
    @classmethod
    def _batch_key(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_operand(value)
            except ExpressionError as exc:
                raise ValueError(f"not a batch key: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DependencySpec:
        if not (self.trigger or self.gate):
            raise ValueError("trigger: set trigger, gate or both (neither would never act)")
        for part, fields in self.template.items():
            if len(fields) > MAX_TEMPLATE_FIELDS:
                raise ValueError(f"template.{part}: must have at most {MAX_TEMPLATE_FIELDS} fields")
            if part == "headers":
                problem = headers_problem(dict.fromkeys(fields, "x"), DEFAULT_CAPS)
                if problem is not None:
                    raise ValueError(f"template.headers: {problem}")
            for name, source in fields.items():
                if source in TEMPLATE_NAMES:
                    continue
                try:
                    compile_operand(source)
                except ExpressionError as exc:
                    names = ", ".join(TEMPLATE_NAMES)
                    raise ValueError(f"template.{part}.{name}: not {names} or a response value ({exc})") from None
        return self

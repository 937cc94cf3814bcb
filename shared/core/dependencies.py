"""Dependencies between endpoints, as pure decisions: does an upstream run count, is the dependency met.

A dependency is declared on the downstream endpoint. Each upstream's finished runs are read
once, in the finishing transaction (`cronicorn.store.dependency_edges`): a run that counts
(`qualify`) is remembered on its edge, with its batch key and the values the template hands
down. Whether the downstream may run (`readiness`) is a function of those edges alone:

- fan-in `all`: every upstream has a run that counts since the downstream's last dependency
  run, and with a batch key they all reported the same key; `any`: one has;
- a batch key already run is never run again (`keys_done`), whatever reports it.

`trigger` runs the downstream as soon as the dependency is met; `gate` skips its other runs
(recorded as skipped, with the reason) while it is not. Both decisions say why (`Verdict.reason`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cronicorn.core.expressions import Node, Response, compile_expression, compile_operand
from cronicorn.core.model import RunStatus

MAX_UPSTREAMS = 20
MAX_KEYS_REMEMBERED = 200  # batch keys a downstream remembers having run: older ones may run again
MAX_DECISIONS = 20  # decisions kept per endpoint ("why did or didn't it run")
MAX_HANDED_BYTES = 8192  # the values handed down by one upstream run, as JSON
TEMPLATE_PARTS = ("headers", "query", "body")
# What a template value may name besides a response value: the triggering run and its key.
TEMPLATE_NAMES = ("run_id", "endpoint_id", "key")


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    ANY = "any"


class FanIn(str, Enum):
    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class Dependency:
    """A validated declaration, with its expressions compiled."""

    upstream_endpoint_ids: tuple[str, ...]
    on: Outcome = Outcome.SUCCESS
    condition: str | None = None
    fan_in: FanIn = FanIn.ALL
    batch_key: str | None = None
    trigger: bool = True
    gate: bool = False
    template: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Dependency:
        """The declaration as stored (`DependencySpec.model_dump()`)."""
        return cls(
            upstream_endpoint_ids=tuple(stored["upstream_endpoint_ids"]),
            on=Outcome(stored.get("on", "success")),
            condition=stored.get("condition"),
            fan_in=FanIn(stored.get("fan_in", "all")),
            batch_key=stored.get("batch_key"),
            trigger=bool(stored.get("trigger", True)),
            gate=bool(stored.get("gate", False)),
            template={k: dict(v) for k, v in (stored.get("template") or {}).items()},
        )


class Result(str, Enum):
    """What an upstream run's evaluation came to, as recorded with the decision (`Verdict.result`)."""

    COUNTS = "counts"
    OUTCOME = "outcome-not-wanted"  # e.g. it failed and the dependency waits for a success
    CONDITION = "condition-false"
    KEY_MISSING = "batch-key-missing"
    KEY_RAN = "batch-key-ran"


@dataclass(frozen=True)
class Verdict:
    """Whether an upstream run counts, why not when it does not, and what it hands down."""

    counts: bool
    reason: str
    key: str | None = None
    handed: dict[str, dict[str, Any]] = field(default_factory=dict)
    result: Result = Result.COUNTS


@dataclass(frozen=True)
class Edge:
    """One upstream of a downstream, with the run that counts since the downstream's last dependency run."""

    upstream_endpoint_id: str
    run_id: str | None = None
    at: datetime | None = None
    key: str | None = None
    handed: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True)
class Readiness:
    met: bool
    reason: str
    trigger: Edge | None = None  # the upstream run that completed it: the latest that counts


def outcome_counts(on: Outcome, status: str) -> bool:
    """Whether a finished run of this status is the outcome the dependency waits for."""
    if status == RunStatus.SUCCESS.value:
        return on in (Outcome.SUCCESS, Outcome.ANY)
    if status in (RunStatus.FAILED.value, RunStatus.ABANDONED.value):
        return on in (Outcome.FAILURE, Outcome.ANY)
    return False  # skipped and canceled runs are no outcome of the upstream's work


def key_text(value: Any) -> str | None:
    """A batch key as compared and stored: text as it is, anything else as its JSON; null is no key."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def qualify(dep: Dependency, status: str, response: Response, *, keys_done: Sequence[str] = ()) -> Verdict:
    """Whether a finished upstream run counts for `dep`, and what it hands down if it does."""
    if not outcome_counts(dep.on, status):
        return Verdict(False, f"outcome {status} is not {dep.on.value}", result=Result.OUTCOME)
    if dep.condition is not None and not compile_expression(dep.condition).value_in(response):
        return Verdict(False, f"condition {dep.condition} not met", result=Result.CONDITION)
    key = None
    if dep.batch_key is not None:
        key = key_text(compile_operand(dep.batch_key).value_in(response))
        if key is None:
            return Verdict(False, f"batch key {dep.batch_key} missing from the response", result=Result.KEY_MISSING)
        if key in keys_done:
            return Verdict(False, f"batch key {key!r} already ran", result=Result.KEY_RAN)
    return Verdict(True, "counts", key, _handed(dep, response))


def _handed(dep: Dependency, response: Response) -> dict[str, dict[str, Any]]:
    """The template's response values read now (the run id and key are filled in when it runs)."""
    handed: dict[str, dict[str, Any]] = {}
    for part, fields in dep.template.items():
        handed[part] = {name: _read(source, response) for name, source in fields.items()}
    if len(json.dumps(handed, default=str)) > MAX_HANDED_BYTES:
        return {part: {name: None for name in fields} for part, fields in dep.template.items()}
    return handed


def _read(source: str, response: Response) -> Any:
    if source in TEMPLATE_NAMES:
        return {"$ref": source}  # filled from the triggering run when the downstream starts
    node: Node = compile_operand(source)
    return node.value_in(response)


def readiness(dep: Dependency, edges: Sequence[Edge]) -> Readiness:
    """Whether the downstream may run now on its dependency, and which upstream run completed it."""
    counted = [e for e in edges if e.run_id is not None]
    waiting = [e.upstream_endpoint_id for e in edges if e.run_id is None]
    if not counted:
        return Readiness(False, f"waiting for {_names(waiting)}")
    latest = max(counted, key=lambda e: (e.at is not None, e.at))
    if dep.fan_in is FanIn.ANY:
        return Readiness(True, f"met by upstream run {latest.run_id}", latest)
    if waiting:
        return Readiness(False, f"waiting for {_names(waiting)}")
    keys = {e.key for e in counted}
    if dep.batch_key is not None and len(keys) > 1:
        shown = ", ".join(f"{e.upstream_endpoint_id}={e.key!r}" for e in counted)
        return Readiness(False, f"upstreams reported different batch keys ({shown})")
    return Readiness(True, f"all {len(counted)} upstreams met; latest run {latest.run_id}", latest)


def _names(ids: Sequence[str]) -> str:
    return "upstream " + ", ".join(ids) if len(ids) == 1 else "upstreams " + ", ".join(ids)


def fill(handed: dict[str, dict[str, Any]] | None, edge: Edge) -> dict[str, dict[str, Any]]:
    """The template's values for the run `edge` triggered: references to the run and key resolved."""
    refs = {"run_id": edge.run_id, "endpoint_id": edge.upstream_endpoint_id, "key": edge.key}
    return {
        part: {
            name: refs[value["$ref"]] if isinstance(value, dict) and value.get("$ref") in refs else value
            for name, value in fields.items()
        }
        for part, fields in (handed or {}).items()
    }


def handed_request(
    url: str, headers: dict[str, str], body: Any, handed: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, str], Any]:
    """The downstream's URL, headers and JSON body with the handed values placed by the template.

    Headers and query values are sent as text (JSON for anything not text); body values keep
    their JSON type and are merged into the endpoint's own JSON object body (or make one).
    """
    as_text = {part: {k: key_text(v) or "" for k, v in handed.get(part, {}).items()} for part in ("headers", "query")}
    if as_text["query"]:
        split = urlsplit(url)
        query = urlencode([*parse_qsl(split.query, keep_blank_values=True), *as_text["query"].items()])
        url = urlunsplit(split._replace(query=query))
    headers = {**headers, **as_text["headers"]}
    if handed.get("body"):
        body = {**(body if isinstance(body, dict) else {}), **handed["body"]}
    return url, headers, body

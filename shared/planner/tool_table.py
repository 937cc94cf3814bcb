"""The tools the model sees: names, descriptions, arguments and their caps, declared once.

The JSON schemas sent to the model are rendered from these `Param`s, and the same `Param`s check
the arguments the model sends (`cronicorn.planner.arguments`): the caps it is told are the caps
enforced, and they come from `cronicorn.core.constants`, like the caps people get.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_NEXT_ANALYSIS_MS,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_AI_PAUSE_MINUTES,
    MAX_HINT_REACH_MS,
    MAX_HINT_TTL_MINUTES,
    MAX_INTERVAL_HINT_MS,
    MAX_NEXT_ANALYSIS_MS,
    MAX_REASON_CHARS,
    MIN_INTERVAL_HINT_MS,
    MIN_NEXT_ANALYSIS_MS,
)
from cronicorn.planner.arguments import Param, schema_of

LATEST_BODY_CHARS = 500  # get_latest_response, and history with includeBodies
PREVIEW_CHARS = 200  # history without bodies, siblings and upstreams without includeResponses
NEIGHBOUR_BODY_CHARS = 400  # siblings and upstreams with includeResponses
MAX_HISTORY_OFFSET = 10_000
CONFIDENCES = ("low", "medium", "high")
DEFAULT_CONFIDENCE = "high"  # the original's default for a submission that does not say


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[Param, ...] = ()
    writes: bool = False

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": schema_of(self.params)},
        }


REASON = Param("reason", "string", "why, in one sentence", required=True, max_length=MAX_REASON_CHARS)


def _ttl(default: int) -> Param:
    return Param(
        "ttlMinutes",
        "number",
        "how long the hint lasts, in minutes",
        default=default,
        exclusive_minimum=0,
        maximum=MAX_HINT_TTL_MINUTES,
    )


def _include(what: str) -> Param:
    return Param(
        "includeResponses",
        "boolean",
        f"true: each {what}'s latest body (first {NEIGHBOUR_BODY_CHARS} chars); "
        f"false: its status and a {PREVIEW_CHARS}-char preview, to save tokens",
        default=False,
    )


TOOL_TABLE: tuple[Tool, ...] = (
    Tool(
        "get_latest_response", f"The latest finished run: status, code, time, body (first {LATEST_BODY_CHARS} chars)."
    ),
    Tool(
        "get_response_history",
        f"Finished runs, newest first: status, duration, a {PREVIEW_CHARS}-char preview "
        f"or a {LATEST_BODY_CHARS}-char body; has_more and next_offset page to older runs.",
        (
            Param("limit", "integer", "how many runs", default=5, minimum=1, maximum=10),
            Param(
                "offset", "integer", "how many newest runs to skip", default=0, minimum=0, maximum=MAX_HISTORY_OFFSET
            ),
            Param("includeBodies", "boolean", "bodies instead of previews", default=False),
        ),
    ),
    Tool(
        "get_sibling_latest_responses",
        "For each other endpoint of the same job: latest response, schedule, pause, failures, hints.",
        (_include("sibling"),),
    ),
    Tool(
        "get_upstream_latest_responses",
        "For each declared upstream endpoint (in other jobs): its job, latest response, schedule, pause, failures.",
        (_include("upstream"),),
    ),
    Tool(
        "propose_interval",
        "Run every intervalMs until the hint expires; the endpoint's min/max interval still hold (the result says "
        "when they change your value).",
        (
            Param(
                "intervalMs",
                "integer",
                "milliseconds between runs",
                required=True,
                minimum=MIN_INTERVAL_HINT_MS,
                maximum=MAX_INTERVAL_HINT_MS,
            ),
            _ttl(DEFAULT_INTERVAL_HINT_TTL_MINUTES),
            REASON,
        ),
        writes=True,
    ),
    Tool(
        "propose_next_time",
        "Run once at nextRunAtIso, if earlier than planned (the result says when guardrails move it).",
        (
            Param(
                "nextRunAtIso",
                "datetime",
                "when to run once",
                required=True,
                max_ahead=timedelta(milliseconds=MAX_HINT_REACH_MS),
            ),
            _ttl(DEFAULT_ONESHOT_HINT_TTL_MINUTES),
            REASON,
        ),
        writes=True,
    ),
    Tool(
        "pause_until",
        "Pause until untilIso, or resume with null. Cannot change a person's pause.",
        (
            Param(
                "untilIso",
                "datetime",
                "when the pause ends, or null to resume now",
                required=True,
                nullable=True,
                future=True,
                max_ahead=timedelta(minutes=MAX_AI_PAUSE_MINUTES),
            ),
            REASON,
        ),
        writes=True,
    ),
    Tool("clear_hints", "Drop all hints: the baseline schedule applies again.", (REASON,), writes=True),
    Tool(
        "submit_analysis",
        "End the session.",
        (
            Param("reasoning", "string", "what you saw and why you acted (or did not)", required=True),
            Param("actions_taken", "strings", "the actions you took", default=[]),
            Param("confidence", "string", "how sure you are", default=DEFAULT_CONFIDENCE, enum=CONFIDENCES),
            Param(
                "next_analysis_in_ms",
                "integer",
                "when to look again, in ms; omit for the endpoint's baseline interval "
                f"({DEFAULT_NEXT_ANALYSIS_MS // 60_000} minutes for cron)",
                minimum=MIN_NEXT_ANALYSIS_MS,
                maximum=MAX_NEXT_ANALYSIS_MS,
                clamp=True,
            ),
        ),
    ),
)
TOOLS: list[dict[str, Any]] = [tool.schema() for tool in TOOL_TABLE]
TOOLS_BY_NAME = {tool.name: tool for tool in TOOL_TABLE}

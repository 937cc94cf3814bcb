"""One analysis session: a bounded tool-calling loop that ends with submit_analysis.

The loop owns retries (the OpenAI client gets max_retries=0): a model error, a timeout or a
garbage answer is retried with backoff within the session's budget, then the session is
recorded as failed and the endpoint keeps its schedule.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import openai
from sqlalchemy import Engine

from cronicorn.core.tiers import DEFAULT_TIERS, Tier
from cronicorn.planner.context import build_context
from cronicorn.planner.prompt import SYSTEM_PROMPT
from cronicorn.planner.tools import TOOLS, ToolBox, ToolError, truncate
from cronicorn.store.analysis_sessions import SessionRecord, monthly_tokens, save_session
from cronicorn.store.analysis_wanted import wanted_for
from cronicorn.store.tenants import tenant_tier
from cronicorn.telemetry.metrics import AI_SESSIONS, AI_TOKENS

log = logging.getLogger(__name__)
FAILED_RETRY_AFTER = timedelta(minutes=15)
NO_SUBMIT_RETRY_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class PlannerConfig:
    model: str = "gpt-4o-mini"
    temperature: float = 0.7
    max_steps: int = 15
    session_token_cap: int = 60_000
    monthly_token_budget: int = 5_000_000
    shadow: bool = False
    retries: int = 2
    retry_backoff_s: float = 1.0
    tiers: Mapping[str, Tier] = field(default_factory=lambda: dict(DEFAULT_TIERS))

    def budget_for(self, tier_name: str | None) -> int:
        """A tenant with a tier gets its tier's monthly tokens; others the installation's budget."""
        tier = self.tiers.get(tier_name) if tier_name else None
        return tier.ai_tokens_per_month if tier is not None else self.monthly_token_budget


class ModelFailure(Exception):
    """The model could not give a usable answer within the retries."""


def _complete(
    ai: openai.OpenAI,
    cfg: PlannerConfig,
    messages: list[dict[str, Any]],
    tool_choice: Any,
    sleep: Callable[[float], None],
) -> Any:
    last: Exception | None = None
    for attempt in range(cfg.retries + 1):
        if attempt:
            sleep(cfg.retry_backoff_s * 2 ** (attempt - 1))
        try:
            # Plain dicts in the wire format: the SDK's TypedDicts describe exactly these.
            response = ai.chat.completions.create(
                model=cfg.model,
                messages=messages,  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
                tool_choice=tool_choice,
                temperature=cfg.temperature,
            )
            if not getattr(response, "choices", None):
                raise ModelFailure("the model answered with no choices")
            return response
        except (openai.APIError, ModelFailure, ValueError) as exc:  # ValueError: undecodable body
            last = exc
            log.warning("model call failed (attempt %s): %s", attempt + 1, exc)
    raise ModelFailure(f"model unavailable after {cfg.retries + 1} attempts: {last.__class__.__name__}: {last}")


def _assistant_message(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.function.name, "arguments": tc.function.arguments},
            }
            for tc in message.tool_calls
        ],
    }


def run_session(
    engine: Engine,
    ai: openai.OpenAI,
    endpoint_id: str,
    clock: Callable[[], datetime],
    cfg: PlannerConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SessionRecord:
    """Analyse one endpoint and store the session; never raises for model problems."""
    started = time.monotonic()
    now = clock()
    with engine.connect() as conn:
        wanted = wanted_for(conn, endpoint_id)  # an upstream's result asked for this session
    context, row = build_context(engine, endpoint_id, now, wanted=wanted)
    record = SessionRecord(
        endpoint_id=endpoint_id,
        analyzed_at=now,
        status="success",
        mode="shadow" if cfg.shadow else "active",
        model=cfg.model,
        endpoint_failure_count=row.failure_count,
    )
    used = monthly_tokens(engine, row.tenant_id, now)
    budget = cfg.budget_for(tenant_tier(engine, row.tenant_id))
    if used >= budget:
        record.status = "skipped"
        record.warnings.append(f"monthly token budget reached ({used} of {budget} tokens this month)")
        record.next_analysis_at = now + timedelta(hours=6)
        record.duration_ms = int((time.monotonic() - started) * 1000)
        save_session(engine, record)
        AI_SESSIONS.labels(record.status).inc()
        return record

    tools = ToolBox(
        engine=engine,
        tenant_id=row.tenant_id,
        endpoint_id=endpoint_id,
        job_id=row.job_id,
        clock=clock,
        shadow=cfg.shadow,
        baseline_interval_ms=row.baseline_interval_ms,
        chain=list(wanted["chain"]) if wanted is not None else [],
        session_id=record.id,
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": context},
    ]
    for step in range(cfg.max_steps):
        final = step == cfg.max_steps - 1
        choice: Any = {"type": "function", "function": {"name": "submit_analysis"}} if final else "required"
        try:
            response = _complete(ai, cfg, messages, choice, sleep)
        except ModelFailure as exc:
            record.status = "failed"
            record.error_message = str(exc)
            break
        usage = getattr(response, "usage", None)
        record.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        record.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        answer = response.choices[0]
        if answer.finish_reason == "length":
            record.warnings.append(f"step {step + 1}: output truncated (finish_reason=length)")
        message = answer.message
        if not message.tool_calls:
            record.warnings.append(f"step {step + 1}: answer without a tool call")
            messages.append({"role": "assistant", "content": message.content or ""})
            messages.append({"role": "user", "content": "Use the tools; finish with submit_analysis."})
        else:
            messages.append(_assistant_message(message))
            for call in message.tool_calls:
                result = _run_tool(tools, call, record)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": truncate(result, 4000)})
        if tools.submission is not None:
            break
        if record.prompt_tokens + record.completion_tokens >= cfg.session_token_cap:
            record.warnings.append(
                f"session token cap reached ({record.prompt_tokens + record.completion_tokens} >= "
                f"{cfg.session_token_cap})"
            )
            break

    if tools.submission is not None:
        s = tools.submission
        record.reasoning, record.actions_taken, record.confidence = s.reasoning, s.actions_taken, s.confidence
        record.next_analysis_at = clock() + timedelta(milliseconds=s.next_analysis_in_ms)
    elif record.status == "failed":
        record.next_analysis_at = clock() + FAILED_RETRY_AFTER
    else:
        record.warnings.append("session ended without submit_analysis")
        record.next_analysis_at = clock() + NO_SUBMIT_RETRY_AFTER
    if cfg.shadow and tools.shadow_actions:
        record.actions_taken = (record.actions_taken or []) + [
            f"[shadow, not applied] {json.dumps(a)}" for a in tools.shadow_actions
        ]
    record.duration_ms = int((time.monotonic() - started) * 1000)
    save_session(engine, record)
    AI_SESSIONS.labels(record.status).inc()
    AI_TOKENS.labels("prompt").inc(record.prompt_tokens)
    AI_TOKENS.labels("completion").inc(record.completion_tokens)
    return record


def _run_tool(tools: ToolBox, call: Any, record: SessionRecord) -> Any:
    name = call.function.name
    try:
        args = json.loads(call.function.arguments or "{}")
        if not isinstance(args, dict):
            raise ValueError("arguments must be a JSON object")
    except ValueError as exc:
        args, result = (
            {"raw": truncate(call.function.arguments or "", 500)},
            {"error": f"arguments are not valid JSON: {exc}"},
        )
        record.tool_calls.append({"tool": name, "args": args, "result": truncate(result, 1000)})
        return result
    try:
        result = tools.call(name, args)
    except ToolError as exc:
        result = {"error": str(exc)}
    record.tool_calls.append({"tool": name, "args": args, "result": truncate(result, 1000)})
    return result

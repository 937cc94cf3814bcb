"""Run the planner for one endpoint at most once at a time, whatever the number of analysis workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import openai
from redis import Redis
from sqlalchemy import Engine, func, select

from cronicorn.core.settings import Settings
from cronicorn.core.tiers import parse_tiers
from cronicorn.planner.session_loop import PlannerConfig, run_session
from cronicorn.redis.keys import analysis_lock
from cronicorn.store.tables import ai_analysis_sessions


def planner_config(settings: Settings) -> PlannerConfig:
    return PlannerConfig(
        model=settings.ai_model,
        temperature=settings.ai_temperature,
        max_steps=settings.ai_max_steps,
        session_token_cap=settings.ai_session_token_cap,
        monthly_token_budget=settings.ai_monthly_token_budget,
        shadow=settings.ai_mode == "shadow",
        retries=settings.ai_retries,
        tiers=parse_tiers(settings.tiers_json),
    )


def openai_client(settings: Settings) -> openai.OpenAI | None:
    """The model client, or None when no key is set (the planner is off)."""
    if not settings.openai_api_key:
        return None
    # Our loop owns retries and backoff; the client must not retry on its own.
    return openai.OpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        max_retries=0,
        timeout=settings.ai_timeout_s,
    )


@dataclass(frozen=True)
class Analyst:
    engine: Engine
    redis: Redis
    ai: openai.OpenAI | None
    clock: Callable[[], datetime]
    config: PlannerConfig
    min_spacing_s: float
    timeout_s: float = 60.0

    def analyze(self, endpoint_id: str) -> str:
        """One session for the endpoint, or the reason there was none."""
        if self.ai is None:
            return "planner-off"
        # The lock outlives the longest possible session, so a second worker never overlaps.
        ttl = self.config.max_steps * (self.timeout_s * (self.config.retries + 1) + 10)
        lock = self.redis.lock(analysis_lock(endpoint_id), timeout=ttl, blocking=False, thread_local=False)
        if not lock.acquire():
            return "busy"
        try:
            if self._analysed_recently(endpoint_id):
                return "too-soon"  # a duplicate request (two beats, a redelivery) finds it done
            return run_session(self.engine, self.ai, endpoint_id, self.clock, self.config).status
        finally:
            lock.release()

    def _analysed_recently(self, endpoint_id: str) -> bool:
        since = self.clock() - timedelta(seconds=self.min_spacing_s)
        query = select(func.max(ai_analysis_sessions.c.analyzed_at)).where(
            ai_analysis_sessions.c.endpoint_id == endpoint_id
        )
        with self.engine.connect() as conn:
            last = conn.execute(query).scalar()
        return last is not None and last > since

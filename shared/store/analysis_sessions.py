"""Stored analysis sessions: write one, read them back, count a tenant's tokens this month."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.core.tiers import month_start
from cronicorn.store.analysis_wanted import served
from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs


@dataclass
class SessionRecord:
    endpoint_id: str
    analyzed_at: datetime
    status: str  # success | failed | skipped
    mode: str  # active | shadow
    model: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str | None = None
    actions_taken: list[str] | None = None
    confidence: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int | None = None
    next_analysis_at: datetime | None = None
    endpoint_failure_count: int = 0
    warnings: list[str] = field(default_factory=list)
    error_message: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def save_session(engine: Engine, record: SessionRecord) -> None:
    """Store the session and move the endpoint's next analysis, in one transaction."""
    with engine.begin() as conn:
        conn.execute(ai_analysis_sessions.insert().values(**asdict(record)))
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == record.endpoint_id)
            .values(
                ai_next_analysis_at=record.next_analysis_at,
                ai_analyzed_failure_count=record.endpoint_failure_count,
            )
        )
        served(conn, record.endpoint_id, record.analyzed_at)


def monthly_tokens(engine: Engine, tenant_id: str, now: datetime) -> int:
    """Tokens the tenant's sessions used since the start of this calendar month (UTC)."""
    query = (
        select(
            func.coalesce(func.sum(ai_analysis_sessions.c.prompt_tokens + ai_analysis_sessions.c.completion_tokens), 0)
        )
        .join(endpoints, endpoints.c.id == ai_analysis_sessions.c.endpoint_id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(jobs.c.tenant_id == tenant_id, ai_analysis_sessions.c.analyzed_at >= month_start(now))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def list_sessions(
    engine: Engine, tenant_id: str, *, endpoint_id: str | None = None, limit: int = 20, offset: int = 0
) -> list[dict[str, Any]]:
    if not 1 <= limit <= 1000:
        raise InvalidInput.one("limit", "must be between 1 and 1000")
    query = (
        select(ai_analysis_sessions, endpoints.c.name.label("endpoint_name"))
        .join(endpoints, endpoints.c.id == ai_analysis_sessions.c.endpoint_id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(jobs.c.tenant_id == tenant_id)
    )
    if endpoint_id is not None:
        query = query.where(ai_analysis_sessions.c.endpoint_id == endpoint_id)
    query = query.order_by(ai_analysis_sessions.c.analyzed_at.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def get_session(engine: Engine, tenant_id: str, session_id: str) -> dict[str, Any]:
    query = (
        select(ai_analysis_sessions, endpoints.c.name.label("endpoint_name"))
        .join(endpoints, endpoints.c.id == ai_analysis_sessions.c.endpoint_id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(jobs.c.tenant_id == tenant_id, ai_analysis_sessions.c.id == session_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound("session", session_id)
    return dict(row._mapping)

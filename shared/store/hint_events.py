"""Every steering decision (hint, pause, resume, clear) as it was made: by whom, which way, until when.

The endpoint's own columns hold only the hint in force; thrash and contradictions need the sequence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from cronicorn.core.coordination import Decision, Direction
from cronicorn.store.tables import hint_events


def record_decision(
    conn: Connection,
    endpoint_id: str,
    now: datetime,
    *,
    actor: str,
    action: str,
    direction: Direction,
    interval_ms: int | None = None,
    expires_at: datetime | None = None,
    reason: str | None = None,
    chain: Sequence[str] | None = None,
    session_id: str | None = None,
) -> str:
    """Record one decision; its id."""
    decision_id = str(uuid.uuid4())
    conn.execute(
        hint_events.insert().values(
            id=decision_id,
            endpoint_id=endpoint_id,
            at=now,
            actor=actor,
            action=action,
            direction=direction.value,
            interval_ms=interval_ms,
            expires_at=expires_at,
            reason=reason,
            chain=list(chain) if chain else None,
            session_id=session_id,
        )
    )
    return decision_id


def _decision(row: object) -> Decision:
    chain = getattr(row, "chain", None) or []
    return Decision(
        endpoint_id=row.endpoint_id,  # type: ignore[attr-defined]
        at=row.at,  # type: ignore[attr-defined]
        actor=row.actor,  # type: ignore[attr-defined]
        direction=Direction(row.direction),  # type: ignore[attr-defined]
        expires_at=row.expires_at,  # type: ignore[attr-defined]
        cause=chain[-1] if chain else None,
        session=row.session_id,  # type: ignore[attr-defined]
    )


def latest_decisions(conn: Connection, endpoint_ids: Sequence[str]) -> dict[str, Decision]:
    """Each endpoint's latest decision (an index lookup per endpoint)."""
    found: dict[str, Decision] = {}
    for endpoint_id in sorted(set(endpoint_ids)):
        row = conn.execute(
            select(hint_events)
            .where(hint_events.c.endpoint_id == endpoint_id)
            .order_by(hint_events.c.at.desc(), hint_events.c.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            found[endpoint_id] = _decision(row)
    return found


def ai_decisions_since(conn: Connection, endpoint_id: str, since: datetime) -> list[Decision]:
    query = (
        select(hint_events)
        .where(hint_events.c.endpoint_id == endpoint_id, hint_events.c.at >= since, hint_events.c.actor == "ai")
        .order_by(hint_events.c.at)
    )
    return [_decision(r) for r in conn.execute(query)]


def latest_ai_chain(conn: Connection, endpoint_id: str) -> list[str]:
    """The cascade that led the AI to its latest decision on the endpoint ([] if none, or not reactive)."""
    at = (
        select(func.max(hint_events.c.at))
        .where(hint_events.c.endpoint_id == endpoint_id, hint_events.c.actor == "ai")
        .scalar_subquery()
    )
    chain = conn.execute(
        select(hint_events.c.chain).where(hint_events.c.endpoint_id == endpoint_id, hint_events.c.at == at).limit(1)
    ).scalar()
    return list(chain or [])

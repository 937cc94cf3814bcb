"""The notification outbox: written where the state changed, taken for delivery, its outcome kept.

A notification is a row written in the transaction that changed the endpoint's state (the run's
finish, the AI's pause), so a worker dying after the commit loses nothing and a rolled-back change
notifies nobody. It is unique per (channel, event, cause): a cause is one run or one pause, so each
state change is told once per channel. The delivery task takes due rows with a short lease (a
conditional UPDATE, so two workers never send one notification), sends, and records the outcome:
sent, a retry planned with backoff, or failed after the last attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from cronicorn.core.notifications import (
    DELIVERY_LEASE_S,
    MAX_DELIVERY_ATTEMPTS,
    DeliveryStatus,
    NotifyEvent,
    delivery_backoff,
    run_events,
)
from cronicorn.store.tables import auto_pause_policies, notification_channels, notifications


@dataclass(frozen=True)
class RunChange:
    """What one finished run did to its endpoint's failure streak (read in the finish transaction)."""

    endpoint_id: str
    endpoint_name: str
    job_id: str
    tenant_id: str
    run_id: str
    success: bool
    failures_before: int
    failures_after: int
    error: str | None


@dataclass(frozen=True)
class Channel:
    id: str
    tenant_id: str
    job_id: str | None
    name: str
    kind: str
    target: str
    secret: str | None
    events: list[str]
    failure_threshold: int


@dataclass(frozen=True)
class Due:
    """A notification taken for delivery, with its channel."""

    id: str
    event: str
    payload: dict[str, Any]
    attempts: int  # this delivery's attempt number (1 for the first)
    channel: Channel


def _channel(row: Any) -> Channel:
    m = row._mapping
    return Channel(**{name: m[name] for name in Channel.__dataclass_fields__})


def channels_for(conn: Connection, tenant_ids: Sequence[str], job_ids: Sequence[str]) -> list[Channel]:
    """The channels of these tenants that cover these jobs (a tenant-wide channel covers them all)."""
    rows = conn.execute(_CHANNELS, {"tenant_ids": sorted(set(tenant_ids)), "job_ids": sorted(set(job_ids))})
    return [_channel(r) for r in rows]


def auto_pause_counts(conn: Connection, endpoint_ids: Sequence[str], job_ids: Sequence[str]) -> dict[str, int]:
    """Each endpoint's or job's auto-pause count, by its id (an endpoint's own wins over its job's)."""
    rows = conn.execute(_AUTO_PAUSE_COUNTS, {"scope_ids": sorted(set(endpoint_ids) | set(job_ids))})
    return {r.scope_id: r.after_failures for r in rows}


# Built once: both are read in the finish of every run whose failure streak moved (building a
# statement and its cache key cost more CPU than executing it).
_CHANNELS = select(notification_channels).where(
    notification_channels.c.tenant_id.in_(bindparam("tenant_ids", expanding=True)),
    or_(
        notification_channels.c.job_id.is_(None),
        notification_channels.c.job_id.in_(bindparam("job_ids", expanding=True)),
    ),
)
_AUTO_PAUSE_COUNTS = select(auto_pause_policies.c.scope_id, auto_pause_policies.c.after_failures).where(
    auto_pause_policies.c.scope_id.in_(bindparam("scope_ids", expanding=True))
)


def auto_pause_after(counts: dict[str, int], endpoint_id: str, job_id: str) -> int | None:
    return counts.get(endpoint_id, counts.get(job_id))


def queue_run_notifications(
    conn: Connection, changes: Sequence[RunChange], auto_paused: set[str], now: datetime
) -> int:
    """In the finish transaction: one notification per channel per event these runs caused."""
    moved = [ch for ch in changes if ch.failures_before != ch.failures_after or ch.endpoint_id in auto_paused]
    if not moved:
        return 0
    channels = channels_for(conn, [ch.tenant_id for ch in moved], [ch.job_id for ch in moved])
    rows = []
    for ch in moved:
        for channel in channels:
            if channel.tenant_id != ch.tenant_id or channel.job_id not in (None, ch.job_id):
                continue
            events = run_events(
                success=ch.success,
                failures_before=ch.failures_before,
                failures_after=ch.failures_after,
                threshold=channel.failure_threshold,
            )
            if ch.endpoint_id in auto_paused:
                events.append(NotifyEvent.AUTO_PAUSED)
            payload = {
                "endpoint_id": ch.endpoint_id,
                "endpoint_name": ch.endpoint_name,
                "job_id": ch.job_id,
                "run_id": ch.run_id,
                "consecutive_failures": ch.failures_after,
                "error": ch.error,
            }
            rows += [
                _row(channel, ch.endpoint_id, e, ch.run_id, payload, now) for e in events if e.value in channel.events
            ]
    return _insert(conn, rows)


def queue_pause_notification(
    conn: Connection,
    *,
    tenant_id: str,
    job_id: str,
    endpoint_id: str,
    endpoint_name: str,
    event: NotifyEvent,
    source_id: str,
    until: datetime,
    reason: str | None,
    now: datetime,
) -> int:
    """In the pause's transaction: tell the channels that asked for this pause's event."""
    payload = {
        "endpoint_id": endpoint_id,
        "endpoint_name": endpoint_name,
        "job_id": job_id,
        "paused_until": until.isoformat(),
        "reason": reason,
    }
    rows = [
        _row(channel, endpoint_id, event, source_id, payload, now)
        for channel in channels_for(conn, [tenant_id], [job_id])
        if event.value in channel.events and channel.job_id in (None, job_id)
    ]
    return _insert(conn, rows)


def _row(
    channel: Channel, endpoint_id: str, event: NotifyEvent, source_id: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "channel_id": channel.id,
        "tenant_id": channel.tenant_id,
        "endpoint_id": endpoint_id,
        "event": event.value,
        "source_id": source_id,
        "payload": {"event": event.value, "at": now.isoformat(), "channel": channel.name, **payload},
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # The same cause told twice (a finish written again) adds nothing: once per state change.
    stmt = insert(notifications).on_conflict_do_nothing(index_elements=["channel_id", "event", "source_id"])
    conn.execute(stmt, sorted(rows, key=lambda r: (r["channel_id"], r["event"], r["source_id"])))
    return len(rows)


def take_due(engine: Engine, now: datetime, *, limit: int = 50) -> list[Due]:
    """Pending notifications due now, each leased to this caller (nobody else takes it meanwhile)."""
    n = notifications.c
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                select(n.id)
                .where(n.status == DeliveryStatus.PENDING.value, n.next_attempt_at <= now)
                .order_by(n.next_attempt_at)
                .limit(limit)
            ).scalars()
        )
    taken: list[Due] = []
    for nid in ids:
        with engine.begin() as conn:
            # Conditional: another worker that took it first leaves nothing to update.
            done = conn.execute(
                notifications.update()
                .where(n.id == nid, n.status == DeliveryStatus.PENDING.value, n.next_attempt_at <= now)
                .values(attempts=n.attempts + 1, next_attempt_at=now + timedelta(seconds=DELIVERY_LEASE_S))
            )
            if done.rowcount != 1:
                continue
            row = conn.execute(select(notifications).where(n.id == nid)).one()
            channel = _channel(
                conn.execute(select(notification_channels).where(notification_channels.c.id == row.channel_id)).one()
            )
            taken.append(Due(row.id, row.event, row.payload, row.attempts, channel))
    return taken


def record_delivery(
    engine: Engine, due: Due, now: datetime, *, error: str | None, permanent: bool = False
) -> DeliveryStatus:
    """Keep the outcome: sent, or a retry after backoff, or failed after the last attempt."""
    if error is None:
        values: dict[str, Any] = {"status": DeliveryStatus.SENT.value, "sent_at": now, "next_attempt_at": None}
    elif permanent or due.attempts >= MAX_DELIVERY_ATTEMPTS:
        values = {"status": DeliveryStatus.FAILED.value, "next_attempt_at": None}
    else:
        values = {"next_attempt_at": now + delivery_backoff(due.attempts)}
    if error is not None:
        values["last_error"] = error[:1000]
    with engine.begin() as conn:
        conn.execute(
            notifications.update()
            .where(and_(notifications.c.id == due.id, notifications.c.attempts == due.attempts))
            .values(**values)
        )
    return DeliveryStatus(values.get("status", DeliveryStatus.PENDING.value))

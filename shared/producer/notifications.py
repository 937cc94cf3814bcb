"""Notification channels, the notifications they were sent, and auto-pause policies, per tenant.

A channel covers one job or (without `job_id`) all of the tenant's jobs. A webhook channel's
secret is generated unless given, and returned only when the channel is created.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.core.notifications import ChannelKind
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.jobs import job_row
from cronicorn.producer.notification_specs import AutoPauseSpec, ChannelSpec
from cronicorn.producer.specs import parse
from cronicorn.producer.storable import check_ids
from cronicorn.store.tables import auto_pause_policies, notification_channels, notifications

MAX_CHANNELS_PER_TENANT = 100


@dataclass(frozen=True)
class NotificationChannel:
    id: str
    name: str
    kind: str
    target: str
    job_id: str | None
    events: list[str]
    failure_threshold: int
    created_at: datetime
    secret: str | None = None  # a webhook's, returned once: when the channel is created


@dataclass(frozen=True)
class Notification:
    id: str
    channel_id: str
    endpoint_id: str
    event: str
    status: str  # pending | sent | failed
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]


def _channel(row: Any, *, secret: str | None = None) -> NotificationChannel:
    return NotificationChannel(
        id=row.id,
        name=row.name,
        kind=row.kind,
        target=row.target,
        job_id=row.job_id,
        events=list(row.events),
        failure_threshold=row.failure_threshold,
        created_at=row.created_at,
        secret=secret,
    )


def add_channel(engine: Engine, tenant_id: str, now: datetime, fields: dict[str, Any]) -> NotificationChannel:
    spec = parse(ChannelSpec, fields)
    secret = spec.secret
    if spec.kind is ChannelKind.WEBHOOK and secret is None:
        secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if spec.job_id is not None:
            job_row(conn, tenant_id, spec.job_id)
        count = len(
            list(conn.execute(select(notification_channels.c.id).where(notification_channels.c.tenant_id == tenant_id)))
        )
        if count >= MAX_CHANNELS_PER_TENANT:
            raise InvalidInput.one("kind", f"a tenant may have at most {MAX_CHANNELS_PER_TENANT} channels")
        values = {
            "id": str(uuid.uuid4()),
            "tenant_id": tenant_id,
            "job_id": spec.job_id,
            "name": spec.name or f"{spec.kind.value} {spec.target}",
            "kind": spec.kind.value,
            "target": spec.target,
            "secret": secret,
            "events": spec.events,
            "failure_threshold": spec.failure_threshold,
            "created_at": now,
        }
        conn.execute(notification_channels.insert().values(**values))
        row = conn.execute(select(notification_channels).where(notification_channels.c.id == values["id"])).one()
    return _channel(row, secret=secret)


def list_channels(engine: Engine, tenant_id: str, *, job_id: str | None = None) -> list[NotificationChannel]:
    check_ids(job_id=job_id)
    c = notification_channels.c
    query = select(notification_channels).where(c.tenant_id == tenant_id).order_by(c.created_at, c.id)
    if job_id is not None:
        query = query.where(c.job_id == job_id)
    with engine.connect() as conn:
        return [_channel(r) for r in conn.execute(query)]


def remove_channel(engine: Engine, tenant_id: str, channel_id: str) -> None:
    check_ids(channel_id=channel_id)
    c = notification_channels.c
    with engine.begin() as conn:
        # Its notifications go with it (ON DELETE CASCADE; SQLite enforces it too, see store.engine).
        conn.execute(
            notifications.delete().where(
                notifications.c.channel_id == channel_id, notifications.c.tenant_id == tenant_id
            )
        )
        if (
            conn.execute(notification_channels.delete().where(c.id == channel_id, c.tenant_id == tenant_id)).rowcount
            != 1
        ):
            raise NotFound("notification channel", channel_id)


def list_notifications(
    engine: Engine,
    tenant_id: str,
    *,
    endpoint_id: str | None = None,
    channel_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Notification]:
    check_ids(endpoint_id=endpoint_id, channel_id=channel_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput.one("limit", "must be a whole number from 1 to 1000")
    if status is not None and status not in ("pending", "sent", "failed"):
        raise InvalidInput.one("status", "must be pending, sent or failed")
    n = notifications.c
    query = select(notifications).where(n.tenant_id == tenant_id).order_by(n.created_at.desc(), n.id).limit(limit)
    if endpoint_id is not None:
        query = query.where(n.endpoint_id == endpoint_id)
    if channel_id is not None:
        query = query.where(n.channel_id == channel_id)
    if status is not None:
        query = query.where(n.status == status)
    with engine.connect() as conn:
        return [
            Notification(
                id=r.id,
                channel_id=r.channel_id,
                endpoint_id=r.endpoint_id,
                event=r.event,
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                created_at=r.created_at,
                sent_at=r.sent_at,
                payload=r.payload,
            )
            for r in conn.execute(query)
        ]


def set_auto_pause(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    *,
    endpoint_id: str | None = None,
    job_id: str | None = None,
    after_failures: int | None,
) -> int | None:
    """Set (or with None, remove) the auto-pause policy of one endpoint or one job."""
    if (endpoint_id is None) == (job_id is None):
        raise InvalidInput.one("endpoint_id", "give exactly one of endpoint_id or job_id")
    spec = parse(AutoPauseSpec, {"after_failures": after_failures})
    with engine.begin() as conn:
        scope_id = endpoint_id or job_id or ""
        if endpoint_id is not None:
            endpoint_row(conn, tenant_id, endpoint_id)
        else:
            job_row(conn, tenant_id, scope_id)
        conn.execute(auto_pause_policies.delete().where(auto_pause_policies.c.scope_id == scope_id))
        if spec.after_failures is not None:
            conn.execute(
                auto_pause_policies.insert().values(
                    scope_id=scope_id,
                    tenant_id=tenant_id,
                    scope="endpoint" if endpoint_id else "job",
                    after_failures=spec.after_failures,
                    created_at=now,
                )
            )
    return spec.after_failures


def get_auto_pause(engine: Engine, tenant_id: str, scope_id: str) -> int | None:
    check_ids(scope_id=scope_id)
    p = auto_pause_policies.c
    with engine.connect() as conn:
        value = conn.execute(select(p.after_failures).where(p.scope_id == scope_id, p.tenant_id == tenant_id)).scalar()
    return int(value) if value is not None else None

"""Tenants and their API keys: keys are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.core.tiers import DEFAULT_TIERS, UNLIMITED, Tier, check_tier_name
from cronicorn.store.signing_keys import ensure_signing_key
from cronicorn.store.tables import api_keys, tenants

KEY_PREFIX = "ck_"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_tenant(
    engine: Engine,
    now: datetime,
    tenant_id: str,
    name: str | None = None,
    tier: str = UNLIMITED,
    tiers: Mapping[str, Tier] = DEFAULT_TIERS,
) -> dict[str, Any]:
    """A new tenant with its own signing key, whose secret (`signing_secret`) is returned here only.

    Without a tier it is not limited (a tenant of one's own installation); `tiers` are the names allowed.

    `signing_secret` is None when the tenant already signed calls before it was created (a tenant
    known by its jobs): it keeps the key it has.
    """
    if not TENANT_ID.match(tenant_id):
        raise InvalidInput.one("tenant_id", "use 1-64 lower-case letters, digits, '-' or '_'")
    check_tier_name(tier, tiers)
    try:
        with engine.begin() as conn:
            conn.execute(tenants.insert().values(id=tenant_id, name=name or tenant_id, tier=tier, created_at=now))
    except IntegrityError:
        raise Conflict(f"tenant {tenant_id!r} already exists") from None
    # Its own key from the start: it never signs with a key another tenant's receivers trust.
    # Were this step lost (a crash right here), its first call would create the key instead.
    secret = ensure_signing_key(engine, now, tenant_id)
    return {"id": tenant_id, "name": name or tenant_id, "tier": tier, "created_at": now, "signing_secret": secret}


def set_tenant_tier(
    engine: Engine, tenant_id: str, tier: str, tiers: Mapping[str, Tier] = DEFAULT_TIERS
) -> dict[str, Any]:
    """Move a tenant to another tier; its limits apply from its next write and its next claim."""
    check_tier_name(tier, tiers)
    with engine.begin() as conn:
        if conn.execute(tenants.update().where(tenants.c.id == tenant_id).values(tier=tier)).rowcount == 0:
            raise NotFound("tenant", tenant_id)
        return dict(conn.execute(select(tenants).where(tenants.c.id == tenant_id)).one()._mapping)


def list_tenants(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tenants).order_by(tenants.c.created_at))]


def create_key(engine: Engine, now: datetime, tenant_id: str, name: str) -> tuple[ApiKey, str]:
    """A new key for the tenant; the plain key is returned here and never again."""
    with engine.connect() as conn:
        if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            raise NotFound("tenant", tenant_id)
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=name or "key",
        prefix=plain[:10],
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    with engine.begin() as conn:
        conn.execute(api_keys.insert().values(key_hash=_hash(plain), **key.__dict__))
    return key, plain


def list_keys(engine: Engine, tenant_id: str) -> list[ApiKey]:
    query = select(api_keys).where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.created_at)
    with engine.connect() as conn:
        return [ApiKey(**{k: v for k, v in r._mapping.items() if k != "key_hash"}) for r in conn.execute(query)]


def revoke_key(engine: Engine, now: datetime, key_id: str) -> None:
    with engine.begin() as conn:
        result = conn.execute(
            api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
        )
    if result.rowcount == 0:
        raise NotFound("api key", key_id)


def resolve_key(engine: Engine, plain: str) -> tuple[str, str, str] | None:
    """(tenant id, key id, tier) of a presented key, or None when unknown or revoked."""
    digest = _hash(plain)
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.tenant_id, api_keys.c.id, api_keys.c.key_hash, api_keys.c.revoked_at, tenants.c.tier)
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.key_hash == digest)
        ).first()
    if row is None or row.revoked_at is not None or not secrets.compare_digest(row.key_hash, digest):
        return None
    return str(row.tenant_id), str(row.id), str(row.tier)


def tenant_tier(engine: Engine, tenant_id: str) -> str | None:
    with engine.connect() as conn:
        tier = conn.execute(select(tenants.c.tier).where(tenants.c.id == tenant_id)).scalar()
    return str(tier) if tier is not None else None


def live_key(engine: Engine, key_id: str) -> tuple[str, str] | None:
    """(tenant id, tier) of the key with this id while it is not revoked, else None (a session ends with its key)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.tenant_id, api_keys.c.revoked_at, tenants.c.tier)
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.id == key_id)
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    return str(row.tenant_id), str(row.tier)

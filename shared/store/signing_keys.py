"""Per-tenant request signing keys: rotate with a grace period in which old and new both sign.

During the grace period every request carries one signature per live key
(`X-Cronicorn-Signature: sha256=<new>,sha256=<old>`), so a receiver that still knows only the
old key, or already only the new one, accepts it: nobody drops a request while rolling over.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select

from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.store.tables import signing_keys, tenants


@dataclass(frozen=True)
class SigningKeyInfo:
    id: str
    tenant_id: str
    created_at: datetime
    retires_at: datetime | None


def rotate_signing_key(
    engine: Engine, now: datetime, tenant_id: str, *, grace: timedelta
) -> tuple[SigningKeyInfo, str]:
    """A new current key for the tenant (returned once); current keys retire after `grace`."""
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise InvalidInput.one("grace", "must be between 0 and 30 days")
    secret = generate_key()
    info = SigningKeyInfo(id=str(uuid.uuid4()), tenant_id=tenant_id, created_at=now, retires_at=None)
    with engine.begin() as conn:
        if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            raise NotFound("tenant", tenant_id)
        conn.execute(
            signing_keys.update()
            .where(
                signing_keys.c.tenant_id == tenant_id,
                or_(signing_keys.c.retires_at.is_(None), signing_keys.c.retires_at > now + grace),
            )
            .values(retires_at=now + grace)
        )
        conn.execute(signing_keys.insert().values(secret=secret, **info.__dict__))
    return info, secret


def list_signing_keys(engine: Engine, tenant_id: str) -> list[SigningKeyInfo]:
    query = (
        select(signing_keys.c.id, signing_keys.c.tenant_id, signing_keys.c.created_at, signing_keys.c.retires_at)
        .where(signing_keys.c.tenant_id == tenant_id)
        .order_by(signing_keys.c.created_at.desc())
    )
    with engine.connect() as conn:
        return [SigningKeyInfo(**r._mapping) for r in conn.execute(query)]


def live_secrets(engine: Engine, tenant_id: str, now: datetime) -> list[bytes]:
    """The tenant's keys that sign now, newest first (empty: the installation key signs)."""
    query = (
        select(signing_keys.c.secret)
        .where(
            signing_keys.c.tenant_id == tenant_id,
            or_(signing_keys.c.retires_at.is_(None), signing_keys.c.retires_at > now),
        )
        .order_by(signing_keys.c.created_at.desc())
    )
    with engine.connect() as conn:
        return [str(s).encode() for s in conn.execute(query).scalars()]


class KeyRing:
    """Live signing keys per tenant, cached briefly so a run costs no extra query."""

    def __init__(
        self, engine: Engine, installation_key: bytes, clock: Callable[[], datetime], ttl_s: float = 10.0
    ) -> None:
        self.engine = engine
        self.installation_key = installation_key
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, tuple[bytes, ...]]] = {}
        self._lock = threading.Lock()

    def keys_for(self, tenant_id: str) -> tuple[bytes, ...]:
        with self._lock:
            hit = self._cache.get(tenant_id)
            if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]
        keys = tuple(live_secrets(self.engine, tenant_id, self.clock())) or (self.installation_key,)
        with self._lock:
            self._cache[tenant_id] = (time.monotonic(), keys)
        return keys


def generate_key() -> str:
    """A new random signing key (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)

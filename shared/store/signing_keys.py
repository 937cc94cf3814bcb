"""Per-tenant request signing keys: every tenant signs with its own, rotated with a grace period.

A tenant gets its first key when it is created (`create_tenant` shows the secret once) or, for a
tenant that exists only through its jobs (the embedded mode's "default") or that predates
per-tenant keys, on its first signed call. No two tenants ever share a key, so a receiver that
trusts one tenant's key accepts no other tenant's calls.

During a rotation's grace period every request carries one signature per live key
(`X-Cronicorn-Signature: v1=<new>,v1=<old>`), so a receiver that still knows only the
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

from sqlalchemy import Connection, Engine, or_, select
from sqlalchemy.exc import IntegrityError

from cronicorn.core.constants import DEFAULT_TENANT_ID, MAX_SIGNING_KEY_GRACE_DAYS
from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.store.tables import jobs, signing_keys, tenants

# A tenant's first key has an id derived from the tenant: two processes creating it at the same
# moment collide on the primary key instead of giving the tenant two "first" keys.
_FIRST_KEY_NAMESPACE = uuid.UUID("5b0d8f0e-6a43-4e3f-9a55-3c1c0f6f1a7e")


@dataclass(frozen=True)
class SigningKeyInfo:
    id: str
    tenant_id: str
    created_at: datetime
    retires_at: datetime | None


def first_key_id(tenant_id: str) -> str:
    return str(uuid.uuid5(_FIRST_KEY_NAMESPACE, tenant_id))


def ensure_signing_key(engine: Engine, now: datetime, tenant_id: str, *, secret: str | None = None) -> str | None:
    """Give the tenant a first key unless it has a live one: the new secret, or None when it had a key.

    `secret` adopts a known value instead of a random one (the default tenant keeps the
    installation's key, so an embedded installation's receivers go on verifying).
    """
    if _live(engine, tenant_id, now):
        return None
    new = secret or generate_key()
    try:
        with engine.begin() as conn:
            conn.execute(
                signing_keys.insert().values(
                    id=first_key_id(tenant_id), tenant_id=tenant_id, secret=new, created_at=now, retires_at=None
                )
            )
    except IntegrityError:
        # Another process created the first key at the same moment: use theirs.
        if _live(engine, tenant_id, now):
            return None
        # The first key was rotated out long ago and nothing replaced it: a fresh key, fresh id.
        with engine.begin() as conn:
            conn.execute(
                signing_keys.insert().values(
                    id=str(uuid.uuid4()), tenant_id=tenant_id, secret=new, created_at=now, retires_at=None
                )
            )
    return new


def rotate_signing_key(
    engine: Engine, now: datetime, tenant_id: str, *, grace: timedelta
) -> tuple[SigningKeyInfo, str]:
    """A new current key for the tenant (returned once); current keys retire after `grace`."""
    if grace < timedelta(0) or grace > timedelta(days=MAX_SIGNING_KEY_GRACE_DAYS):
        raise InvalidInput.one("grace", f"must be between 0 and {MAX_SIGNING_KEY_GRACE_DAYS} days")
    secret = generate_key()
    info = SigningKeyInfo(id=str(uuid.uuid4()), tenant_id=tenant_id, created_at=now, retires_at=None)
    with engine.begin() as conn:
        if not _known_tenant(conn, tenant_id):
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
        .order_by(signing_keys.c.created_at.desc(), signing_keys.c.id)
    )
    with engine.connect() as conn:
        return [SigningKeyInfo(**r._mapping) for r in conn.execute(query)]


def live_secrets(engine: Engine, tenant_id: str, now: datetime) -> list[bytes]:
    """The tenant's keys that sign now, newest first."""
    with engine.connect() as conn:
        return _live(conn, tenant_id, now)


def _live(db: Engine | Connection, tenant_id: str, now: datetime) -> list[bytes]:
    query = (
        select(signing_keys.c.secret)
        .where(
            signing_keys.c.tenant_id == tenant_id,
            or_(signing_keys.c.retires_at.is_(None), signing_keys.c.retires_at > now),
        )
        .order_by(signing_keys.c.created_at.desc(), signing_keys.c.id)
    )
    if isinstance(db, Engine):
        with db.connect() as conn:
            return [str(s).encode() for s in conn.execute(query).scalars()]
    return [str(s).encode() for s in db.execute(query).scalars()]


def _known_tenant(conn: Connection, tenant_id: str) -> bool:
    """A created tenant, or one that exists through its jobs or keys (the embedded mode's default)."""
    for column in (tenants.c.id, jobs.c.tenant_id, signing_keys.c.tenant_id):
        if conn.execute(select(column).where(column == tenant_id).limit(1)).first() is not None:
            return True
    return False


class KeyRing:
    """Live signing keys per tenant, cached briefly so a run costs no extra query.

    `installation_key` becomes the default tenant's first key (and only its): an embedded
    installation keeps the key its receivers know, and no other tenant ever signs with it.
    """

    def __init__(
        self, engine: Engine, installation_key: bytes, clock: Callable[[], datetime], ttl_s: float = 10.0
    ) -> None:
        self.engine = engine
        self.installation_key = installation_key
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, tuple[bytes, ...]]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def keys_for(self, tenant_id: str) -> tuple[bytes, ...]:
        hit = self._fresh(tenant_id)
        if hit is not None:
            return hit
        # One load per tenant at a time: a batch's calls all start together, and twenty threads
        # missing the cache at once would be twenty queries (and connections) for one answer.
        with self._lock:
            loading = self._loading.setdefault(tenant_id, threading.Lock())
        with loading:
            hit = self._fresh(tenant_id)
            return hit if hit is not None else self._load(tenant_id)

    def _fresh(self, tenant_id: str) -> tuple[bytes, ...] | None:
        with self._lock:
            hit = self._cache.get(tenant_id)
        return hit[1] if hit is not None and time.monotonic() - hit[0] < self.ttl_s else None

    def _load(self, tenant_id: str) -> tuple[bytes, ...]:
        now = self.clock()
        keys = tuple(live_secrets(self.engine, tenant_id, now))
        if not keys:
            # The tenant's first signed call (it exists only through its jobs, or predates
            # per-tenant keys): it gets its own key now, never a shared one.
            adopted = self.installation_key.decode() if tenant_id == DEFAULT_TENANT_ID else None
            ensure_signing_key(self.engine, now, tenant_id, secret=adopted)
            keys = tuple(live_secrets(self.engine, tenant_id, now))
        with self._lock:
            self._cache[tenant_id] = (time.monotonic(), keys)
        return keys


def generate_key() -> str:
    """A new random signing key (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)

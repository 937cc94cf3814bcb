"""The key `cronicorn up` signs its own dashboard in with: the default tenant's, kept in the home folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from cronicorn.core.constants import DEFAULT_TENANT_ID
from cronicorn.core.errors import Conflict
from cronicorn.store.signing_keys import ensure_signing_key
from cronicorn.store.tenants import create_key, create_tenant, resolve_key

KEY_FILE = "dashboard.key"


def dashboard_key(engine: Engine, home: Path, installation_key: bytes, now: datetime) -> str:
    """The default tenant's dashboard key from `home`, made (once) when missing or revoked.

    The embedded default tenant exists only through its jobs; giving it a tenants row must not change
    how it signs, so it first adopts the installation's key (as the key ring would on its first call).
    """
    path = home / KEY_FILE
    if path.exists():
        kept = path.read_text().strip()
        if kept and resolve_key(engine, kept) is not None:
            return kept
    ensure_signing_key(engine, now, DEFAULT_TENANT_ID, secret=installation_key.decode())
    try:
        create_tenant(engine, now, DEFAULT_TENANT_ID, name="default (embedded)", tier="enterprise")
    except Conflict:
        pass  # made by an earlier `up` or by hand: keep it
    _, plain = create_key(engine, now, DEFAULT_TENANT_ID, "dashboard (cronicorn up)")
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(plain + "\n")
    return plain

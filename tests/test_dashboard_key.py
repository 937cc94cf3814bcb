"""`cronicorn up`'s own dashboard key: made once for the default tenant, kept, and signing left alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from cronicorn.shell.dashboard_key import KEY_FILE, dashboard_key
from cronicorn.store.signing_keys import live_secrets
from cronicorn.store.tenants import list_keys, resolve_key, revoke_key

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
INSTALLATION_KEY = b"installation-key-the-receivers-know"


def test_up_makes_one_dashboard_key_for_the_default_tenant_and_reuses_it(sqlite_engine: Engine, tmp_path: Path) -> None:
    key = dashboard_key(sqlite_engine, tmp_path, INSTALLATION_KEY, NOW)
    assert resolve_key(sqlite_engine, key) is not None and resolve_key(sqlite_engine, key)[0] == "default"  # type: ignore[index]
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0, "only its owner reads the key file"
    assert dashboard_key(sqlite_engine, tmp_path, INSTALLATION_KEY, NOW) == key
    assert len(list_keys(sqlite_engine, "default")) == 1


def test_the_default_tenant_keeps_signing_with_the_installation_key(sqlite_engine: Engine, tmp_path: Path) -> None:
    dashboard_key(sqlite_engine, tmp_path, INSTALLATION_KEY, NOW)
    assert live_secrets(sqlite_engine, "default", NOW) == [INSTALLATION_KEY]


def test_a_revoked_dashboard_key_is_replaced(sqlite_engine: Engine, tmp_path: Path) -> None:
    first = dashboard_key(sqlite_engine, tmp_path, INSTALLATION_KEY, NOW)
    (key,) = list_keys(sqlite_engine, "default")
    revoke_key(sqlite_engine, NOW, key.id)
    second = dashboard_key(sqlite_engine, tmp_path, INSTALLATION_KEY, NOW)
    assert second != first and resolve_key(sqlite_engine, second) is not None

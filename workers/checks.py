"""Start-up checks: refuse to run with a schema or broker setting that would break promises."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from cronicorn.core.settings import Settings
from cronicorn.store.claims import lease_ms
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import is_current
from cronicorn.store.tables import endpoints

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    pass


def longest_lease_ms(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        if not is_current(engine):
            raise StartupError("database schema is not at the newest migration: run `cronicorn migrate` first")
        with engine.connect() as conn:
            timeout, max_exec = conn.execute(
                select(func.max(endpoints.c.timeout_ms), func.max(endpoints.c.max_execution_time_ms))
            ).one()
    finally:
        engine.dispose()
    return lease_ms(timeout or 0, max_exec or 0, settings.lease_grace_ms)


def check_worker_start(settings: Settings) -> None:
    """The broker must not redeliver a message while its attempt may still be running."""
    longest = longest_lease_ms(settings)
    if longest >= settings.visibility_timeout_s * 1000:
        raise StartupError(
            f"CRONICORN_VISIBILITY_TIMEOUT_S={settings.visibility_timeout_s} is shorter than the longest "
            f"endpoint lease ({longest} ms = timeout + CRONICORN_LEASE_GRACE_MS, or max_execution_time_ms): "
            "raise the visibility timeout above it"
        )
    log.info("visibility timeout %ss covers the longest lease %s ms", settings.visibility_timeout_s, longest)

"""A process frozen inside a transaction (SIGSTOP, a VM pause, a long GC) cannot hold rows for long."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from cronicorn.store.engine import IDLE_TRANSACTION_TIMEOUT_MS, make_engine
from cronicorn.store.replanning import lock_endpoint_rows
from cronicorn.store.tables import endpoints
from tests.factories import make_endpoint


def test_postgres_ends_a_session_idle_in_its_transaction_and_frees_its_row_locks(
    pg_engine: Engine, now: datetime
) -> None:
    ep = make_endpoint(pg_engine, now)
    frozen_engine = make_engine(pg_engine.url.render_as_string(hide_password=False))
    frozen = frozen_engine.connect()
    try:
        frozen.begin()
        frozen.execute(select(endpoints.c.id).where(endpoints.c.id == ep).with_for_update())
        # The "frozen" process now does nothing; another worker wants the same row.
        started = time.monotonic()
        with pg_engine.begin() as conn:
            assert ep in lock_endpoint_rows(conn, [ep])
        waited = time.monotonic() - started
        assert IDLE_TRANSACTION_TIMEOUT_MS / 1000 - 1 < waited < IDLE_TRANSACTION_TIMEOUT_MS / 1000 + 3
        # When it wakes up, its transaction is gone: it can write nothing with the locks it lost.
        with pytest.raises(DBAPIError):
            frozen.execute(select(endpoints.c.id).where(endpoints.c.id == ep))
    finally:
        frozen.invalidate()
        frozen.close()
        frozen_engine.dispose()

"""Worker start-up checks: refuse a visibility timeout shorter than the longest lease."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cronicorn.core.settings import Settings
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.workers.checks import StartupError, check_worker_start
from tests.factories import make_endpoint


def test_a_visibility_timeout_below_the_longest_lease_stops_the_worker(tmp_path: Path, now: datetime) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    upgrade(engine)
    make_endpoint(engine, now, timeout_ms=600_000, max_execution_time_ms=900_000)
    with pytest.raises(StartupError, match="CRONICORN_VISIBILITY_TIMEOUT_S=600"):
        check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url, "CRONICORN_VISIBILITY_TIMEOUT_S": "600"}))
    check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url, "CRONICORN_VISIBILITY_TIMEOUT_S": "7200"}))


def test_an_old_schema_stops_the_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(StartupError, match="cronicorn migrate"):
        check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url}))

"""The statements of every run are built once, not per batch, on both engines.

Building a SQLAlchemy statement (and its cache key) costs more CPU than executing it: a finish that
built its watcher query per call spent more CPU there than on the rest of the run, and execute
throughput fell to 0.6 of plain Celery. Caching the compiled SQL does not help with that: the
construct is built before the cache is consulted. So starting and finishing a batch of plain
endpoints (no dependency, no watcher, no channel) must construct no statement at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.sql import dml, selectable

from cronicorn.core.model import RunStatus
from cronicorn.store.attempts import Leases, Order, begin_attempts, renew_leases
from cronicorn.store.claims import claim_due
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.run_results import RunResult
from tests.factories import make_endpoint

STATEMENTS = (selectable.Select, dml.Insert, dml.Update, dml.Delete)


@contextmanager
def constructed() -> Iterator[Counter[str]]:
    """Count the statements constructed inside the block, by kind."""
    built: Counter[str] = Counter()
    originals = {cls: cls.__init__ for cls in STATEMENTS}

    def counting(cls: type) -> Any:
        original = originals[cls]

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            built[cls.__name__] += 1
            original(self, *args, **kwargs)

        return init

    try:
        for cls in STATEMENTS:
            cls.__init__ = counting(cls)  # type: ignore[misc]
        yield built
    finally:
        for cls, original in originals.items():
            cls.__init__ = original  # type: ignore[misc]


def result(at: datetime, ok: bool) -> RunResult:
    if ok:
        return RunResult(status=RunStatus.SUCCESS, finished_at=at, duration_ms=5, status_code=200, response_body={})
    return RunResult(
        status=RunStatus.FAILED, finished_at=at, status_code=500, error_kind="http_status", error_message="HTTP 500"
    )


def test_the_counter_sees_a_statement_built_per_call() -> None:
    """The check below could not fail if the counter missed constructions."""
    from sqlalchemy import select

    from cronicorn.store.tables import endpoints

    with constructed() as built:
        select(endpoints.c.id)
        endpoints.insert()
        endpoints.update()
    assert built == {"Select": 1, "Insert": 1, "Update": 1}


def cycle(engine: Engine, at: datetime, ok: bool) -> tuple[int, list[bool]]:
    """Claim what is due at `at`, start it as one batch, renew it once and finish it."""
    claims = claim_due(engine, at, limit=10)
    started = begin_attempts(
        engine, [Order(c.endpoint_id, c.fence) for c in claims], at, leases=Leases(), take_locks=set
    )
    renew_leases(engine, started.attempts, at + timedelta(seconds=1), 4000)
    return len(started.attempts), finish_attempts(
        engine, [(a, result(at + timedelta(seconds=2), ok)) for a in started.attempts]
    )


@pytest.mark.parametrize("ok", [True, False], ids=["success", "failure"])
def test_a_batch_starts_renews_and_finishes_without_building_a_statement(
    engine: Engine, now: datetime, ok: bool
) -> None:
    for i in range(5):
        make_endpoint(engine, now, name=f"e{i}")
    assert cycle(engine, now, ok) == (5, [True] * 5)  # warm: imports, first compilations
    with constructed() as built:
        measured = cycle(engine, now + timedelta(minutes=10), ok)
    assert measured == (5, [True] * 5)
    assert not built, f"statements built on the path of every run: {dict(built)}"

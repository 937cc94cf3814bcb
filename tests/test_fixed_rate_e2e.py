"""Fixed-rate intervals end to end: real beat, scheduler and execute workers, a target that takes 1 s.

Promise 8 of DESIGN.md seen from the target: a 2 s interval endpoint whose call takes 1 s is
called every 2.0 s, not every 3 s and more (the interval counted from the end of each call,
plus up to a tick), and the calls do not drift off their grid however many there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn.producer.client import Cronicorn
from cronicorn.store.tables import runs
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL
from tests.targets import Seen, TargetServer

pytestmark = pytest.mark.e2e

INTERVAL_S = 2.0
CALL_MS = 1000
SPACINGS = 6  # measured between 7 calls, after a first one that may start off the grid
TOLERANCE_S = 0.15  # on the mean spacing
MAX_OFFSET_S = 1.0  # how far one call may sit off its grid: dispatch lag, never a sum of them


@pytest.fixture(params=["sqlite", "postgres"])
def e2e_engine(request: pytest.FixtureRequest) -> tuple[Engine, str]:
    if request.param == "sqlite":
        engine = request.getfixturevalue("sqlite_engine")
        return engine, engine.url.render_as_string(hide_password=False)
    return request.getfixturevalue("pg_engine"), POSTGRES_URL


@pytest.fixture
def cluster(e2e_engine: tuple[Engine, str], redis_conn: redis.Redis, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(database_url=e2e_engine[1], redis_url=REDIS_URL, log_dir=tmp_path)
    yield c
    c.stop()


def calls(target: TargetServer, n: int) -> list[Seen] | None:
    seen = target.requests_to("/slow")
    return seen if len(seen) >= n else None


def test_a_2s_interval_with_1s_calls_is_called_every_2s_without_drift(
    cluster: Cluster, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    # Given a 2 s interval endpoint whose target takes 1 s to answer
    engine = e2e_engine[0]
    client = Cronicorn(engine)
    job = client.create_job(name="fixed-rate")
    ep = client.add_endpoint(
        job.id, name="slow", url=target.url(f"/slow?ms={CALL_MS}"), baseline_interval_ms=int(INTERVAL_S * 1000)
    )

    # When real beat and workers run it for eight calls
    cluster.start_all()
    try:
        wait_for(lambda: calls(target, SPACINGS + 2), 30 + (SPACINGS + 2) * INTERVAL_S, "eight calls")
    except AssertionError:
        print(cluster.logs())
        raise
    seen = calls(target, SPACINGS + 2)
    assert seen is not None
    starts = [s.at for s in seen[1 : SPACINGS + 2]]  # the first call may be a late catch-up

    # Then the calls start 2.0 s apart on average, measured at the target,
    spacings = [round(b - a, 3) for a, b in pairwise(starts)]
    mean = (starts[-1] - starts[0]) / SPACINGS
    print(f"fixed-rate e2e: mean spacing {mean:.3f} s over {SPACINGS}, spacings {spacings}")
    assert abs(mean - INTERVAL_S) <= TOLERANCE_S, spacings
    # and no call drifts off the grid of the first one: offsets stay within a dispatch lag.
    offsets = [round(t - starts[0] - k * INTERVAL_S, 3) for k, t in enumerate(starts)]
    assert all(abs(o) < MAX_OFFSET_S for o in offsets), offsets
    assert target.max_in_flight(key_prefix=ep.id) <= 1
    # The slots themselves are exactly one interval apart: the schedule has no drift at all.
    with engine.connect() as conn:
        slots = [
            r.scheduled_at
            for r in conn.execute(
                select(runs.c.scheduled_at).where(runs.c.endpoint_id == ep.id).order_by(runs.c.scheduled_at)
            )
        ]
    assert len(slots) >= SPACINGS + 2
    steps = {b - a for a, b in pairwise(slots[1 : SPACINGS + 2])}
    assert steps == {timedelta(seconds=INTERVAL_S)}, steps

"""The dashboard's endpoint table reads only the jobs a page covers: paging through it gives every matching
endpoint once, in job and name order, on both engines; the window arithmetic is table-driven."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.producer.client import Cronicorn
from cronicorn.store.endpoint_table import Slice, endpoint_table, window


@pytest.mark.parametrize(
    ("offset", "limit", "slices"),
    [
        (0, 2, [Slice("a", 0, 2)]),
        (0, 5, [Slice("a", 0, 3), Slice("b", 0, 2)]),
        (3, 2, [Slice("b", 0, 2)]),
        (4, 10, [Slice("b", 1, 3), Slice("c", 0, 1)]),
        (8, 5, []),  # past the end
    ],
)
def test_a_page_maps_onto_the_jobs_it_covers(offset: int, limit: int, slices: list[Slice]) -> None:
    counts = [("a", 3), ("b", 4), ("empty", 0), ("c", 1)]
    assert window(counts, offset, limit) == slices


def test_paging_through_the_table_gives_every_endpoint_once_in_job_and_name_order(engine: Engine) -> None:
    # Given jobs of different sizes (two with the same name) and endpoints named out of order
    cron = Cronicorn(engine, clock=utcnow)
    sizes = {"beta": 3, "alpha": 4, "gamma": 1, "alpha ": 0}
    for job_name, size in sizes.items():
        job = cron.create_job(name=job_name)
        for i in reversed(range(size)):
            cron.add_endpoint(job.id, name=f"ep{i}", url="https://x.test/a", baseline_interval_ms=60_000)
    twin = cron.create_job(name="beta")
    cron.add_endpoint(twin.id, name="ep0", url="https://x.test/b", baseline_interval_ms=60_000)
    full, total = endpoint_table(engine, "default", utcnow(), limit=100)
    assert total == 9 and len(full) == 9
    shown = [(r.job_name, r.endpoint["job_id"], r.endpoint["name"]) for r in full]
    assert shown == sorted(shown)  # by job name, each job's endpoints together (twins by id), then name
    # When it is read 2 at a time, the pages add up to the same list
    paged = []
    for offset in range(0, 10, 2):
        rows, counted = endpoint_table(engine, "default", utcnow(), limit=2, offset=offset)
        assert counted == 9
        paged += [r.endpoint["id"] for r in rows]
    assert paged == [r.endpoint["id"] for r in full]
    # And a search and a job filter count and page the same way
    rows, counted = endpoint_table(engine, "default", utcnow(), search="EP1", limit=1, offset=1)
    assert counted == 2 and rows[0].endpoint["name"] == "ep1" and rows[0].job_name == "beta"
    rows, counted = endpoint_table(engine, "default", utcnow(), job_id=full[0].endpoint["job_id"], limit=3, offset=2)
    assert counted == 4 and [r.endpoint["name"] for r in rows] == ["ep2", "ep3"]

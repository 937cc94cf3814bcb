"""Gauges read from the schedule at scrape time: due backlog, the next 5 minutes' load, tick age."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from cronicorn.store.tables import endpoints


class ScheduleCollector(Collector):
    """Read at scrape time from the schedule: due backlog, the next 5 minutes' load, tick age."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], tick_age: Callable[[], float | None]) -> None:
        self.engine = engine
        self.clock = clock
        self.tick_age = tick_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        with self.engine.connect() as conn:
            # Claimed endpoints carry their lease end in next_run_at: they are in flight, not due.
            idle = endpoints.c.claimed_slot.is_(None)
            backlog = conn.execute(
                select(func.count()).select_from(endpoints).where(idle, endpoints.c.next_run_at <= now)
            ).scalar_one()
            forecast = conn.execute(
                select(func.count())
                .select_from(endpoints)
                .where(idle, endpoints.c.next_run_at > now, endpoints.c.next_run_at <= now + timedelta(minutes=5))
            ).scalar_one()
        yield GaugeMetricFamily(
            "cronicorn_due_backlog", "Endpoints due now and not yet claimed or finished", value=int(backlog)
        )
        yield GaugeMetricFamily(
            "cronicorn_due_forecast_5m", "Endpoints whose next run falls in the next 5 minutes", value=int(forecast)
        )
        age = self.tick_age()
        if age is not None:
            yield GaugeMetricFamily(
                "cronicorn_tick_age_seconds", "Seconds since the last tick ran (dead-tick alarm)", value=age
            )

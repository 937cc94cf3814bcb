"""Gauges read at scrape time: due backlog and forecast, overdue age, failing and paused endpoints,
tick age, queue depths."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, and_, case, func, or_, select

from cronicorn.store.tables import endpoints, jobs

# Failure streaks reported (`cronicorn_endpoints_failing{at_least="5"}`): the alert rules pick one.
STREAKS = (1, 3, 5, 10)


class ScheduleCollector(Collector):
    """Read at scrape time from the schedule (and the broker's queue depths, when given)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        tick_age: Callable[[], float | None],
        queue_depths: Callable[[], Mapping[str, int] | None] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tick_age = tick_age
        self.queue_depths = queue_depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        yield from self._due(now)
        yield from self._states(now)
        age = self.tick_age()
        if age is not None:
            yield GaugeMetricFamily(
                "cronicorn_tick_age_seconds", "Seconds since the last tick ran (dead-tick alarm)", value=age
            )
        depths = self.queue_depths() if self.queue_depths is not None else None
        if depths is not None:
            family = GaugeMetricFamily(
                "cronicorn_queue_depth", "Messages waiting in each broker queue", labels=["queue"]
            )
            for queue, depth in depths.items():
                family.add_metric([queue], depth)
            yield family

    def _due(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        with self.engine.connect() as conn:
            # Claimed endpoints carry their lease end in next_run_at: they are in flight, not due.
            idle = endpoints.c.claimed_slot.is_(None)
            backlog, oldest = conn.execute(
                select(func.count(), func.min(endpoints.c.next_run_at))
                .select_from(endpoints)
                .where(idle, endpoints.c.next_run_at <= now)
            ).one()
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
        overdue = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "cronicorn_oldest_overdue_seconds",
            "How long the longest-waiting due and unclaimed endpoint has been due (0: none)",
            value=overdue,
        )

    def _states(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        live = and_(endpoints.c.archived_at.is_(None), jobs.c.archived_at.is_(None))
        streak = {
            n: func.sum(func.cast(endpoints.c.failure_count >= n, endpoints.c.failure_count.type)) for n in STREAKS
        }
        paused = or_(endpoints.c.paused_until > now, jobs.c.status == "paused")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    *(streak[n].label(f"f{n}") for n in STREAKS),
                    func.sum(case((paused, 1), else_=0)).label("paused"),
                )
                .select_from(endpoints.join(jobs, jobs.c.id == endpoints.c.job_id))
                .where(live)
            ).one()
        failing = GaugeMetricFamily(
            "cronicorn_endpoints_failing",
            "Endpoints whose last runs failed in a row at least `at_least` times (in backoff from 1)",
            labels=["at_least"],
        )
        for n in STREAKS:
            failing.add_metric([str(n)], int(getattr(row, f"f{n}") or 0))
        yield failing
        yield GaugeMetricFamily(
            "cronicorn_endpoints_paused",
            "Endpoints paused (by a person or the AI) or in a paused job",
            value=int(row.paused or 0),
        )

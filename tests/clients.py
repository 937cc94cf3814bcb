"""Helpers for producer-client tests: a settable clock and a snapshot of every written row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cronicorn.store.tables import endpoints, jobs, runs


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every job, endpoint and run row, to prove a refused call wrote nothing."""
    with engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=lambda r: str(r[0]))
            for t in (jobs, endpoints, runs)
        }

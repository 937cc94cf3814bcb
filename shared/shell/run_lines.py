"""The one line per finished run that `cronicorn up` prints: time, job/endpoint, status, error kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cronicorn.store.tables import endpoints, jobs, runs

MAX_ERROR_CHARS = 80


def run_line(r: Any) -> str:
    """`12:00:01 demo/health      success  200    12 ms  (baseline-interval)`, with the error when it failed."""
    error = ""
    if r.error_kind:
        message = " ".join(str(r.error_message or "").split())[:MAX_ERROR_CHARS]
        error = f"  {r.error_kind}: {message}" if message else f"  {r.error_kind}"
    return (
        f"{r.finished_at:%H:%M:%S} {r.job}/{r.name:<12} {r.status:<8} "
        f"{r.status_code or '-':>3} {r.duration_ms or 0:>5} ms{error}  ({r.source})"
    )


def run_printer(engine: Engine, since: datetime, out: Callable[[str], None]) -> Callable[[], None]:
    """A function that prints the runs finished since the last call (every job's), oldest first."""
    seen_after = [since]

    def print_new_runs() -> None:
        query = (
            select(
                runs.c.finished_at,
                runs.c.status,
                runs.c.status_code,
                runs.c.duration_ms,
                runs.c.source,
                runs.c.error_kind,
                runs.c.error_message,
                endpoints.c.name,
                jobs.c.name.label("job"),
            )
            .join(endpoints, endpoints.c.id == runs.c.endpoint_id)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(runs.c.finished_at > seen_after[0])
            .order_by(runs.c.finished_at)
            .limit(500)
        )
        with engine.connect() as conn:
            for r in conn.execute(query):
                seen_after[0] = r.finished_at
                out(run_line(r))

    return print_new_runs

"""One stored endpoint as a typed value: every column of `endpoints`, plus its job's status and tenant.

`EndpointRow` is the one declaration of an endpoint's stored fields in Python; the table in
`cronicorn.store.tables` is the schema's, and a test holds the two to the same column names.
Everything that reads an endpoint to decide something (planning, attempts, explain, views)
reads this, never a bare SQLAlchemy `Row`, so a misspelt column is a type error, not a KeyError.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select

from cronicorn.core.endpoint_fields import EndpointFields
from cronicorn.store.tables import endpoints, jobs


@dataclass(frozen=True)
class EndpointRow(EndpointFields):
    """An endpoint's stored columns joined with its job's status and tenant (see `select_endpoint_rows`).

    The fields producers see come from `EndpointFields`; these are the claim internals and the join.
    """

    ai_next_analysis_at: datetime | None
    ai_analyzed_failure_count: int | None
    fence: int
    claimed_slot: datetime | None
    claimed_source: str | None
    claim_attempt: int
    lease_until: datetime | None
    claim_started_at: datetime | None  # None: claimed but not yet started by an execute worker
    claim_publishes: int  # how many times this slot's claim was published without being started
    retry_attempt: int  # the attempt number a pending retry (`retry_slot_at`) runs as; 0: none
    job_status: str  # from the job: only an active job's endpoints are scheduled
    tenant_id: str  # from the job: every read on behalf of someone is scoped to it

    @classmethod
    def of(cls, row: Row[Any]) -> EndpointRow:
        """The typed value of a row selected by `select_endpoint_rows`."""
        m = row._mapping
        return cls(**{name: m[name] for name in ROW_FIELDS})


ROW_FIELDS = tuple(f.name for f in fields(EndpointRow))


def select_endpoint_rows() -> Select[Any]:
    """Endpoints joined with their job's status and tenant: the query every `EndpointRow` comes from."""
    return select(endpoints, jobs.c.status.label("job_status"), jobs.c.tenant_id).join(
        jobs, jobs.c.id == endpoints.c.job_id
    )

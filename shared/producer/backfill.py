"""Backfill: run the slots of a past range of an endpoint's schedule, in order, one at a time.

Each slot runs as its own run, with its own slot (so its own Idempotency-Key) and source
`backfill`, never overlapping another run of the endpoint: the endpoint stores a cursor (the next
slot and the range's end) that the governor plans before anything else, and each finished backfill
run moves it on (`cronicorn.core.backfill`). The live schedule waits meanwhile and resumes from the
end of the backfill, as after an edit. A backfill is bounded: at most `MAX_BACKFILL_SLOTS` slots,
none in the future, one backfill at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from cronicorn.core.backfill import backfill_slots
from cronicorn.core.errors import Conflict, FieldError, InvalidInput
from cronicorn.core.model import MAX_BACKFILL_SLOTS
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.records import Endpoint
from cronicorn.producer.storable import check_ids, check_instants
from cronicorn.store.replanning import replan, state_from_row
from cronicorn.store.tables import endpoints


def _check_range(now: datetime, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    if since is None or until is None:
        given = (("since", since), ("until", until))
        raise InvalidInput([FieldError(name, "is required") for name, value in given if value is None])
    check_instants(since=since, until=until)
    if until > now:
        raise InvalidInput.one("until", "must not be in the future: a backfill runs past slots, the schedule the rest")
    if since >= until:
        raise InvalidInput.one("since", "must be before until")
    return since, until


def backfill(
    engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, since: datetime | None, until: datetime | None
) -> Endpoint:
    """Run the endpoint's slots in [since, until), oldest first, starting at once."""
    check_ids(endpoint_id=endpoint_id)
    since, until = _check_range(now, since, until)
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is archived")
        if row.run_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is a one-off (run_at): it has no slots to backfill")
        if row.backfill_next_at is not None and row.backfill_until is not None:
            raise Conflict(
                f"a backfill is in progress (next slot {row.backfill_next_at.isoformat()}, until "
                f"{row.backfill_until.isoformat()}); start another when it has finished"
            )
        slots = backfill_slots(state_from_row(row), since, until, limit=MAX_BACKFILL_SLOTS)
        if not slots:
            raise InvalidInput.one("since", "no slot of the endpoint's schedule lies in [since, until)")
        if len(slots) > MAX_BACKFILL_SLOTS:
            raise InvalidInput.one(
                "until", f"the range holds more than {MAX_BACKFILL_SLOTS} slots; backfill it in parts"
            )
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == endpoint_id)
            .values(backfill_next_at=slots[0], backfill_until=until, updated_at=now)
        )
        replan(conn, endpoint_id, now, mode="reset")
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))

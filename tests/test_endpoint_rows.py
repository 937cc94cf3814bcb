"""`EndpointRow` is the one declaration of an endpoint's stored fields: it matches the table and feeds the rest."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import Engine

from cronicorn.core.endpoint_fields import EndpointFields
from cronicorn.core.governor import EndpointState
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.records import Endpoint
from cronicorn.producer.specs import ENDPOINT_FIELDS
from cronicorn.store.endpoint_rows import ROW_FIELDS, EndpointRow
from cronicorn.store.replanning import STATE_COLUMNS, lock_endpoint_rows, state_from_row
from cronicorn.store.tables import endpoints

# The fields joined from the job, i.e. those that are not columns of `endpoints`.
JOINED_FIELDS = ("job_status", "tenant_id")


def test_the_row_has_exactly_the_tables_columns_plus_the_joined_job_fields() -> None:
    # Order is not the table's: the fields producers see come first, from EndpointFields.
    stored = ROW_FIELDS[: len(ROW_FIELDS) - len(JOINED_FIELDS)]
    assert sorted(stored) == sorted(endpoints.c.keys())
    assert ROW_FIELDS[-len(JOINED_FIELDS) :] == JOINED_FIELDS


def test_the_record_and_the_row_share_one_declaration_of_the_endpoints_fields() -> None:
    shared = [f.name for f in fields(EndpointFields)]
    assert [f.name for f in fields(Endpoint)] == [*shared, "running", "notes"]
    assert list(ROW_FIELDS[: len(shared)]) == shared


def test_every_other_list_of_endpoint_fields_is_a_subset_of_the_row() -> None:
    assert STATE_COLUMNS == tuple(f.name for f in fields(EndpointState))
    assert set(STATE_COLUMNS) <= set(ROW_FIELDS)
    assert set(ENDPOINT_FIELDS) <= set(ROW_FIELDS)
    assert {f.name for f in fields(Endpoint)} - {"running", "notes"} <= set(ROW_FIELDS)


def test_reads_return_typed_rows_that_agree_with_the_record(client: Cronicorn, engine: Engine) -> None:
    job = client.create_job(name="j")
    ep = client.add_endpoint(
        job.id,
        name="e",
        url="https://api.example.com/x",
        baseline_interval_ms=60_000,
        headers={"a": "b"},
        upstream_endpoint_ids=[],
    )
    with engine.begin() as conn:
        row = endpoint_row(conn, "default", ep.id)
        locked = lock_endpoint_rows(conn, [ep.id, "missing"])
    assert isinstance(row, EndpointRow) and locked == {ep.id: row}
    assert (row.job_status, row.tenant_id, row.headers, row.claimed_slot) == ("active", "default", {"a": "b"}, None)
    assert Endpoint.from_row(row) == ep
    assert state_from_row(row) == EndpointState(baseline_interval_ms=60_000, id=ep.id)

"""Migrations bring an empty database to head, and back down, on both engines."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from cronicorn.store.migrate import downgrade, head_revision, is_current, upgrade
from cronicorn.store.tables import metadata


def test_it_migrates_an_empty_database_to_head_with_every_table(engine: Engine) -> None:
    assert is_current(engine)
    names = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= names


def test_the_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == []


def test_it_downgrades_to_base_and_upgrades_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert "endpoints" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert is_current(engine)
    assert head_revision(engine) is not None

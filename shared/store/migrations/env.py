"""Alembic environment: the engine is handed in by cronicorn.store.migrate (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from cronicorn.store.tables import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()

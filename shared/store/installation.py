"""Installation-wide values kept in the database (e.g. the installation's signing key).

The installation key signs only for the default tenant (it becomes that tenant's first key, see
`cronicorn.store.signing_keys.KeyRing`): every other tenant signs with keys of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from cronicorn.store.signing_keys import generate_key
from cronicorn.store.tables import installation

SIGNING_KEY = "signing_key"


def signing_key(engine: Engine, configured: str | None, now: datetime) -> bytes:
    """The configured key, else the stored one, else a new key stored on first start.

    Stored in the database (not a file) so every worker on every host signs with the same key.
    """
    if configured:
        return configured.encode()
    with engine.begin() as conn:
        stored = conn.execute(select(installation.c.value).where(installation.c.key == SIGNING_KEY)).scalar()
    if stored is not None:
        return str(stored).encode()
    try:
        with engine.begin() as conn:
            conn.execute(installation.insert().values(key=SIGNING_KEY, value=generate_key(), created_at=now))
    except IntegrityError:
        pass  # another process generated it first: use theirs
    with engine.begin() as conn:
        return str(
            conn.execute(select(installation.c.value).where(installation.c.key == SIGNING_KEY)).scalar_one()
        ).encode()

"""Start-up checks: refuse to run without a database, with an old schema or with a broker setting
that would break promises.

A worker that fails one exits with `STARTUP_CHECK_FAILED` before it consumes anything (see
`refuse_to_start`), so a supervisor (Kubernetes, compose, `cronicorn up`) shows a failing
start instead of a worker that runs and breaks its promises later.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from cronicorn.core.settings import Settings
from cronicorn.store.claims import lease_ms
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import is_current
from cronicorn.store.tables import endpoints

log = logging.getLogger(__name__)

# sysexits' EX_CONFIG: told apart from a crash (1) by supervisors and by the chaos suite.
STARTUP_CHECK_FAILED = 78
# How long the check waits for a PostgreSQL server that does not answer at all.
CONNECT_TIMEOUT_S = 10


class StartupError(RuntimeError):
    pass


def _check_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"pool_size": 1, "max_overflow": 0}
    if make_url(url).get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return make_engine(url, **kwargs)


def longest_lease_ms(settings: Settings) -> int:
    url = settings.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    engine = _check_engine(url)
    try:
        if not is_current(engine):
            raise StartupError("database schema is not at the newest migration: run `cronicorn migrate` first")
        with engine.connect() as conn:
            timeout, max_exec = conn.execute(
                select(func.max(endpoints.c.timeout_ms), func.max(endpoints.c.max_execution_time_ms))
            ).one()
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        detail = " ".join(str(cause).split())
        raise StartupError(f"cannot reach the database {shown} (CRONICORN_DATABASE_URL): {detail}") from exc
    finally:
        engine.dispose()
    return lease_ms(timeout or 0, max_exec or 0, settings.lease_grace_ms)


def check_worker_start(settings: Settings) -> None:
    """The database must answer at the newest schema, and the broker must not redeliver a message
    (Redis: visibility timeout) or drop its consumer (RabbitMQ: consumer_timeout) while its attempt
    may still be running."""
    longest = longest_lease_ms(settings)
    if settings.broker_is_amqp:
        if longest >= settings.rabbitmq_consumer_timeout_s * 1000:
            raise StartupError(
                f"CRONICORN_RABBITMQ_CONSUMER_TIMEOUT_S={settings.rabbitmq_consumer_timeout_s} is shorter than the "
                f"longest endpoint lease ({longest} ms): raise RabbitMQ's consumer_timeout (rabbitmq.conf) above it "
                "and set this variable to match"
            )
        log.info(
            "RabbitMQ consumer timeout %ss covers the longest lease %s ms",
            settings.rabbitmq_consumer_timeout_s,
            longest,
        )
        return
    if longest >= settings.visibility_timeout_s * 1000:
        raise StartupError(
            f"CRONICORN_VISIBILITY_TIMEOUT_S={settings.visibility_timeout_s} is shorter than the longest "
            f"endpoint lease ({longest} ms = timeout + CRONICORN_LEASE_GRACE_MS, or max_execution_time_ms): "
            "raise the visibility timeout above it"
        )
    log.info("visibility timeout %ss covers the longest lease %s ms", settings.visibility_timeout_s, longest)


def refuse_to_start(worker: str, exc: StartupError) -> NoReturn:
    """Say why on the log (stderr) and exit before consuming anything."""
    log.critical("worker %s refused to start: %s", worker, exc)
    raise SystemExit(STARTUP_CHECK_FAILED)

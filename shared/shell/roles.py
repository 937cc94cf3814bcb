"""Command lines of each role, shared by `cronicorn worker|beat|up` and the deployment files."""

from __future__ import annotations

import sys

from cronicorn.core.constants import QUEUES
from cronicorn.core.settings import Settings

APP = "cronicorn.workers.app"


def worker_command(
    role: str, settings: Settings, *, concurrency: int | None = None, hostname: str | None = None
) -> list[str]:
    """`celery worker` for one role, consuming only that role's queue."""
    if role not in QUEUES:
        raise ValueError(f"role {role!r} is not one of {', '.join(QUEUES)}")
    if role == "execute":
        pool, default_concurrency = settings.execute_pool, settings.execute_concurrency
    elif role == "scheduler":
        # A tick claims for its whole interval; with a few threads the next one is already waiting
        # for its turn (the tick flight) as it ends, and sweeps and analysis planning still run.
        pool, default_concurrency = "threads", 4
    else:
        pool, default_concurrency = "threads", 4
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        APP,
        "worker",
        "-Q",
        role,
        "--pool",
        pool,
        "--concurrency",
        str(concurrency or default_concurrency),
        "--hostname",
        hostname or f"{role}@%h",
        "--loglevel",
        settings.log_level,
        "--without-gossip",
        "--without-mingle",
    ]


def beat_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", APP, "beat", "--loglevel", settings.log_level]


def api_command(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000) -> list[str]:
    """The REST API under uvicorn; the factory reads the settings once, in the server process."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "cronicorn.api.app:app_from_env",
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        settings.log_level.lower(),
        "--no-access-log",
    ]


def flower_command(port: int = 5555) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", APP, "flower", f"--port={port}"]

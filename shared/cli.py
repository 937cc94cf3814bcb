"""`cronicorn`: run the roles (`up`, `worker`, `beat`, `migrate`) and manage jobs, endpoints and runs."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from shared.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"error: {exc}") from None


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from shared.client import Cronicorn

    return Cronicorn.from_url(_settings().database_url, tenant_id=args.tenant)


def cmd_migrate(_args: argparse.Namespace) -> int:
    from shared.db import make_engine
    from shared.migrate import current_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    print(f"database at {current_revision(engine)} ({engine.url.render_as_string(hide_password=True)})")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from shared.roles import worker_command

    argv = worker_command(args.role, _settings(), concurrency=args.concurrency, hostname=args.hostname)
    os.execv(argv[0], argv)  # become the worker: signals from the orchestrator reach Celery directly
    return 0  # pragma: no cover


def cmd_beat(_args: argparse.Namespace) -> int:
    from shared.roles import beat_command

    argv = beat_command(_settings())
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_flower(args: argparse.Namespace) -> int:
    from shared.roles import flower_command

    argv = flower_command(args.port)
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_up(args: argparse.Namespace) -> int:
    from shared.embedded import run_embedded

    return run_embedded(_settings(), demo=args.demo, flower_port=args.flower_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cronicorn", description=__doc__)
    parser.add_argument("--tenant", default="default", help="tenant whose objects the commands see (default: default)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run everything on this machine (SQLite and a bundled Redis unless configured)")
    up.add_argument("--demo", action="store_true", help="register a demo job against a built-in target and show its runs")
    up.add_argument("--flower-port", type=int, default=None, help="also run Flower on this port")
    up.set_defaults(func=cmd_up)

    sub.add_parser("migrate", help="bring the database to the newest schema").set_defaults(func=cmd_migrate)

    worker = sub.add_parser("worker", help="run a Celery worker for one role")
    worker.add_argument("role", choices=["scheduler", "execute", "analysis"])
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--hostname", default=None)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("beat", help="run Celery beat (enqueues ticks and sweeps)").set_defaults(func=cmd_beat)

    flower = sub.add_parser("flower", help="run Flower, the live view of workers and tasks")
    flower.add_argument("--port", type=int, default=5555)
    flower.set_defaults(func=cmd_flower)

    from shared.cli_objects import add_object_commands

    add_object_commands(sub, _client)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("CRONICORN_LOG_LEVEL", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(result or 0)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


if __name__ == "__main__":
    sys.exit(main())

"""What every example's `main` shares: its arguments, the stand-in services of `--demo`, and the
loop that serves them and prints the latest decisions until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cronicorn import Cronicorn
from examples.demo_services import PipelineServices


@dataclass(frozen=True)
class Invocation:
    cron: Cronicorn
    base_url: str
    services: PipelineServices | None  # served only with --demo


def parse(doc: str | None, argv: list[str] | None, *, demo_help: str) -> Invocation:
    """The database and the services' base URL from the arguments (or the environment); with
    `--demo`, the stand-in services are started and their URL is the base."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--database-url", default=os.environ.get("CRONICORN_DATABASE_URL"))
    parser.add_argument("--base-url", default=os.environ.get("PIPELINE_BASE_URL"))
    parser.add_argument("--demo", action="store_true", help=demo_help)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or CRONICORN_DATABASE_URL) is required")
    services = PipelineServices().start() if args.demo else None
    base_url = services.base_url if services is not None else args.base_url
    if not base_url:
        parser.error("--base-url (or PIPELINE_BASE_URL) is required, or --demo")
    return Invocation(Cronicorn.from_url(args.database_url), base_url, services)


def serve(services: PipelineServices, every_round: Callable[[], Iterable[str]], *, note: str = "") -> None:
    """Serve the stand-in services until Ctrl-C, printing what `every_round` says every 5 s."""
    print(f"serving the demo services at {services.base_url}{note}; Ctrl-C to stop")
    try:
        while True:
            time.sleep(5)
            for line in every_round():
                print(line)
    except KeyboardInterrupt:
        services.stop()


def latest_decisions(cron: Cronicorn, endpoint_id: str, count: int, label: str = "") -> list[str]:
    """The endpoint's last `count` dependency decisions, a line each."""
    return [f"{label}{d['kind']} {d['reason']}" for d in cron.decisions(endpoint_id)[-count:]]

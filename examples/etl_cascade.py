"""A cascading ETL with batch ids: load runs once per batch, only when both extracts report that batch.

Answers "...multiple interdependent HTTP jobs that must coordinate their execution based on
cascading response data, while ensuring the AI adaptation doesn't create conflicting scheduling
decisions across jobs?" with declared, deterministic dependencies:

- two extracts (a job of their own, one endpoint per source) run every 15 minutes and answer with
  the batch they extracted: `{"batch_id": "2025-01-15T14", "source": "orders", "status": "done"}`;
- **load** (another job) waits for `all` of them (fan-in) with the batch key `$.batch_id`: it runs
  once both have reported the same batch since its last run, once per batch, and is handed the
  batch id. While they disagree (orders at 15:00, customers still at 14:00) it does not run, and
  `decisions` says "upstreams reported different batch keys";
- its own schedule is a daily fallback behind a gate, so it never loads a half-extracted batch.

The planners may still speed an extract up or slow it down (hints stay inside min/max); the load
follows the data, not the hints, so the AI cannot make it run early or twice.

    python -m examples.etl_cascade --database-url sqlite:///cronicorn.db --base-url https://etl.example.com

(CRONICORN_DATABASE_URL and PIPELINE_BASE_URL as fallbacks; `--demo` serves the stand-in services
of `examples/demo_services.py` instead.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cronicorn import Cronicorn
from examples.command_line import latest_decisions, parse, serve

EVERY_15_MIN = {"baseline_interval_ms": 15 * 60_000}
DAILY = {"baseline_cron": "30 2 * * *"}


@dataclass(frozen=True)
class Cascade:
    orders: str  # endpoint ids
    customers: str
    load: str


def register_cascade(cron: Cronicorn, base_url: str, *, extract_schedule: Mapping[str, Any] = EVERY_15_MIN) -> Cascade:
    """Register (or bring up to date) the extract job and the load job; idempotent."""
    base = base_url.rstrip("/")
    _, [orders, customers] = cron.register(
        {"name": "extract", "description": "one endpoint per source; each answers with its batch id"},
        [
            {"name": "extract-orders", "url": f"{base}/extract-orders", "method": "POST", **extract_schedule},
            {"name": "extract-customers", "url": f"{base}/extract-customers", "method": "POST", **extract_schedule},
        ],
    )
    _, [load] = cron.register(
        {"name": "warehouse-load", "description": "loads a batch once every source has it"},
        [{"name": "load", "url": f"{base}/load", "method": "POST", **DAILY}],
        dependencies={
            "load": {
                "upstream_endpoint_ids": [orders.id, customers.id],
                "fan_in": "all",
                "condition": '$.status == "done"',
                "batch_key": "$.batch_id",
                "gate": True,
                "template": {"body": {"batch_id": "key"}, "headers": {"X-Batch-Id": "key"}},
            }
        },
    )
    return Cascade(orders=orders.id, customers=customers.id, load=load.id)


def main(argv: list[str] | None = None) -> None:
    run = parse(__doc__, argv, demo_help="serve the stand-in services and use them")
    cascade = register_cascade(run.cron, run.base_url)
    print(f"extract-orders {cascade.orders}\nextract-customers {cascade.customers}\nload {cascade.load}")
    if run.services is not None:
        run.cron.run_now(cascade.orders)
        run.cron.run_now(cascade.customers)
        serve(run.services, lambda: latest_decisions(run.cron, cascade.load, 3, "load: "))


if __name__ == "__main__":
    main()

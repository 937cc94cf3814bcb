"""Flash-sale priority tiers: a traffic monitor drives critical work up and holds non-critical work back.

The original's answer encodes priority in descriptions ("Priority: LOW ... if load_status is high,
pause") and hopes the AI reads them within its analysis cycle (minutes). Here the tiers are declared
on the traffic monitor's response, so they act within one dispatch of each reading, with or without
a model. All four endpoints are siblings in one job (one sale, one team, paused together):

- **traffic-monitor** polls every minute: `{"visitors_per_min": 5000, "load_status": "high",
  "window": "2025-11-28T14:10:00+00:00"}` (the current 10-minute window);
- **tier 1, order-processor** (critical) keeps its 30-second baseline and, during a spike, also
  runs on every reading with `$.visitors_per_min > 1000` (a trigger without a gate), at most every
  10 seconds (`min_interval_ms`), handed the reading in its body;
- **tier 2, inventory-sync** (normal) runs every 5 minutes. It declares nothing: its planner may slow
  it during a spike, never past `max_interval_ms` (15 minutes), and faster never below its minimum;
- **tier 3, analytics-updater** (low) runs once per 10-minute window (`batch_key: $.window`), on the
  first reading of that window with `$.visitors_per_min <= 1000`, gated: while traffic is high no
  reading qualifies, so it does not run, and a window that was high throughout is not caught up.
  A planner that tries to speed it up during the spike is refused (`gate-closed` conflict: a person,
  then dependencies and gates, then the AI).

    python -m examples.flash_sale --database-url sqlite:///cronicorn.db --base-url https://shop.example.com

(CRONICORN_DATABASE_URL and PIPELINE_BASE_URL as fallbacks; `--demo` serves the stand-in services
of `examples/demo_services.py`, with a spike every other minute, while `cronicorn up` runs the
workers.) `cronicorn endpoints decisions <id>` says why a tier ran or did not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cronicorn import Cronicorn
from examples.command_line import latest_decisions, parse, serve

HIGH = "$.visitors_per_min > 1000"
NORMAL = "$.visitors_per_min <= 1000"
EVERY_MINUTE = {"baseline_interval_ms": 60_000, "min_interval_ms": 15_000}
EVERY_30_S = {"baseline_interval_ms": 30_000}
EVERY_5_MIN = {"baseline_interval_ms": 5 * 60_000, "min_interval_ms": 60_000, "max_interval_ms": 15 * 60_000}
YEARLY = {"baseline_cron": "0 0 1 1 *"}  # a fallback the gate skips: analytics runs on normal readings only


@dataclass(frozen=True)
class FlashSale:
    monitor: str  # endpoint ids
    orders: str
    inventory: str
    analytics: str


def register_flash_sale(
    cron: Cronicorn,
    base_url: str,
    *,
    monitor_schedule: Mapping[str, Any] = EVERY_MINUTE,
    orders_schedule: Mapping[str, Any] = EVERY_30_S,
    orders_spacing_ms: int = 10_000,
    inventory_schedule: Mapping[str, Any] = EVERY_5_MIN,
) -> FlashSale:
    """Register (or bring up to date) the flash-sale job; idempotent, so it can run at every deploy."""
    base = base_url.rstrip("/")
    _, [monitor, orders, inventory, analytics] = cron.register(
        {"name": "flash-sale", "description": "critical work speeds up with traffic, low-priority work waits"},
        [
            {"name": "traffic-monitor", "url": f"{base}/traffic", "method": "GET", **monitor_schedule},
            {
                "name": "order-processor",
                "url": f"{base}/orders/process",
                "method": "POST",
                "min_interval_ms": orders_spacing_ms,
                **orders_schedule,
            },
            {"name": "inventory-sync", "url": f"{base}/inventory/sync", "method": "POST", **inventory_schedule},
            {"name": "analytics-updater", "url": f"{base}/analytics/update", "method": "POST", **YEARLY},
        ],
        dependencies={
            "order-processor": {
                "upstream_endpoint_ids": ["traffic-monitor"],
                "condition": HIGH,
                "trigger": True,
                "gate": False,
                "template": {"body": {"visitors_per_min": "$.visitors_per_min", "monitor_run": "run_id"}},
            },
            "analytics-updater": {
                "upstream_endpoint_ids": ["traffic-monitor"],
                "condition": NORMAL,
                "batch_key": "$.window",
                "trigger": True,
                "gate": True,
                "template": {"body": {"window": "key"}},
            },
        },
    )
    return FlashSale(monitor=monitor.id, orders=orders.id, inventory=inventory.id, analytics=analytics.id)


def main(argv: list[str] | None = None) -> None:
    run = parse(__doc__, argv, demo_help="serve the stand-in services (a spike every other minute)")
    sale = register_flash_sale(run.cron, run.base_url)
    print(f"traffic-monitor {sale.monitor}\norder-processor {sale.orders}")
    print(f"inventory-sync {sale.inventory}\nanalytics-updater {sale.analytics}")
    services = run.services
    if services is not None:

        def every_round() -> list[str]:
            services.visitors_per_min = 5000 if int(time.time() // 60) % 2 else 200  # a spike every other minute
            return latest_decisions(run.cron, sale.analytics, 2, "analytics: ")

        every_round()  # the first minute's traffic, before anything is served
        serve(services, every_round)


if __name__ == "__main__":
    main()

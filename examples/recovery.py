"""Recovery after a sibling's errors, with a cooldown: a health check, a restart, a verification.

The original's answer is prose in two descriptions ("when errors are detected, trigger-recovery should
run immediately ... wait at least 5 minutes between attempts") and an AI that may or may not act on
them. Here the same three endpoints are siblings in one job (one service, one owner, paused and
resumed together), and the rules are declared:

- **health-check** polls every minute. Healthy: `200 {"status": "ok"}`; degraded: `503
  {"status": "degraded", "error_count": 7, "degraded_since": "2025-11-02T14:03:00Z"}`, the same
  `degraded_since` for as long as the incident lasts. Its `max_interval_ms` caps the failure backoff,
  so it keeps polling through an incident;
- **trigger-recovery** runs on the health check's *failure* (`on: failure`) whose body says
  `status == "degraded"`, once per incident (`batch_key: $.degraded_since`: a check that keeps
  failing for the same incident does not restart the service again), handed the incident in its
  body. Its `min_interval_ms` is the cooldown: a new incident within 5 minutes of the last restart
  waits for the cooldown to end, then runs (through the governor, like every triggered run). Its own
  schedule is a yearly fallback behind a gate: it never restarts without a failed check;
- **verify-recovery** runs once the restart succeeded (`$.restarted == true`), once per incident,
  and is gated: its hourly run is skipped, recorded as skipped with the reason, unless a restart
  succeeded since its last run. A restart that failed is never "verified".

An AI planner, if configured, may still tune the health check's polling; it cannot run the restart
or the verification early: a faster hint on a gated endpoint whose gate is closed is refused and
recorded as a `gate-closed` conflict (a person, then dependencies and gates, then the AI).

    python -m examples.recovery --database-url sqlite:///cronicorn.db --base-url https://api.example.com

(CRONICORN_DATABASE_URL and PIPELINE_BASE_URL as fallbacks; `--demo` serves the stand-in services
of `examples/demo_services.py`, degraded once, while `cronicorn up` runs the workers.) Then
`cronicorn endpoints decisions <id>` says why the restart ran or did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cronicorn import Cronicorn
from examples.command_line import latest_decisions, parse, serve

EVERY_MINUTE = {"baseline_interval_ms": 60_000, "max_interval_ms": 120_000}
COOLDOWN = {"min_interval_ms": 5 * 60_000}
HOURLY = {"baseline_interval_ms": 3_600_000}
YEARLY = {"baseline_cron": "0 0 1 1 *"}  # a fallback the gate skips unless a failed check asks for it


@dataclass(frozen=True)
class Recovery:
    health: str  # endpoint ids
    recover: str
    verify: str


def register_recovery(
    cron: Cronicorn,
    base_url: str,
    *,
    health_schedule: Mapping[str, Any] = EVERY_MINUTE,
    cooldown: Mapping[str, Any] = COOLDOWN,
    verify_schedule: Mapping[str, Any] = HOURLY,
) -> Recovery:
    """Register (or bring up to date) the recovery job; idempotent, so it can run at every deploy."""
    base = base_url.rstrip("/")
    _, [health, recover, verify] = cron.register(
        {"name": "service-recovery", "description": "restarts the service once per incident, then verifies"},
        [
            {"name": "health-check", "url": f"{base}/health", "method": "GET", **health_schedule},
            {"name": "trigger-recovery", "url": f"{base}/recover", "method": "POST", **YEARLY, **cooldown},
            {"name": "verify-recovery", "url": f"{base}/verify", "method": "POST", **verify_schedule},
        ],
        dependencies={
            "trigger-recovery": {
                "upstream_endpoint_ids": ["health-check"],
                "on": "failure",
                "condition": '$.status == "degraded"',
                "batch_key": "$.degraded_since",
                "trigger": True,
                "gate": True,
                "template": {"body": {"incident": "key", "error_count": "$.error_count", "check_run": "run_id"}},
            },
            "verify-recovery": {
                "upstream_endpoint_ids": ["trigger-recovery"],
                "on": "success",
                "condition": "$.restarted == true",
                "batch_key": "$.incident",
                "trigger": True,
                "gate": True,
                "template": {"body": {"incident": "key", "recovery_run": "run_id"}},
            },
        },
    )
    return Recovery(health=health.id, recover=recover.id, verify=verify.id)


def main(argv: list[str] | None = None) -> None:
    run = parse(__doc__, argv, demo_help="serve the stand-in services (degraded once) and use them")
    services = run.services
    if services is not None:
        services.degraded_since = datetime.now(UTC).isoformat(timespec="seconds")
    r = register_recovery(run.cron, run.base_url)
    print(f"health-check {r.health}\ntrigger-recovery {r.recover}\nverify-recovery {r.verify}")
    if services is not None:
        run.cron.run_now(r.health)

        def every_round() -> list[str]:
            if services.requests("/recover"):
                services.degraded_since = None  # the restart healed it
            return latest_decisions(run.cron, r.recover, 2) + latest_decisions(run.cron, r.verify, 2)

        serve(services, every_round, note=" (degraded)")


if __name__ == "__main__":
    main()

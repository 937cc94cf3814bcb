"""Run the whole benchmark suite in order (about 35 minutes on a 2-core machine), or one part.

    python -m bench                  # throughput, dispatch lag, registration, cost per run
    python -m bench chaos --short    # one part, with its own arguments

Each part is also one command of its own (see docs/performance.md); dispatch lag reads the
maximum throughput that the first part measured. The chaos suite (bench/chaos.py) is not part of
the default run: it measures promises under faults, not speed.
"""

from __future__ import annotations

import subprocess
import sys

PARTS = ["throughput", "dispatch_lag", "registration", "cost_per_run"]
OTHERS = ["chaos", "api_load", "planner_throughput", "dashboard_pages"]

if __name__ == "__main__":
    if len(sys.argv) > 1:
        part = sys.argv[1]
        if part not in PARTS + OTHERS:
            sys.exit(f"unknown part {part!r}: one of {', '.join(PARTS + OTHERS)}")
        sys.exit(subprocess.run([sys.executable, "-m", f"bench.{part}", *sys.argv[2:]]).returncode)
    for part in PARTS:
        print(f"== bench.{part}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{part}"], check=True)

"""Run the whole benchmark suite in order (about 35 minutes on a 2-core machine).

    python -m bench

Each part is also one command of its own (see README, "Performance"); dispatch lag reads the
maximum throughput that the first part measured.
"""

from __future__ import annotations

import subprocess
import sys

PARTS = ["throughput", "dispatch_lag", "registration", "cost_per_run"]

if __name__ == "__main__":
    for part in PARTS:
        print(f"== bench.{part}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{part}"], check=True)

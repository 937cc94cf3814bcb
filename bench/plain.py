"""The baseline: what a user writes instead of Cronicorn. One `requests` GET per Celery task.

No lock, no database, Celery's defaults. The only kindness is one `requests.Session` per
process (keep-alive), the faster of the two ways people write it, so the baseline is not weak.

    celery -A bench.plain worker -Q plain --pool threads -c 16
"""

from __future__ import annotations

import os

import requests
from celery import Celery

app = Celery("plain", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, task_default_queue="plain", worker_hijack_root_logger=False)

SESSION = requests.Session()


@app.task(name="plain.get")
def get(url: str) -> int:
    return SESSION.get(url, timeout=10).status_code

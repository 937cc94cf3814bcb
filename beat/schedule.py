"""What beat enqueues and how often. Entries expire so a stopped worker never finds a backlog."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cronicorn.core.constants import (
    DELIVER_NOTIFICATIONS_TASK,
    PLAN_ANALYSES_TASK,
    PLAN_REACTIVE_ANALYSES_TASK,
    SCHEDULER_QUEUE,
    SWEEP_TASK,
    TICK_TASK,
)
from cronicorn.core.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    tick = settings.tick_interval_s
    return {
        "tick": {
            "task": TICK_TASK,
            "schedule": timedelta(seconds=tick),
            # A tick nobody ran in time is worthless: the next one claims the same work.
            "options": {"queue": SCHEDULER_QUEUE, "expires": max(2.0, tick * 3)},
        },
        "plan_analyses": {
            "task": PLAN_ANALYSES_TASK,
            "schedule": timedelta(seconds=settings.analysis_interval_s),
            "options": {"queue": SCHEDULER_QUEUE, "expires": settings.analysis_interval_s},
        },
        # Reads only the requests upstream results left, so it can run every few seconds.
        "plan_reactive_analyses": {
            "task": PLAN_REACTIVE_ANALYSES_TASK,
            "schedule": timedelta(seconds=settings.ai_react_interval_s),
            "options": {"queue": SCHEDULER_QUEUE, "expires": max(2.0, settings.ai_react_interval_s * 3)},
        },
        # Reads only the pending notifications that are due (a partial index), so it can run often.
        "deliver_notifications": {
            "task": DELIVER_NOTIFICATIONS_TASK,
            "schedule": timedelta(seconds=settings.notify_interval_s),
            "options": {"queue": SCHEDULER_QUEUE, "expires": max(2.0, settings.notify_interval_s * 3)},
        },
        "sweep": {
            "task": SWEEP_TASK,
            "schedule": timedelta(seconds=settings.sweep_interval_s),
            "options": {"queue": SCHEDULER_QUEUE, "expires": settings.sweep_interval_s},
        },
    }

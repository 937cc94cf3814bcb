"""Names and caps written once: Celery queues and task names, and how far hints and pauses may reach."""

from __future__ import annotations

# --- queues: one per worker role, each a Redis list of the same name -----------------------
SCHEDULER_QUEUE = "scheduler"
"""Ticks, sweeps and analysis planning: short, frequent work that must never wait behind HTTP calls."""
EXECUTE_QUEUE = "execute"
"""The scheduled HTTP calls."""
ANALYSIS_QUEUE = "analysis"
"""AI planner sessions: slow model calls kept off the execute workers."""
QUEUES = (SCHEDULER_QUEUE, EXECUTE_QUEUE, ANALYSIS_QUEUE)
"""Every queue; a worker role consumes the queue of its own name."""

# --- Celery task names: stable, since queued messages and beat entries carry them ----------
TICK_TASK = "cronicorn.tick"
"""Claim due endpoints and publish their executions."""
EXECUTE_BATCH_TASK = "cronicorn.execute_batch"
"""Run several claims of one tick in one message."""
EXECUTE_TASK = "cronicorn.execute"
"""Run one claim (messages from before batches, and manual sends)."""
SWEEP_TASK = "cronicorn.sweep"
"""Finish attempts whose worker was lost."""
PLAN_ANALYSES_TASK = "cronicorn.plan_analyses"
"""Enqueue one analysis per endpoint that needs one."""
PLAN_REACTIVE_ANALYSES_TASK = "cronicorn.plan_reactive_analyses"
"""Enqueue one analysis per endpoint an upstream's new result asked to analyse."""
ANALYZE_TASK = "cronicorn.analyze"
"""One AI planner session for one endpoint."""
DELIVER_NOTIFICATIONS_TASK = "cronicorn.deliver_notifications"
"""Send the notifications that are due (failing, recovered, paused), with retries; on the scheduler queue."""

# --- tenants -------------------------------------------------------------------------------
DEFAULT_TENANT_ID = "default"
"""The tenant of the embedded mode and of clients that name none; it signs with the installation's key."""
MAX_SIGNING_KEY_GRACE_DAYS = 30
"""How long a rotated-out signing key may keep signing beside its successor."""

# --- caps on hints and pauses, the same for the Python client, the REST API and the planner ---
MAX_HINT_TTL_MINUTES = 7 * 24 * 60
"""A hint lasts at most a week: longer steering belongs in the endpoint's own schedule."""
MIN_INTERVAL_HINT_MS = 1
"""The shortest interval hint accepted; the governor still holds it to the endpoint's minimum."""
MAX_INTERVAL_HINT_MS = 7 * 24 * 3_600_000
"""The longest interval hint: one that outlasts the longest hint could never fire."""
MAX_HINT_REACH_MS = 366 * 24 * 3_600_000
"""How far ahead a one-shot hint may be set (a year): further is a mistake."""
MAX_REASON_CHARS = 1000
"""The longest reason a hint or pause may carry."""
DEFAULT_INTERVAL_HINT_TTL_MINUTES = 60
"""How long an interval hint lasts when its caller does not say."""
DEFAULT_ONESHOT_HINT_TTL_MINUTES = 30
"""How long a one-shot hint lasts when its caller does not say (it always outlives its own time)."""
MAX_AI_PAUSE_MINUTES = MAX_HINT_TTL_MINUTES
"""The longest pause the AI may set, like a hint's TTL: a longer pause is a person's decision."""

# --- the AI planner's own rhythm ---------------------------------------------------------------
MIN_NEXT_ANALYSIS_MS = 5 * 60_000
"""The soonest the planner looks at an endpoint again (the original's bound)."""
MAX_NEXT_ANALYSIS_MS = 24 * 3_600_000
"""The latest the planner looks at an endpoint again (the original's bound)."""
DEFAULT_NEXT_ANALYSIS_MS = 5 * 60_000
"""When the model does not say and the endpoint has no baseline interval (cron): as the original."""

# --- coordination: conflicts between the AI's decisions, and how they are damped ------------------
CONFLICT_WINDOW_MS = 60 * 60_000
"""Decisions this close together count as contradicting each other (thrash, siblings), and a
conflict stays open (shown to callers and the planner) this long after it was detected."""
THRASH_REVERSALS = 3
"""Direction changes of the AI's hints on one endpoint within the window that make thrash."""
THRASH_DAMPING_MS = 4 * 60 * 60_000
"""How long a thrashing endpoint is damped: no analysis, and its current hint is held (the AI's
hints the other way are refused) until then."""
MAX_TRIGGER_CHAIN = 8
"""AI-driven runs one upstream result may cascade through before the cascade counts as a loop."""

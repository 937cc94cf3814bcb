"""Notifications as values: the events, the channels, and the pure decisions about them.

An endpoint's state changes (a failure streak reaches a channel's threshold, it recovers, it is
paused by the AI or auto-paused) become one notification per channel that asked for that event;
`cronicorn.store.notifications` writes them in the transaction that made the change (the outbox),
and `cronicorn.notify` delivers them.
"""

from __future__ import annotations

from datetime import timedelta
from enum import Enum


class NotifyEvent(str, Enum):
    FAILING = "failing"  # the endpoint's consecutive failures reached the channel's threshold
    RECOVERED = "recovered"  # a success after the channel was told it was failing
    AI_PAUSED = "ai_paused"  # the AI planner paused the endpoint
    AUTO_PAUSED = "auto_paused"  # paused after its auto-pause policy's consecutive failures


class ChannelKind(str, Enum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(str, Enum):
    PENDING = "pending"  # waiting for its first delivery or for a retry
    SENT = "sent"
    FAILED = "failed"  # every attempt failed, or the failure was permanent


ALL_EVENTS = tuple(e.value for e in NotifyEvent)
DEFAULT_FAILURE_THRESHOLD = 3
MAX_FAILURE_THRESHOLD = 1000
MAX_DELIVERY_ATTEMPTS = 8
"""Attempts per notification before it is recorded as failed (about 4 minutes of backoff in all)."""
DELIVERY_BACKOFF_S = 2.0
DELIVERY_BACKOFF_MAX_S = 120.0
DELIVERY_LEASE_S = 60
"""A notification taken for delivery is not taken again for this long (a worker lost mid-send)."""


def run_events(*, success: bool, failures_before: int, failures_after: int, threshold: int) -> list[NotifyEvent]:
    """What one finished run means to a channel with this failure threshold.

    The streak crosses the threshold exactly once (so FAILING is sent once per streak), and only a
    streak the channel heard about gets a RECOVERED.
    """
    if success:
        return [NotifyEvent.RECOVERED] if failures_before >= threshold else []
    return [NotifyEvent.FAILING] if failures_before < threshold <= failures_after else []


def auto_pauses(*, success: bool, failures_before: int, failures_after: int, after_failures: int | None) -> bool:
    """Whether this run's failure makes the streak reach the auto-pause policy's count."""
    if success or after_failures is None:
        return False
    return failures_before < after_failures <= failures_after


def delivery_backoff(
    attempts: int, *, base_s: float = DELIVERY_BACKOFF_S, max_s: float = DELIVERY_BACKOFF_MAX_S
) -> timedelta:
    """The wait before attempt `attempts + 1`: base x 2^(attempts - 1), at most max_s."""
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, attempts - 1)))

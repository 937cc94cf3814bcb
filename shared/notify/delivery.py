"""The delivery loop: take due notifications from the outbox, send each, record what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from cronicorn.core.notifications import ChannelKind, DeliveryStatus
from cronicorn.http.call import HttpCaller
from cronicorn.notify.email import SmtpServer, send_email
from cronicorn.notify.messages import subject, text
from cronicorn.notify.webhook import Sent, send_webhook
from cronicorn.store.notifications import Due, record_delivery, take_due
from cronicorn.telemetry.metrics import NOTIFICATION_ATTEMPTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notifier:
    engine: Engine
    http: HttpCaller
    smtp: SmtpServer
    clock: Callable[[], datetime]

    def deliver_due(self, *, batch: int = 10, budget_s: float = 30.0) -> dict[str, int]:
        """One round: due notifications sent once each, a few at a time, until none is due or the round
        has used `budget_s` (the rest wait for the next round); how many ended sent, pending (a retry)
        or failed."""
        counts = {s.value: 0 for s in DeliveryStatus}
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            taken = take_due(self.engine, self.clock(), limit=batch)
            if not taken:
                break
            for due in taken:
                self._deliver(due, counts)
        return counts

    def _deliver(self, due: Due, counts: dict[str, int]) -> None:
        sent = self.send(due)
        status = record_delivery(self.engine, due, self.clock(), error=sent.error, permanent=sent.permanent)
        counts[status.value] += 1
        NOTIFICATION_ATTEMPTS.labels(due.channel.kind, due.event, status.value).inc()
        if sent.error:
            log.warning(
                "notification %s (%s, attempt %d): %s -> %s", due.id, due.event, due.attempts, sent.error, status
            )

    def send(self, due: Due) -> Sent:
        channel = due.channel
        if channel.kind == ChannelKind.WEBHOOK.value:
            return send_webhook(
                self.http, channel.target, channel.secret or "", due.event, due.payload, notification_id=due.id
            )
        return send_email(self.smtp, channel.target, subject(due.event, due.payload), text(due.event, due.payload))

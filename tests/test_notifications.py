"""Notifications: failure streaks, recoveries, AI pauses and auto-pauses become one notification per
channel per state change, written in the finish's transaction (the outbox), delivered to a real
local webhook receiver and a real local SMTP server, retried with backoff, their outcome recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import Message

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import Engine, update

from cronicorn.core.clock import utcnow
from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.core.notifications import MAX_DELIVERY_ATTEMPTS, NotifyEvent, auto_pauses, delivery_backoff, run_events
from cronicorn.dispatch.runner import Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.notify.delivery import Notifier
from cronicorn.notify.email import SmtpServer
from cronicorn.producer import control
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Leases, Order
from cronicorn.store.claims import claim_due
from cronicorn.store.notifications import take_due
from cronicorn.store.tables import endpoints
from tests.receiver import verifies
from tests.smtp_server import Inbox, smtp_server
from tests.targets import TargetServer

# --- the pure decisions, as tables ------------------------------------------------------------


@pytest.mark.parametrize(
    ("success", "before", "after", "threshold", "events"),
    [
        (False, 0, 1, 3, []),  # a first failure: not yet
        (False, 2, 3, 3, [NotifyEvent.FAILING]),  # the streak reaches the threshold: told once
        (False, 3, 4, 3, []),  # and not again while it goes on
        (False, 0, 1, 1, [NotifyEvent.FAILING]),
        (True, 4, 0, 3, [NotifyEvent.RECOVERED]),  # recovery after the channel was told
        (True, 2, 0, 3, []),  # a streak the channel never heard of recovers silently
        (True, 0, 0, 3, []),
        (False, 2, 2, 3, []),  # a failure whose retry is pending counts nothing yet
    ],
)
def test_a_run_means_an_event_to_a_channel_only_when_it_crosses_its_threshold(
    success: bool, before: int, after: int, threshold: int, events: list[NotifyEvent]
) -> None:
    assert run_events(success=success, failures_before=before, failures_after=after, threshold=threshold) == events


def test_auto_pause_fires_once_when_the_streak_reaches_its_count() -> None:
    assert auto_pauses(success=False, failures_before=4, failures_after=5, after_failures=5)
    assert not auto_pauses(success=False, failures_before=5, failures_after=6, after_failures=5)
    assert not auto_pauses(success=False, failures_before=4, failures_after=5, after_failures=None)
    assert not auto_pauses(success=True, failures_before=4, failures_after=0, after_failures=1)


def test_delivery_backs_off_exponentially_up_to_a_cap() -> None:
    assert [delivery_backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert delivery_backoff(20) == timedelta(seconds=120)


# --- through the runner, the store and the delivery -------------------------------------------


@pytest.fixture
def runner(engine: Engine, redis_conn: redis.Redis) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(engine=engine, redis=redis_conn, http=http, clock=utcnow, leases=Leases(grace_ms=1000))


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def notifier(
    engine: Engine, smtp_port: int = 9, *, allow: tuple[str, ...] = ("127.0.0.0/8",), clock: Clock | None = None
) -> Notifier:
    http = HttpCaller(guard=AddressGuard(list(allow)), signing_key=b"")
    return Notifier(engine=engine, http=http, smtp=SmtpServer(host="127.0.0.1", port=smtp_port), clock=clock or utcnow)


def run_once(engine: Engine, runner: Runner, endpoint_id: str) -> None:
    """Make the endpoint due now, claim it and run it, as a tick and an execute worker would."""
    with engine.begin() as conn:
        conn.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(next_run_at=utcnow()))
    [claim] = claim_due(engine, utcnow(), limit=1)
    runner.execute_many([Order(endpoint_id, claim.fence)])


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else ""


def hook_bodies(hook: TargetServer) -> list[dict[str, object]]:
    return [json.loads(s.body) for s in hook.requests_to("/fixed/hook")]


def test_a_failure_streak_is_told_once_at_the_threshold_and_once_on_recovery_to_a_signed_webhook(
    engine: Engine, runner: Runner, target: TargetServer
) -> None:
    client = Cronicorn(engine)
    target.fixed["svc"] = (503, {"error": "down"})
    target.fixed["hook"] = (200, {"ok": True})
    job = client.create_job(name="notify")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/fixed/svc"), baseline_interval_ms=60_000)
    channel = client.add_notification_channel("webhook", target.url("/fixed/hook"), failure_threshold=2)
    assert channel.secret and len(channel.secret) >= 16
    for _ in range(3):
        run_once(engine, runner, ep.id)
    # Written with the run that crossed the threshold, before anything was delivered: the outbox.
    [pending] = client.list_notifications(endpoint_id=ep.id)
    assert (pending.event, pending.status, pending.attempts) == ("failing", "pending", 0)
    target.fixed["svc"] = (200, {"ok": True})
    run_once(engine, runner, ep.id)
    run_once(engine, runner, ep.id)  # a second success tells nothing more
    sent_before = REGISTRY.get_sample_value(
        "cronicorn_notification_attempts_total", {"kind": "webhook", "event": "failing", "outcome": "sent"}
    )
    assert notifier(engine).deliver_due() == {"pending": 0, "sent": 2, "failed": 0}
    sent_after = REGISTRY.get_sample_value(
        "cronicorn_notification_attempts_total", {"kind": "webhook", "event": "failing", "outcome": "sent"}
    )
    assert (sent_after or 0) - (sent_before or 0) == 1
    bodies = hook_bodies(target)
    assert [b["event"] for b in bodies] == ["failing", "recovered"]
    assert bodies[0]["endpoint_id"] == ep.id and bodies[0]["consecutive_failures"] == 2
    assert "503" in str(bodies[0]["error"])
    # Signed with the channel's own secret, in the request-signing scheme; no other key verifies.
    for seen in target.requests_to("/fixed/hook"):
        assert verifies(channel.secret, seen) and not verifies("some-other-secret-key", seen)
        assert seen.headers["X-Cronicorn-Event"] in ("failing", "recovered")
    assert {n.status for n in client.list_notifications(endpoint_id=ep.id)} == {"sent"}
    assert notifier(engine).deliver_due() == {"pending": 0, "sent": 0, "failed": 0}  # each sent once


def test_an_email_channel_is_sent_over_smtp(
    engine: Engine, runner: Runner, target: TargetServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    client = Cronicorn(engine)
    job = client.create_job(name="mail")
    ep = client.add_endpoint(job.id, name="billing", url=target.url("/status/500"), baseline_interval_ms=60_000)
    client.add_notification_channel("email", "ops@example.com", job_id=job.id, failure_threshold=1)
    run_once(engine, runner, ep.id)
    assert notifier(engine, port).deliver_due()["sent"] == 1
    [(to, message)] = inbox.wait(1)
    assert to == ["ops@example.com"]
    assert message["Subject"] == "[cronicorn] billing is failing (1 in a row)"
    assert ep.id in body_of(message)


def test_a_channel_of_another_job_or_tenant_hears_nothing(engine: Engine, runner: Runner, target: TargetServer) -> None:
    client = Cronicorn(engine)
    other = Cronicorn(engine, tenant_id="other")
    job, elsewhere = client.create_job(name="a"), client.create_job(name="b")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    client.add_notification_channel("email", "b@example.com", job_id=elsewhere.id, failure_threshold=1)
    other.add_notification_channel("email", "other@example.com", failure_threshold=1)
    run_once(engine, runner, ep.id)
    assert client.list_notifications() == [] and other.list_notifications() == []


def test_an_endpoint_is_auto_paused_after_k_failures_told_and_only_a_person_resumes_it(
    engine: Engine, runner: Runner, target: TargetServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    client = Cronicorn(engine)
    job = client.create_job(name="auto")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    assert client.set_auto_pause(job_id=job.id, after_failures=3) == 3
    client.add_notification_channel("email", "ops@example.com", events=["auto_paused"])
    for _ in range(3):
        run_once(engine, runner, ep.id)
    paused = client.get_endpoint(ep.id)
    assert paused.paused_by == "auto" and paused.paused_until > utcnow() + timedelta(days=365)
    assert paused.next_run_at == paused.paused_until and "3 failures in a row" in (paused.pause_reason or "")
    with pytest.raises(Conflict):
        control.resume_endpoint(engine, "default", utcnow(), ep.id, actor="ai")
    assert [n.event for n in client.list_notifications()] == ["auto_paused"]
    notifier(engine, port).deliver_due()
    [(_, message)] = inbox.wait(1)
    assert "auto-paused" in message["Subject"] and f"cronicorn endpoints resume {ep.id}" in body_of(message)
    assert client.resume_endpoint(ep.id).paused_until is None


def test_an_endpoints_own_auto_pause_wins_over_its_jobs(engine: Engine, runner: Runner, target: TargetServer) -> None:
    client = Cronicorn(engine)
    job = client.create_job(name="auto")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    client.set_auto_pause(job_id=job.id, after_failures=1)
    client.set_auto_pause(endpoint_id=ep.id, after_failures=2)
    run_once(engine, runner, ep.id)
    assert client.get_endpoint(ep.id).paused_until is None
    run_once(engine, runner, ep.id)
    assert client.get_endpoint(ep.id).paused_by == "auto"


def test_a_pause_by_the_ai_is_told_and_a_persons_is_not(engine: Engine) -> None:
    client = Cronicorn(engine)
    job = client.create_job(name="ai")
    ep = client.add_endpoint(job.id, name="svc", url="https://example.com/x", baseline_interval_ms=60_000)
    client.add_notification_channel("webhook", "https://hooks.example.com/x", events=["ai_paused"])
    now = utcnow()
    control.pause_endpoint(engine, "default", now, ep.id, now + timedelta(hours=1), "rate limited", actor="ai")
    client.pause_endpoint(ep.id, now + timedelta(hours=2), "maintenance")
    [n] = client.list_notifications()
    assert n.event == "ai_paused" and n.payload["reason"] == "rate limited"


def test_a_failed_delivery_is_retried_with_backoff_and_each_attempt_recorded(
    engine: Engine, runner: Runner, target: TargetServer
) -> None:
    client = Cronicorn(engine)
    target.fixed["hook"] = (502, {"error": "bad gateway"})
    job = client.create_job(name="retry")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    client.add_notification_channel("webhook", target.url("/fixed/hook"), failure_threshold=1)
    run_once(engine, runner, ep.id)
    clock = Clock()
    assert notifier(engine, clock=clock).deliver_due() == {"pending": 1, "sent": 0, "failed": 0}
    [n] = client.list_notifications()
    assert n.status == "pending" and n.attempts == 1 and "502" in (n.last_error or "")
    assert notifier(engine, clock=clock).deliver_due()["pending"] == 0  # not due before its backoff
    clock.offset = timedelta(seconds=3)
    target.fixed["hook"] = (200, {"ok": True})
    assert notifier(engine, clock=clock).deliver_due()["sent"] == 1
    [n] = client.list_notifications()
    assert n.status == "sent" and n.attempts == 2 and len(target.requests_to("/fixed/hook")) == 2
    # Both attempts carried the notification's id: the receiver can tell a retry from a new one.
    assert {s.headers["Idempotency-Key"] for s in target.requests_to("/fixed/hook")} == {n.id}


def test_a_delivery_that_keeps_failing_ends_failed_and_a_refusal_at_once(
    engine: Engine, runner: Runner, target: TargetServer
) -> None:
    client = Cronicorn(engine)
    target.fixed["hook"] = (503, {})
    target.fixed["gone"] = (410, {})
    job = client.create_job(name="fail")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    flaky = client.add_notification_channel("webhook", target.url("/fixed/hook"), failure_threshold=1)
    gone = client.add_notification_channel("webhook", target.url("/fixed/gone"), failure_threshold=1)
    run_once(engine, runner, ep.id)
    clock = Clock()
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        notifier(engine, clock=clock).deliver_due()
        clock.offset += timedelta(minutes=5)
    [to_flaky] = client.list_notifications(channel_id=flaky.id)
    [to_gone] = client.list_notifications(channel_id=gone.id)
    assert (to_flaky.status, to_flaky.attempts) == ("failed", MAX_DELIVERY_ATTEMPTS)
    assert (to_gone.status, to_gone.attempts) == ("failed", 1)  # a 410 will not change: no retry


def test_the_ssrf_guard_holds_for_webhooks(engine: Engine, runner: Runner, target: TargetServer) -> None:
    client = Cronicorn(engine)
    job = client.create_job(name="ssrf")
    ep = client.add_endpoint(job.id, name="svc", url=target.url("/status/500"), baseline_interval_ms=60_000)
    client.add_notification_channel("webhook", target.url("/fixed/hook"), failure_threshold=1)
    run_once(engine, runner, ep.id)
    assert notifier(engine, allow=()).deliver_due()["failed"] == 1  # loopback is not allowed here
    [n] = client.list_notifications()
    assert "SSRF" in (n.last_error or "") and target.requests_to("/fixed/hook") == []


def test_a_notification_is_taken_for_delivery_by_one_worker_only(engine: Engine) -> None:
    client = Cronicorn(engine)
    job = client.create_job(name="ai")
    ep = client.add_endpoint(job.id, name="svc", url="https://example.com/x", baseline_interval_ms=60_000)
    client.add_notification_channel("webhook", "https://hooks.example.com/x", events=["ai_paused"])
    now = utcnow()
    control.pause_endpoint(engine, "default", now, ep.id, now + timedelta(hours=1), actor="ai")
    assert len(take_due(engine, utcnow())) == 1
    assert take_due(engine, utcnow()) == []  # leased to the first


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "pager", "target": "x"}, "kind"),
        ({"kind": "webhook", "target": "ftp://example.com/x"}, "target"),
        ({"kind": "email", "target": "not-an-address"}, "target"),
        ({"kind": "email", "target": "a@example.com", "secret": "s" * 20}, "secret"),
        ({"kind": "webhook", "target": "https://example.com/x", "events": ["exploded"]}, "events"),
        ({"kind": "webhook", "target": "https://example.com/x", "failure_threshold": 0}, "failure_threshold"),
        ({"kind": "webhook", "target": "https://example.com/x", "secret": "short"}, "secret"),
    ],
)
def test_a_bad_channel_is_refused_naming_the_field(engine: Engine, kwargs: dict[str, object], field: str) -> None:
    client = Cronicorn(engine)
    with pytest.raises(InvalidInput) as caught:
        client.add_notification_channel(**kwargs)  # type: ignore[arg-type]
    assert caught.value.errors[0].field == field, caught.value
    assert client.list_notification_channels() == []


def test_a_bad_auto_pause_is_refused_naming_the_field(engine: Engine) -> None:
    client = Cronicorn(engine)
    job = client.create_job(name="x")
    with pytest.raises(InvalidInput, match="after_failures"):
        client.set_auto_pause(job_id=job.id, after_failures=0)
    with pytest.raises(InvalidInput, match="endpoint_id"):
        client.set_auto_pause(after_failures=3)

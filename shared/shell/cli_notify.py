"""CLI commands for notifications: channels (add, list, remove), notifications sent, auto-pause."""

from __future__ import annotations

import argparse
from typing import Any

from cronicorn.core.notifications import ALL_EVENTS
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_objects import GetClient, Handler, _run
from cronicorn.shell.cli_output import show

CHANNEL_COLS = ("id", "name", "kind", "target", "job_id", "events", "failure_threshold")
NOTIFICATION_COLS = ("created_at", "event", "status", "attempts", "endpoint_id", "last_error")


def _add(client: Cronicorn, args: argparse.Namespace) -> None:
    events = [e.strip() for e in args.events.split(",")] if args.events else None
    channel = client.add_notification_channel(
        args.kind,
        args.target,
        name=args.name,
        job_id=args.job,
        events=events,
        failure_threshold=args.failures,
        secret=args.secret,
    )
    show(args, channel)
    if channel.secret and not args.json:
        print("\nthe webhook's signing secret is shown only now: keep it where the receiver verifies signatures")


def _auto_pause(client: Cronicorn, args: argparse.Namespace) -> None:
    after = None if args.off else args.after
    set_to = client.set_auto_pause(endpoint_id=args.endpoint, job_id=args.job, after_failures=after)
    show(args, {"endpoint_id": args.endpoint, "job_id": args.job, "after_failures": set_to})


def add_notify_commands(sub: Any, get_client: GetClient) -> None:
    """Register `notifications` (channels, list) and `auto-pause` on the CLI's subparsers."""

    def cmd(parent: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.set_defaults(func=_run(handler, get_client))
        return p

    notify = sub.add_parser("notifications", help="notification channels and what they were sent").add_subparsers(
        dest="notifications_command", required=True
    )
    p = cmd(notify, "add", _add, "add a channel: a signed webhook or an e-mail address")
    p.add_argument("kind", help="webhook or email")
    p.add_argument("target", help="the webhook's URL, or the e-mail address")
    p.add_argument("--name")
    p.add_argument("--job", help="only this job's endpoints (default: every job)")
    p.add_argument("--events", help=f"comma-separated, some of {','.join(ALL_EVENTS)} (default: all)")
    p.add_argument("--failures", type=int, help="failures in a row that make 'failing' (default 3)")
    p.add_argument("--secret", help="a webhook's signing secret (default: generated and shown once)")
    p = cmd(
        notify,
        "channels",
        lambda c, a: show(a, c.list_notification_channels(job_id=a.job), CHANNEL_COLS),
        "list channels",
    )
    p.add_argument("--job")
    p = cmd(notify, "remove", lambda c, a: c.remove_notification_channel(a.channel_id), "remove a channel")
    p.add_argument("channel_id")
    p = cmd(
        notify,
        "list",
        lambda c, a: show(
            a,
            c.list_notifications(endpoint_id=a.endpoint, channel_id=a.channel, status=a.status, limit=a.limit),
            NOTIFICATION_COLS,
        ),
        "list notifications, newest first, with their delivery status",
    )
    p.add_argument("--endpoint")
    p.add_argument("--channel")
    p.add_argument("--status", help="pending, sent or failed")
    p.add_argument("--limit", type=int, default=50)

    p = cmd(sub, "auto-pause", _auto_pause, "pause an endpoint (or a job's endpoints) after N failures in a row")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--endpoint")
    target.add_argument("--job")
    value = p.add_mutually_exclusive_group(required=True)
    value.add_argument("--after", type=int, help="failures in a row, 1-1000")
    value.add_argument("--off", action="store_true", help="remove the policy")

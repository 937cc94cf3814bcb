"""CLI commands over the producer client: jobs, endpoints, runs (and planner sessions and conflicts)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cronicorn.core.constants import DEFAULT_INTERVAL_HINT_TTL_MINUTES, DEFAULT_ONESHOT_HINT_TTL_MINUTES
from cronicorn.core.durations import parse_duration
from cronicorn.core.errors import CronicornError, InvalidInput
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_dependencies import add_dependency_commands
from cronicorn.shell.cli_output import EP_COLS, JOB_COLS, RUN_COLS, SESSION_COLS, plain, show, table

GetClient = Callable[[argparse.Namespace], Cronicorn]
Handler = Callable[[Cronicorn, argparse.Namespace], None]


def _ms(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"header {text!r} must look like Name=value")
    return name.strip(), value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--json-body is not valid JSON: {exc}") from None


_ENDPOINT_FLAGS = (
    ("name", "name"),
    ("url", "url"),
    ("method", "method"),
    ("description", "description"),
    ("cron", "baseline_cron"),
    ("interval", "baseline_interval_ms"),
    ("tz", "timezone"),
    ("min", "min_interval_ms"),
    ("max", "max_interval_ms"),
    ("timeout", "timeout_ms"),
    ("max_execution_time", "max_execution_time_ms"),
    ("max_response_kb", "max_response_size_kb"),
    ("json_body", "body"),
    ("retries", "retry_max_attempts"),
    ("retry_backoff", "retry_backoff_ms"),
    ("retry_backoff_max", "retry_backoff_max_ms"),
    ("retry_on", "retry_on"),
    # schedule options (issue 12)
    ("run_at", "run_at"),
    ("catch_up", "catch_up"),
    ("catch_up_window", "catch_up_window_ms"),
    ("overlap", "overlap"),
    ("jitter", "jitter_ms"),
    ("starts_at", "starts_at"),
    ("ends_at", "ends_at"),
    ("max_runs", "max_runs"),
)
# `update` flags that clear an optional schedule option: flag attribute -> field.
_CLEARING_FLAGS = (("no_starts_at", "starts_at"), ("no_ends_at", "ends_at"), ("no_max_runs", "max_runs"))


def _kinds(text: str) -> list[str]:
    """A comma-separated list (the names are checked by the endpoint's validation, which names the field)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _endpoint_fields(args: argparse.Namespace) -> dict[str, Any]:
    found: dict[str, Any] = {
        key: getattr(args, attr) for attr, key in _ENDPOINT_FLAGS if getattr(args, attr, None) is not None
    }
    if getattr(args, "no_body", False):
        found["body"] = None
    found.update({key: None for attr, key in _CLEARING_FLAGS if getattr(args, attr, False)})
    if getattr(args, "header", None):
        found["headers"] = dict(args.header)
    if getattr(args, "upstream", None):
        found["upstream_endpoint_ids"] = list(args.upstream)
    return found


def _endpoint_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    p.add_argument("--name", required=adding)
    p.add_argument("--url", required=adding)
    p.add_argument("--method", help="GET (default), POST, PUT, PATCH or DELETE")
    p.add_argument("--description", help="what the endpoint does; the AI planner's instructions")
    p.add_argument("--cron", help="5-field cron, evaluated in --tz")
    p.add_argument("--interval", type=_ms, help="baseline interval: 30s, 5m, 1h or milliseconds")
    p.add_argument("--tz", help="IANA time zone of the cron (default UTC)")
    p.add_argument("--min", type=_ms, help="minimum interval between runs (e.g. 10s)")
    p.add_argument("--max", type=_ms, help="maximum interval between runs (e.g. 1h)")
    p.add_argument("--timeout", type=_ms, help="request timeout (default 30s)")
    p.add_argument("--max-execution-time", type=_ms, help="lease length (default 60s, at most 30m)")
    p.add_argument("--max-response-kb", type=int, help="largest response body stored (default 100)")
    p.add_argument(
        "--header", action="append", type=_header, metavar="NAME=VALUE", help="repeatable; replaces all headers"
    )
    p.add_argument("--json-body", type=_json, metavar="JSON", help="request body (POST/PUT/PATCH)")
    if not adding:
        p.add_argument("--no-body", action="store_true", help="remove the request body")
    p.add_argument(
        "--upstream",
        action="append",
        metavar="ENDPOINT_ID",
        help="an endpoint of another job whose responses the planner may read (repeatable)",
    )
    p.add_argument(
        "--retries", type=int, metavar="N", help="retries of a failed slot, same Idempotency-Key (default 0: none)"
    )
    p.add_argument("--retry-backoff", type=_ms, help="wait before the first retry, doubled for each next (default 1s)")
    p.add_argument("--retry-backoff-max", type=_ms, help="longest wait before a retry (default 1m)")
    p.add_argument(
        "--retry-on",
        type=_kinds,
        metavar="KINDS",
        help="failures to retry, comma-separated: timeout,connection,5xx,429 (default all four)",
    )
    _schedule_options(p, adding=adding)


def _schedule_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    """Flags of the schedule options (issue 12)."""
    p.add_argument("--run-at", type=_when, help="a one-off: run once at this ISO time, instead of --cron/--interval")
    p.add_argument("--catch-up", help="slots missed while the scheduler was down: coalesce, skip or all")
    p.add_argument("--catch-up-window", type=_ms, help="how far back --catch-up all replays (default 1h, at most 24h)")
    p.add_argument("--overlap", help="a slot due while the endpoint's own call runs: skip (default) or buffer_one")
    p.add_argument("--jitter", type=_ms, help="move each slot by a fixed offset up to this (e.g. 30s; at most 1h)")
    p.add_argument("--starts-at", type=_when, help="nothing runs before this ISO time (UTC if no offset)")
    p.add_argument("--ends-at", type=_when, help="the endpoint ends after this ISO time (UTC if no offset)")
    p.add_argument("--max-runs", type=int, help="run at most this many times, then end")
    if not adding:
        p.add_argument("--no-starts-at", action="store_true", help="remove the start date")
        p.add_argument("--no-ends-at", action="store_true", help="remove the end date")
        p.add_argument("--no-max-runs", action="store_true", help="remove the run count")


def _run(handler: Handler, get_client: GetClient) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        try:
            handler(get_client(args), args)
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except CronicornError as exc:  # NotFound, Conflict
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0

    return command


def _by_id(method: str, arg: str, columns: Sequence[str] | None) -> Handler:
    """A handler calling `client.<method>(<id argument>)` and showing the result."""

    def handler(client: Cronicorn, args: argparse.Namespace) -> None:
        show(args, getattr(client, method)(getattr(args, arg)), columns)

    return handler


def _pause_until(client: Cronicorn, args: argparse.Namespace) -> datetime:
    if args.until is not None:
        return args.until  # type: ignore[no-any-return]
    return client.clock() + timedelta(milliseconds=args.for_)


def _hint(client: Cronicorn, args: argparse.Namespace) -> None:
    if args.interval is not None:
        ep = client.set_interval_hint(
            args.endpoint_id,
            args.interval,
            DEFAULT_INTERVAL_HINT_TTL_MINUTES if args.ttl is None else args.ttl,
            args.reason,
        )
    else:
        ep = client.set_oneshot_hint(
            args.endpoint_id,
            next_run_at=args.at,
            next_run_in_ms=args.in_,
            ttl_minutes=DEFAULT_ONESHOT_HINT_TTL_MINUTES if args.ttl is None else args.ttl,
            reason=args.reason,
        )
    show(args, ep, EP_COLS)


def _explain(client: Cronicorn, args: argparse.Namespace) -> None:
    planned = client.explain(args.endpoint_id, args.n)
    if not planned and not args.json:
        ended_at = client.get_endpoint(args.endpoint_id).ended_at
        if ended_at is not None:
            print(f"ended at {ended_at.isoformat()}: its schedule ran out (ends_at, max_runs or a one-off that ran)")
        else:
            print("not scheduled: the endpoint is archived or its job is paused or archived")
        return
    noted = any(p.note for p in planned)  # a pending retry, a target's hold: only then the column
    show(args, planned, ("at", "source", "detail", "note") if noted else ("at", "source", "detail"))
    if not args.json:
        for d in client.decisions(args.endpoint_id)[-5:]:  # why it ran or did not, lately
            print(f"{d['at']}  {d['kind']:<18} {d['reason']}")


def _backfill(client: Cronicorn, args: argparse.Namespace) -> None:
    until = args.until if args.until is not None else client.clock()
    show(args, client.backfill(args.endpoint_id, args.since, until), EP_COLS)


def _list_runs(client: Cronicorn, args: argparse.Namespace) -> None:
    page = client.list_runs(
        endpoint_id=args.endpoint,
        job_id=args.job,
        status=args.status,
        since=args.since,
        until=args.until,
        limit=args.limit,
        offset=args.offset,
    )
    if args.json:
        print(json.dumps(plain(page), indent=2, default=str))
    else:
        print(table(page.runs, RUN_COLS))
        print(f"{len(page.runs)} of {page.total} runs")


def _list_sessions(client: Cronicorn, args: argparse.Namespace) -> None:
    found = client.list_sessions(args.endpoint, limit=args.limit)
    if args.json:
        print(json.dumps(plain(found), indent=2, default=str))
        return
    rows = [
        argparse.Namespace(**{c: (str(s[c])[:60] if c == "reasoning" and s[c] else s[c]) for c in SESSION_COLS})
        for s in found
    ]
    print(table(rows, SESSION_COLS))


CONFLICT_COLS = ("detected_at", "kind", "endpoint_name", "other_endpoint_id", "damp_until", "resolution")


def _list_conflicts(client: Cronicorn, args: argparse.Namespace) -> None:
    found = client.list_conflicts(
        args.endpoint, job_id=args.job, include_closed=args.all, limit=args.limit, offset=args.offset
    )
    if args.json:
        print(json.dumps(plain(found), indent=2, default=str))
        return
    print(table([argparse.Namespace(**{c: f[c] for c in CONFLICT_COLS}) for f in found], CONFLICT_COLS))
    print(f"{len(found)} {'conflicts' if args.all else 'open conflicts'}")


def _quiet(p: argparse.ArgumentParser) -> None:
    # So a shell can keep what it made: JOB=$(cronicorn jobs create nightly --quiet)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the new object's id")


def _created(args: argparse.Namespace, made: Any, columns: Sequence[str]) -> None:
    """What a create command made: its id alone with --quiet, else as `show` prints it."""
    if args.quiet:
        print(made.id)
    else:
        show(args, made, columns)


def _page(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument("--limit", type=int, default=default, help=f"page size, 1-1000 (default {default})")
    p.add_argument("--offset", type=int, default=0)


def add_object_commands(sub: Any, get_client: GetClient) -> None:
    """Register `jobs`, `endpoints`, `runs`, `sessions` and `conflicts` subcommands on the CLI's subparsers.

    Each sets `func(args) -> exit code`: 0 on success, 2 for invalid input, 1 for not found or
    conflict; errors print "error: <message>" to stderr.
    """

    def cmd(parent: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.set_defaults(func=_run(handler, get_client))
        return p

    jobs = sub.add_parser("jobs", help="manage jobs").add_subparsers(dest="jobs_command", required=True)
    p = cmd(
        jobs,
        "list",
        lambda c, a: show(a, c.list_jobs(status=a.status, limit=a.limit, offset=a.offset), JOB_COLS),
        "list jobs",
    )
    p.add_argument("--status", choices=["active", "paused", "archived"])
    _page(p, 100)
    p = cmd(
        jobs,
        "create",
        lambda c, a: _created(a, c.create_job(name=a.name, description=a.description), JOB_COLS),
        "create a job",
    )
    p.add_argument("name")
    p.add_argument("--description")
    _quiet(p)
    p = cmd(
        jobs,
        "update",
        lambda c, a: show(
            a,
            c.update_job(
                a.job_id, **{k: v for k, v in (("name", a.name), ("description", a.description)) if v is not None}
            ),
            JOB_COLS,
        ),
        "rename a job or change its description",
    )
    p.add_argument("job_id")
    p.add_argument("--name")
    p.add_argument("--description")
    for name, method, text in (
        ("show", "get_job", "show a job"),
        ("pause", "pause_job", "pause a job and all its endpoints"),
        ("resume", "resume_job", "resume a paused job"),
        ("archive", "archive_job", "archive a job for good"),
    ):
        p = cmd(jobs, name, _by_id(method, "job_id", None if method == "get_job" else JOB_COLS), text)
        p.add_argument("job_id")

    eps = sub.add_parser("endpoints", help="manage endpoints").add_subparsers(dest="endpoints_command", required=True)
    p = cmd(
        eps,
        "add",
        lambda c, a: _created(a, c.add_endpoint(a.job_id, **_endpoint_fields(a)), EP_COLS),
        "add an endpoint to a job",
    )
    p.add_argument("job_id")
    _endpoint_options(p, adding=True)
    _quiet(p)
    p = cmd(
        eps,
        "list",
        lambda c, a: show(
            a, c.list_endpoints(a.job, include_archived=a.archived, limit=a.limit, offset=a.offset), EP_COLS
        ),
        "list endpoints",
    )
    p.add_argument("--job", help="only this job's endpoints")
    p.add_argument("--archived", action="store_true", help="include archived endpoints")
    _page(p, 100)
    p = cmd(eps, "show", _by_id("get_endpoint", "endpoint_id", None), "show an endpoint")
    p.add_argument("endpoint_id")
    p = cmd(
        eps,
        "update",
        lambda c, a: show(a, c.update_endpoint(a.endpoint_id, **_endpoint_fields(a)), EP_COLS),
        "change an endpoint",
    )
    p.add_argument("endpoint_id")
    _endpoint_options(p, adding=False)
    p = cmd(
        eps,
        "pause",
        lambda c, a: show(a, c.pause_endpoint(a.endpoint_id, _pause_until(c, a), a.reason), EP_COLS),
        "pause an endpoint",
    )
    p.add_argument("endpoint_id")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--for", dest="for_", type=_ms, help="pause for a duration (e.g. 2h)")
    group.add_argument("--until", type=_when, help="pause until an ISO time (UTC if no offset)")
    p.add_argument("--reason")
    for name, method, text in (
        ("resume", "resume_endpoint", "resume a paused endpoint"),
        ("archive", "archive_endpoint", "archive an endpoint for good"),
        ("run-now", "run_now", "run an endpoint as soon as its guardrails allow"),
        ("clear-hints", "clear_hints", "drop all hints"),
        ("reset-failures", "reset_failures", "forget consecutive failures"),
    ):
        p = cmd(eps, name, _by_id(method, "endpoint_id", EP_COLS), text)
        p.add_argument("endpoint_id")
    p = cmd(eps, "explain", _explain, "the next run times and why")
    p.add_argument("endpoint_id")
    p.add_argument("-n", type=int, default=5, help="how many runs (1-100, default 5)")
    add_dependency_commands(eps, cmd)
    p = cmd(eps, "backfill", _backfill, "run the slots of a past range now, oldest first, each as its own run")
    p.add_argument("endpoint_id")
    p.add_argument("--since", type=_when, required=True, help="the range's start, an ISO time (UTC if no offset)")
    p.add_argument("--until", type=_when, help="the range's end, not in the future (default: now)")
    p = cmd(eps, "hint", _hint, "set an interval (--interval) or one-shot (--in / --at) hint")
    p.add_argument("endpoint_id")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--interval", type=_ms, help="run every ... (e.g. 30s) while the hint is fresh")
    group.add_argument("--in", dest="in_", type=_ms, help="run once after this delay")
    group.add_argument("--at", type=_when, help="run once at this ISO time")
    p.add_argument(
        "--ttl",
        type=float,
        default=None,
        help=f"minutes the hint stays fresh ({DEFAULT_INTERVAL_HINT_TTL_MINUTES} for interval, "
        f"{DEFAULT_ONESHOT_HINT_TTL_MINUTES} for one-shot)",
    )
    p.add_argument("--reason")

    runs = sub.add_parser("runs", help="read runs").add_subparsers(dest="runs_command", required=True)
    p = cmd(runs, "list", _list_runs, "list runs, newest first")
    p.add_argument("--endpoint")
    p.add_argument("--job")
    p.add_argument("--status", help="running, success, failed, abandoned or canceled")
    p.add_argument("--since", type=_when, help="runs started at or after this ISO time")
    p.add_argument("--until", type=_when, help="runs started before this ISO time")
    _page(p, 20)
    p = cmd(runs, "show", _by_id("get_run", "run_id", None), "show one run with its response")
    p.add_argument("run_id")

    sessions = sub.add_parser("sessions", help="read AI planner sessions").add_subparsers(
        dest="sessions_command", required=True
    )
    p = cmd(sessions, "list", _list_sessions, "list planner sessions, newest first")
    p.add_argument("--endpoint")
    p.add_argument("--limit", type=int, default=20)
    p = cmd(sessions, "show", lambda c, a: show(a, c.get_session(a.session_id)), "show one session with its tool calls")
    p.add_argument("session_id")

    conflicts = sub.add_parser("conflicts", help="read conflicts between steering decisions").add_subparsers(
        dest="conflicts_command", required=True
    )
    p = cmd(conflicts, "list", _list_conflicts, "list conflicts, newest first (open ones unless --all)")
    p.add_argument("--endpoint")
    p.add_argument("--job")
    p.add_argument("--all", action="store_true", help="also conflicts whose window has passed")
    _page(p, 100)

"""The object commands (`jobs`, `endpoints`, `runs`) driven through argparse on a SQLite client with a fixed clock."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.durations import parse_duration
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_objects import add_object_commands
from cronicorn.store.tables import runs
from tests.clients import Clock

MIN = timedelta(minutes=1)
Main = Callable[..., tuple[int, str, str]]


@pytest.fixture
def client(sqlite_engine: Engine, clock: Clock) -> Cronicorn:
    return Cronicorn(sqlite_engine, clock=clock)


@pytest.fixture
def cli(client: Cronicorn, capsys: pytest.CaptureFixture[str]) -> Main:
    parser = argparse.ArgumentParser(prog="cronicorn")
    add_object_commands(parser.add_subparsers(dest="command", required=True), lambda _args: client)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def as_json(cli: Main, *argv: str) -> Any:
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def job_id(cli: Main) -> str:
    return str(as_json(cli, "jobs", "create", "nightly", "--description", "reports")["id"])


@pytest.fixture
def endpoint_id(cli: Main, job_id: str) -> str:
    return str(
        as_json(
            cli, "endpoints", "add", job_id, "--name", "sync", "--url", "https://s.example/run", "--interval", "10m"
        )["id"]
    )


@pytest.mark.parametrize(
    "text, ms",
    [
        ("1500ms", 1500),
        ("90s", 90_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        ("250", 250),
        ("1.5s", 1500),
        (" 30s ", 30_000),
    ],
)
def test_durations_are_read_in_human_units(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "soon", "-5s", "5 minutes", "1h30m", "5w"])
def test_a_bad_duration_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_jobs_can_be_created_listed_shown_paused_resumed_and_archived(cli: Main, job_id: str, now: datetime) -> None:
    code, out, _ = cli("jobs", "list")
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["ID", "NAME", "STATUS", "CREATED_AT"]
    assert row.split()[:3] == [job_id, "nightly", "active"] and "2026-03-02 12:00:00" in row
    code, out, _ = cli("jobs", "show", job_id)
    assert code == 0 and "description  reports" in out and "status       active" in out
    assert as_json(cli, "jobs", "pause", job_id)["status"] == "paused"
    code, out, _ = cli("jobs", "list", "--status", "paused")
    assert job_id in out
    code, out, _ = cli("jobs", "list", "--status", "active")
    assert job_id not in out
    assert as_json(cli, "jobs", "resume", job_id)["status"] == "active"
    assert as_json(cli, "jobs", "update", job_id, "--name", "daily")["name"] == "daily"
    code, out, _ = cli("jobs", "archive", job_id)
    assert code == 0 and "archived" in out
    code, _, err = cli("jobs", "resume", job_id)
    assert code == 1 and err.startswith("error: ") and "archived" in err


def test_an_endpoint_is_added_with_human_durations_headers_and_a_body(cli: Main, job_id: str, now: datetime) -> None:
    ep = as_json(
        cli,
        "endpoints",
        "add",
        job_id,
        "--name",
        "report",
        "--url",
        "https://r.example/run",
        "--method",
        "post",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
        "--min",
        "30s",
        "--max",
        "1d",
        "--timeout",
        "5s",
        "--header",
        "Authorization=Bearer x",
        "--header",
        "X-Team=a=b",
        "--json-body",
        '{"kind": "daily"}',
    )
    assert (ep["method"], ep["baseline_cron"], ep["timezone"], ep["body"]) == (
        "POST",
        "0 2 * * *",
        "Europe/Paris",
        {"kind": "daily"},
    )
    assert (ep["min_interval_ms"], ep["max_interval_ms"], ep["timeout_ms"]) == (30_000, 86_400_000, 5_000)
    assert ep["headers"] == {"Authorization": "***", "X-Team": "a=b"}  # the secret is stored, never shown
    assert ep["next_run_at"] == "2026-03-03T01:00:00+00:00" and ep["next_run_source"] == "baseline-cron"


def test_endpoints_are_listed_as_a_table_and_shown_field_by_field(cli: Main, job_id: str, endpoint_id: str) -> None:
    code, out, _ = cli("endpoints", "list", "--job", job_id)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["ID", "NAME", "METHOD", "URL"] and len(lines) == 2
    assert "2026-03-02 12:10:00" in lines[1] and "baseline-interval" in lines[1]
    code, out, _ = cli("endpoints", "show", endpoint_id)
    assert code == 0 and "baseline_interval_ms" in out and "600000" in out and "running" in out
    cli("endpoints", "archive", endpoint_id)
    assert cli("endpoints", "list", "--job", job_id)[1].count("\n") == 1  # header only
    assert endpoint_id in cli("endpoints", "list", "--job", job_id, "--archived")[1]


def test_an_interval_edit_from_the_command_line_moves_the_next_run(
    cli: Main, endpoint_id: str, clock: Clock, now: datetime
) -> None:
    clock.now = now + MIN
    ep = as_json(cli, "endpoints", "update", endpoint_id, "--interval", "30s", "--description", "faster")
    assert ep["baseline_interval_ms"] == 30_000 and ep["next_run_at"] == "2026-03-02T12:01:30+00:00"
    ep = as_json(cli, "endpoints", "update", endpoint_id, "--cron", "*/5 * * * *")
    assert ep["baseline_interval_ms"] is None and ep["next_run_at"] == "2026-03-02T12:05:00+00:00"


def test_pause_resume_and_run_now_from_the_command_line(
    cli: Main, endpoint_id: str, clock: Clock, now: datetime
) -> None:
    ep = as_json(cli, "endpoints", "pause", endpoint_id, "--for", "1h", "--reason", "maintenance")
    assert (ep["paused_until"], ep["next_run_source"], ep["pause_reason"]) == (
        "2026-03-02T13:00:00+00:00",
        "paused",
        "maintenance",
    )
    code, _, err = cli("endpoints", "run-now", endpoint_id)
    assert code == 1 and "error: the endpoint is paused until" in err
    ep = as_json(cli, "endpoints", "pause", endpoint_id, "--until", "2026-03-02T15:00:00Z")
    assert ep["paused_until"] == "2026-03-02T15:00:00+00:00"
    code, _, err = cli("endpoints", "pause", endpoint_id, "--until", "2026-03-01T00:00:00")
    assert code == 2 and "paused_until: must be in the future" in err
    assert as_json(cli, "endpoints", "resume", endpoint_id)["paused_until"] is None
    code, out, _ = cli("endpoints", "run-now", endpoint_id)
    assert code == 0 and "manual" in out and "2026-03-02 12:00:00" in out


def test_hints_explain_and_reset_from_the_command_line(cli: Main, endpoint_id: str, now: datetime) -> None:
    code, out, _ = cli("endpoints", "hint", endpoint_id, "--interval", "1m", "--ttl", "15", "--reason", "busy")
    assert code == 0 and "ai-interval" in out and "2026-03-02 12:01:00" in out
    code, out, _ = cli("endpoints", "explain", endpoint_id, "-n", "3")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["AT", "SOURCE", "DETAIL"] and len(lines) == 4
    assert [line.split()[2:] for line in lines[1:]] == [["ai-interval", "-"]] * 3
    planned = as_json(cli, "endpoints", "explain", endpoint_id, "-n", "2")
    assert planned[0] == {"at": "2026-03-02T12:01:00+00:00", "source": "ai-interval", "note": None, "detail": None}
    ep = as_json(cli, "endpoints", "hint", endpoint_id, "--in", "10s")
    assert ep["next_run_at"] == "2026-03-02T12:00:10+00:00" and ep["next_run_source"] == "ai-oneshot"
    ep = as_json(cli, "endpoints", "hint", endpoint_id, "--at", "2026-03-02T12:00:05+00:00")
    assert ep["next_run_at"] == "2026-03-02T12:00:05+00:00"
    ep = as_json(cli, "endpoints", "clear-hints", endpoint_id)
    assert ep["ai_hint_interval_ms"] is None and ep["next_run_at"] == "2026-03-02T12:10:00+00:00"
    assert as_json(cli, "endpoints", "reset-failures", endpoint_id)["failure_count"] == 0
    code, _, err = cli("endpoints", "hint", endpoint_id, "--interval", "0s")
    assert code == 2 and "interval_ms" in err


def test_explain_says_so_when_nothing_is_scheduled(cli: Main, job_id: str, endpoint_id: str) -> None:
    cli("jobs", "pause", job_id)
    code, out, _ = cli("endpoints", "explain", endpoint_id)
    assert code == 0 and out.startswith("not scheduled")


def test_runs_are_listed_and_shown(
    cli: Main, client: Cronicorn, sqlite_engine: Engine, endpoint_id: str, now: datetime
) -> None:
    ep = client.get_endpoint(endpoint_id)
    with sqlite_engine.begin() as conn:
        for i in range(3):
            conn.execute(
                runs.insert().values(
                    id=f"run-{i}",
                    endpoint_id=ep.id,
                    job_id=ep.job_id,
                    status="failed" if i == 1 else "success",
                    source="baseline-interval",
                    scheduled_at=now + i * MIN,
                    attempt=1,
                    fence=i + 1,
                    started_at=now + i * MIN,
                    status_code=500 if i == 1 else 200,
                    error_message="HTTP 500" if i == 1 else None,
                )
            )
    code, out, _ = cli("runs", "list", "--endpoint", endpoint_id, "--limit", "2")
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines[1:3]] == ["run-2", "run-1"] and lines[-1] == "2 of 3 runs"
    code, out, _ = cli("runs", "list", "--status", "failed")
    assert "run-1" in out and "HTTP 500" in out and out.splitlines()[-1] == "1 of 1 runs"
    page = as_json(cli, "runs", "list", "--since", "2026-03-02T12:01:00Z")
    assert page["total"] == 2 and [r["id"] for r in page["runs"]] == ["run-2", "run-1"]
    code, out, _ = cli("runs", "show", "run-1")
    assert code == 0 and "status_code" in out and "500" in out
    code, _, err = cli("runs", "list", "--limit", "0")
    assert code == 2 and "limit" in err


def test_retries_are_set_and_a_pending_one_is_explained_from_the_command_line(
    cli: Main, job_id: str, client: Cronicorn, sqlite_engine: Engine, now: datetime
) -> None:
    ep = as_json(
        cli, "endpoints", "add", job_id, "--name", "r", "--url", "https://r.example/", "--interval", "1m",
        "--retries", "3", "--retry-backoff", "2s", "--retry-backoff-max", "30s", "--retry-on", "5xx, 429",
    )  # fmt: skip
    assert (ep["retry_max_attempts"], ep["retry_backoff_ms"], ep["retry_backoff_max_ms"]) == (3, 2_000, 30_000)
    assert ep["retry_on"] == ["5xx", "429"]
    ep = as_json(cli, "endpoints", "update", ep["id"], "--retry-on", "timeout")
    assert ep["retry_on"] == ["timeout"] and ep["retry_max_attempts"] == 3
    # A retry pending, as a failed attempt's finish leaves it:
    from cronicorn.store.tables import endpoints

    with sqlite_engine.begin() as conn:
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ep["id"])
            .values(
                retry_slot_at=now,
                retry_number=1,
                retry_attempt=2,
                retry_reason="HTTP 503 Service Unavailable",
                next_run_at=now + timedelta(seconds=2),
                next_run_source="retry",
            )
        )
    code, out, _ = cli("endpoints", "explain", ep["id"], "-n", "2")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["AT", "SOURCE", "DETAIL", "NOTE"]
    assert "retry pending at 2026-03-02T12:00:02+00:00, attempt 2 of 4" in lines[1] and "HTTP 503" in lines[1]
    assert lines[2].split()[:3] == ["2026-03-02", "12:01:00", "baseline-interval"]  # the grid goes on from the slot


def test_invalid_input_exits_2_and_names_the_field(cli: Main, job_id: str, client: Cronicorn) -> None:
    for argv, field in (
        (("--interval", "500ms"), "baseline_interval_ms"),
        (("--interval", "1m", "--cron", "0 * * * *"), "baseline"),
        (("--interval", "1m", "--json-body", "[1]"), "body"),
        (("--interval", "1m", "--tz", "Nowhere/Land"), "timezone"),
        (("--interval", "1m", "--min", "2h", "--max", "1h"), "min_interval_ms"),
        (("--interval", "1m", "--method", "TRACE"), "method"),
        (("--interval", "1m", "--retries", "11"), "retry_max_attempts"),
        (("--interval", "1m", "--retry-on", "5xx,teapot"), "retry_on"),
        (("--interval", "1m", "--retry-backoff", "10s", "--retry-backoff-max", "1s"), "retry_backoff_max_ms"),
    ):
        code, out, err = cli("endpoints", "add", job_id, "--name", "x", "--url", "https://x.example/", *argv)
        assert (code, out) == (2, "") and err.startswith("error: invalid input: ") and field in err
    assert client.list_endpoints(job_id) == []


def test_unknown_ids_and_conflicts_exit_1(cli: Main, endpoint_id: str) -> None:
    for argv in (
        ("jobs", "show", "nope"),
        ("endpoints", "show", "nope"),
        ("runs", "show", "nope"),
        ("endpoints", "run-now", "nope"),
    ):
        code, _, err = cli(*argv)
        assert code == 1 and err == f"error: {argv[0][:-1]} 'nope' not found\n"
    cli("endpoints", "archive", endpoint_id)
    code, _, err = cli("endpoints", "update", endpoint_id, "--interval", "1m")
    assert code == 1 and "archived" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["endpoints", "add", "j", "--name", "x", "--url", "https://x.example/", "--interval", "soon"],
        ["endpoints", "add", "j", "--name", "x", "--url", "https://x.example/", "--json-body", "{not json"],
        ["endpoints", "add", "j", "--name", "x", "--url", "https://x.example/", "--header", "no-equals-sign"],
        ["endpoints", "pause", "e", "--until", "next tuesday"],
        ["endpoints", "pause", "e"],
    ],
)
def test_malformed_flags_are_refused_by_the_parser_with_exit_2(cli: Main, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli(*argv)
    assert info.value.code == 2


# --- schedule options (issue 12) ----------------------------------------------------------------
def test_schedule_options_are_flags_of_add_and_update(cli: Main, job_id: str) -> None:
    ep = as_json(
        cli,
        *("endpoints", "add", job_id, "--name", "opts", "--url", "https://o.example/", "--interval", "10m"),
        *("--catch-up", "all", "--catch-up-window", "2h", "--overlap", "buffer_one", "--jitter", "30s"),
        *("--starts-at", "2026-03-03T09:00:00Z", "--ends-at", "2026-03-31T00:00:00", "--max-runs", "3"),
    )
    assert (ep["catch_up"], ep["catch_up_window_ms"], ep["overlap"], ep["jitter_ms"]) == (
        "all",
        7_200_000,
        "buffer_one",
        30_000,
    )
    assert (ep["starts_at"], ep["ends_at"]) == ("2026-03-03T09:00:00+00:00", "2026-03-31T00:00:00+00:00")
    assert (ep["max_runs"], ep["runs_left"], ep["next_run_source"]) == (3, 3, "starts-at")
    cleared = as_json(cli, "endpoints", "update", ep["id"], "--no-starts-at", "--no-ends-at", "--no-max-runs")
    assert (cleared["starts_at"], cleared["ends_at"], cleared["max_runs"], cleared["catch_up"]) == (
        None,
        None,
        None,
        "all",
    )
    one_off = as_json(
        cli,
        "endpoints",
        "add",
        job_id,
        "--name",
        "once",
        "--url",
        "https://o.example/",
        "--run-at",
        "2026-03-02T13:00Z",
    )
    assert (one_off["run_at"], one_off["next_run_source"]) == ("2026-03-02T13:00:00+00:00", "one-off")


def test_a_bad_schedule_option_on_the_command_line_exits_2_and_names_the_field(
    cli: Main, job_id: str, client: Cronicorn
) -> None:
    for argv, field in (
        (("--catch-up", "sometimes"), "catch_up"),
        (("--overlap", "queue"), "overlap"),
        (("--max-runs", "0"), "max_runs"),
        (("--jitter", "2h"), "jitter_ms"),
        (("--starts-at", "2026-03-04T00:00Z", "--ends-at", "2026-03-03T00:00Z"), "ends_at"),
        (("--run-at", "2026-03-04T00:00Z"), "baseline"),
    ):
        code, out, err = cli(
            "endpoints", "add", job_id, "--name", "x", "--url", "https://x.example/", "--interval", "10m", *argv
        )
        assert (code, out) == (2, "") and f"{field}: " in err, err
    assert client.list_endpoints(job_id) == []


def test_backfill_from_the_command_line(cli: Main, job_id: str, endpoint_id: str) -> None:
    ep = as_json(cli, "endpoints", "backfill", endpoint_id, "--since", "2026-03-02T11:00:00Z")
    assert (ep["backfill_next_at"], ep["backfill_until"]) == ("2026-03-02T11:00:00+00:00", "2026-03-02T12:00:00+00:00")
    code, out, _ = cli("endpoints", "explain", endpoint_id, "-n", "2")
    assert code == 0 and "backfill until 2026-03-02T12:00:00Z" in out
    code, _, err = cli("endpoints", "backfill", endpoint_id, "--since", "2026-03-02T11:00:00Z")
    assert code == 1 and "in progress" in err
    code, _, err = cli(
        "endpoints", "backfill", endpoint_id, "--since", "2026-03-02T11:00Z", "--until", "2026-03-03T00:00Z"
    )
    assert code == 2 and "until: must not be in the future" in err


def test_explain_says_when_an_endpoint_has_ended(cli: Main, job_id: str) -> None:
    ep = as_json(
        cli,
        "endpoints",
        "add",
        job_id,
        "--name",
        "old",
        "--url",
        "https://o.example/",
        "--interval",
        "10m",
        "--ends-at",
        "2026-03-01T00:00Z",
    )
    code, out, _ = cli("endpoints", "explain", ep["id"])
    assert code == 0 and out.startswith("ended at 2026-03-02T12:00:00+00:00")

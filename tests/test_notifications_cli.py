"""The `notifications` and `auto-pause` commands through argparse on a SQLite client."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_notify import add_notify_commands
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade

Main = Callable[..., tuple[int, str, str]]


@pytest.fixture
def client(sqlite_engine: Engine) -> Cronicorn:
    return Cronicorn(sqlite_engine)


@pytest.fixture
def cli(client: Cronicorn, capsys: pytest.CaptureFixture[str]) -> Main:
    parser = argparse.ArgumentParser(prog="cronicorn")
    add_notify_commands(parser.add_subparsers(dest="command", required=True), lambda _args: client)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_a_webhook_channel_is_added_with_its_secret_shown_once_listed_and_removed(cli: Main, client: Cronicorn) -> None:
    code, out, _ = cli("notifications", "add", "webhook", "https://hooks.example.com/x", "--failures", "5", "--json")
    assert code == 0
    made = json.loads(out)
    assert made["failure_threshold"] == 5 and len(made["secret"]) >= 16
    code, out, _ = cli("notifications", "channels")
    assert code == 0 and made["id"] in out and made["secret"] not in out
    assert cli("notifications", "remove", made["id"])[0] == 0
    assert client.list_notification_channels() == []


def test_an_email_channel_for_some_events_of_one_job(cli: Main, client: Cronicorn) -> None:
    job = client.create_job(name="j")
    code, _, _ = cli(
        "notifications", "add", "email", "ops@example.com", "--job", job.id, "--events", "failing,recovered"
    )
    assert code == 0
    [channel] = client.list_notification_channels(job_id=job.id)
    assert channel.events == ["failing", "recovered"] and channel.secret is None


def test_bad_input_exits_2_naming_the_field_and_a_missing_channel_1(cli: Main) -> None:
    code, _, err = cli("notifications", "add", "webhook", "https://x.example.com", "--events", "boom")
    assert code == 2 and "events" in err
    code, _, err = cli("notifications", "add", "email", "nobody")
    assert code == 2 and "target" in err
    assert cli("notifications", "remove", "no-such-channel")[0] == 1


def test_auto_pause_is_set_and_removed(cli: Main, client: Cronicorn) -> None:
    job = client.create_job(name="j")
    code, out, _ = cli("auto-pause", "--job", job.id, "--after", "4")
    assert code == 0 and json.loads(out)["after_failures"] == 4
    code, out, _ = cli("auto-pause", "--job", job.id, "--off")
    assert code == 0 and json.loads(out)["after_failures"] is None
    code, _, err = cli("auto-pause", "--job", job.id, "--after", "0")
    assert code == 2 and "after_failures" in err
    assert cli("notifications", "list")[0] == 0


def test_the_docs_notifications_example_works_as_written(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    section = (root / "docs" / "notifications.md").read_text()
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    upgrade(make_engine(f"sqlite:///{tmp_path / 'cronicorn.db'}"))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) >= 16  # the webhook's secret

"""The `cronicorn` command: object commands on SQLite, and `up` as a newcomer runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path

import pytest

from cronicorn.shell.cli import main
from tests.cluster import ROOT, wait_for


def _status(url: str) -> int:
    import requests

    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRONICORN_HOME", str(tmp_path))
    monkeypatch.delenv("CRONICORN_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_jobs_and_endpoints_can_be_managed_from_the_command_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, out, _ = run(capsys, "jobs", "create", "nightly", "--description", "reports", "--json")
    assert code == 0
    job_id = json.loads(out)["id"]
    code, out, _ = run(
        capsys,
        "endpoints",
        "add",
        job_id,
        "--name",
        "report",
        "--url",
        "https://r.example/run",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
        "--method",
        "POST",
        "--json-body",
        '{"kind": "daily"}',
        "--header",
        "Authorization=Bearer x",
        "--json",
    )
    assert code == 0
    ep = json.loads(out)
    assert (
        ep["baseline_cron"] == "0 2 * * *"
        and ep["body"] == {"kind": "daily"}
        and ep["headers"] == {"Authorization": "***"}  # a secret is write-only, on the command line too
    )
    code, out, _ = run(capsys, "endpoints", "explain", ep["id"], "-n", "2")
    assert code == 0 and out.count("baseline-cron") == 2
    code, out, _ = run(capsys, "endpoints", "pause", ep["id"], "--for", "2h", "--reason", "maintenance")
    assert code == 0 and "paused" in out
    code, _, err = run(capsys, "endpoints", "run-now", ep["id"])
    assert code == 1 and "paused until" in err
    code, out, _ = run(capsys, "endpoints", "resume", ep["id"])
    assert code == 0
    code, out, _ = run(capsys, "endpoints", "hint", ep["id"], "--interval", "10m", "--ttl", "30")
    assert code == 0 and "ai-interval" in out
    code, out, _ = run(capsys, "runs", "list", "--endpoint", ep["id"])
    assert code == 0 and "0 of 0 runs" in out


def test_bad_input_on_the_command_line_is_named_and_exits_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    _, out, _ = run(capsys, "jobs", "create", "j", "--json")
    job_id = json.loads(out)["id"]
    code, _, err = run(
        capsys, "endpoints", "add", job_id, "--name", "x", "--url", "http://x.example", "--interval", "500ms"
    )
    assert code == 2 and "baseline_interval_ms" in err
    code, _, err = run(capsys, "endpoints", "show", "no-such-id")
    assert code == 1 and "not found" in err
    with pytest.raises(SystemExit):
        main(["endpoints", "add", job_id, "--name", "x", "--url", "http://x.example", "--interval", "soon"])


def test_quiet_create_commands_print_only_the_new_id_for_a_shell_to_keep(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, job_id, _ = run(capsys, "jobs", "create", "nightly", "--quiet")
    job_id = job_id.strip()
    assert code == 0 and "\n" not in job_id and " " not in job_id
    code, ep_id, _ = run(
        capsys, "endpoints", "add", job_id, "-q", "--name", "r", "--url", "https://r.example/", "--interval", "1m"
    )
    ep_id = ep_id.strip()
    assert code == 0 and "\n" not in ep_id and " " not in ep_id
    code, out, _ = run(capsys, "endpoints", "show", ep_id, "--json")
    assert code == 0 and json.loads(out)["job_id"] == job_id


@pytest.mark.e2e
def test_up_runs_the_demo_on_sqlite_and_a_bundled_redis_and_stops_cleanly(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CRONICORN_DATABASE_URL", "CRONICORN_BROKER_URL")
    }
    env.update({"CRONICORN_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)})
    log = open(tmp_path / "up.log", "w+")
    from cronicorn.shell.bundled_redis import free_port

    api_port, flower_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cronicorn.shell.cli",
            "up",
            "--demo",
            "--api-port",
            str(api_port),
            "--flower-port",
            str(flower_port),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "up.log").read_text().count(" success ") >= 2, 60, "demo runs in the output")
        wait_for(lambda: _status(f"http://127.0.0.1:{api_port}/api/health") == 200, 30, "the REST API healthy")
    except AssertionError:
        proc.kill()
        print((tmp_path / "up.log").read_text())
        raise
    proc.send_signal(signal.SIGINT)
    assert proc.wait(40) == 0
    output = (tmp_path / "up.log").read_text()
    assert "demo/health" in output and (tmp_path / "cronicorn.db").exists()
    assert output.rstrip().endswith("stopped")
    # The workers stopped before the bundled Redis they use: none of them lost its broker on the way out.
    for role in ("scheduler", "execute", "analysis", "beat"):
        log = (tmp_path / "logs" / f"{role}.log").read_text()
        assert "Connection refused" not in log and "ERROR" not in log, (role, log[-2000:])
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "processes left behind after Ctrl-C"


def test_planner_sessions_can_be_read_from_the_command_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime

    from cronicorn.producer.client import Cronicorn
    from cronicorn.store.analysis_sessions import SessionRecord, save_session

    capsys.readouterr()
    client = Cronicorn.from_url(f"sqlite:///{home / 'cronicorn.db'}")
    ep = client.add_endpoint(
        client.create_job(name="j").id, name="probe", url="https://p.example/", baseline_interval_ms=60_000
    )
    save_session(
        client.engine,
        SessionRecord(
            endpoint_id=ep.id,
            analyzed_at=datetime.now(UTC),
            status="success",
            mode="active",
            model="m",
            tool_calls=[{"tool": "submit_analysis", "args": {}, "result": "{}"}],
            reasoning="stable, nothing to change",
            prompt_tokens=1200,
            completion_tokens=80,
        ),
    )
    code, out, _ = run(capsys, "sessions", "list", "--endpoint", ep.id)
    assert code == 0 and "probe" in out and "stable, nothing to change" in out and "1200" in out
    session_id = out.splitlines()[1].split()[0]
    code, out, _ = run(capsys, "sessions", "show", session_id)
    assert code == 0 and json.loads(out)["tool_calls"][0]["tool"] == "submit_analysis"


def test_tenants_are_created_unlimited_and_moved_between_tiers_from_the_command_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, out, _ = run(capsys, "tenants", "create", "acme")
    assert code == 0 and "created (unlimited)" in out
    code, out, _ = run(capsys, "tenants", "update", "acme", "--tier", "pro")
    assert code == 0 and "acme is now pro" in out
    code, _, err = run(capsys, "tenants", "update", "acme", "--tier", "gold")
    assert code == 2 and "tier" in err and "unknown tier 'gold'" in err
    code, _, err = run(capsys, "tenants", "update", "nobody", "--tier", "pro")
    assert code == 2 and "not found" in err
    code, out, _ = run(capsys, "tenants", "list")
    assert code == 0 and out.split()[:2] == ["acme", "pro"]

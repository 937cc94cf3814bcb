"""Tenants and their signing keys from the command line (on the embedded SQLite database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronicorn.shell.cli import main


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


def test_creating_a_tenant_shows_its_own_signing_secret_once(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code, out, _ = run(capsys, "tenants", "create", "acme")
    assert code == 0 and "Signing secret (shown once" in out
    secret = out.strip().splitlines()[-1]
    code, other, _ = run(capsys, "tenants", "create", "umbrella")
    assert code == 0 and other.strip().splitlines()[-1] != secret and len(secret) == 43
    code, listed, _ = run(capsys, "signing-keys", "list", "acme")
    assert code == 0 and listed.count("current") == 1 and secret not in listed


def test_the_default_tenant_of_the_embedded_mode_can_rotate_its_key(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "default" has no tenants row: it exists through its jobs, and signs all the same.
    assert run(capsys, "jobs", "create", "nightly")[0] == 0
    code, out, _ = run(capsys, "signing-keys", "rotate", "default", "--grace", "0s")
    assert code == 0 and "Secret (shown once" in out
    code, _, err = run(capsys, "signing-keys", "rotate", "nobody", "--grace", "0s")
    assert code == 2 and "tenant 'nobody' not found" in err

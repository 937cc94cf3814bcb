"""The project's own promises: layers that point down, strict types, clean lint, docs that match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cronicorn.core.settings import SETTINGS, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_layers_point_only_downward_and_only_the_workers_know_celery() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]), checked on the installed package layout."""
    result = subprocess.run(
        [sys.executable, "scripts/typecheck.py", "lint-imports"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_product_package_passes_mypy_strict() -> None:
    result = subprocess.run([sys.executable, "scripts/typecheck.py", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff_is_clean(command: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_setting_is_documented_in_the_readme_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for s in SETTINGS:
        assert f"| `{s.env}` | `{s.default}` |" in readme, f"{s.env} missing from the README configuration table"


def test_a_bad_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CRONICORN_TICK_BATCH_SIZE='lots'"):
        Settings.from_env({"CRONICORN_TICK_BATCH_SIZE": "lots"})
    with pytest.raises(SettingsError, match="CRONICORN_SSRF_ALLOW"):
        Settings.from_env({"CRONICORN_SSRF_ALLOW": "10.0.0.0/99"})
    with pytest.raises(SettingsError, match="CRONICORN_EXECUTE_POOL"):
        Settings.from_env({"CRONICORN_EXECUTE_POOL": "prefork"})


def test_the_readme_producer_example_works_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python producers", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    migrate = subprocess.run(
        [sys.executable, "-m", "cronicorn.shell.cli", "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ai-interval" in result.stdout and "baseline_interval_ms" in result.stdout

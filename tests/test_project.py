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


@pytest.mark.parametrize("page", ["README.md", "docs/probe.md"])
def test_the_format_check_covers_the_python_blocks_of_the_readme_and_the_docs(page: str) -> None:
    """`ruff format --check .` above reads Markdown too: a badly formatted Python block there fails it."""
    for block, formatted in (("x=1", False), ("x = 1", True)):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--check", "--stdin-filename", page],
            input=f"# Page\n\n```python\n{block}\n```\n",
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert (result.returncode == 0) is formatted, result.stdout + result.stderr


def test_every_setting_is_documented_in_the_configuration_page_with_its_default() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for s in SETTINGS:
        assert f"| `{s.env}` | `{s.default}` |" in page, f"{s.env} missing from the table in docs/configuration.md"


def test_a_bad_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CRONICORN_TICK_BATCH_SIZE='lots'"):
        Settings.from_env({"CRONICORN_TICK_BATCH_SIZE": "lots"})
    with pytest.raises(SettingsError, match="CRONICORN_SSRF_ALLOW"):
        Settings.from_env({"CRONICORN_SSRF_ALLOW": "10.0.0.0/99"})
    with pytest.raises(SettingsError, match="CRONICORN_EXECUTE_POOL"):
        Settings.from_env({"CRONICORN_EXECUTE_POOL": "prefork"})


def test_the_docs_producer_example_works_as_written(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "python.md").read_text()
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    migrate = subprocess.run(
        [sys.executable, "-m", "cronicorn.shell.cli", "migrate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "ai-interval" in result.stdout
    # The comment under `print(exc)` shows the message as it really is
    shown = code.split("print(exc)  # ", 1)[1].split("\n", 1)[0]
    assert result.stdout.rstrip().endswith(shown), (shown, result.stdout)

"""The built wheel: installing it adds `cronicorn` (and its dist-info) to a user's environment, nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A fresh venv with the wheel installed (no dependencies), and the names that install added."""
    tmp = tmp_path_factory.mktemp("wheel")
    # setuptools builds in the source tree and packs whatever its build/lib holds: a module moved
    # or deleted since the last build would ship as a stale copy. Start that cache from nothing.
    for stale in (ROOT / "build" / "lib", *(ROOT / "build").glob("bdist.*")):
        shutil.rmtree(stale, ignore_errors=True)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("cronicorn-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    before = set(os.listdir(purelib))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return env_dir, set(os.listdir(purelib)) - before


def test_the_wheel_adds_only_the_cronicorn_package_to_the_top_level(installed: tuple[Path, set[str]]) -> None:
    _, added = installed
    assert {name for name in added if not name.endswith(".dist-info")} == {"cronicorn"}
    (dist_info,) = [name for name in added if name.endswith(".dist-info")]
    assert dist_info.startswith("cronicorn-")


def test_the_wheel_holds_every_source_module_under_its_installed_name(installed: tuple[Path, set[str]]) -> None:
    env_dir, _ = installed
    package = next(env_dir.glob("lib/python*/site-packages/cronicorn"))
    shipped = {str(p.relative_to(package)) for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    folders = {"": ROOT / "shared", "workers/": ROOT / "workers", "beat/": ROOT / "beat", "api/": ROOT / "api"}
    expected = {
        prefix + str(p.relative_to(src))
        for prefix, src in folders.items()
        for p in src.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not (prefix == "" and p.relative_to(src).parts[0] in {"workers", "beat", "api"})
    }
    assert shipped == expected
    assert "store/migrations/versions/0001_initial_schema.py" in shipped and "py.typed" in shipped
    # The dashboard's templates and vendored front end: the installed API serves them with no internet.
    assert {"api/dashboard/templates/endpoint.html", "api/dashboard/static/htmx-2.0.11.min.js"} <= shipped
    assert "api/dashboard/static/swagger-ui-5.35.0/swagger-ui-bundle.js" in shipped


def test_the_public_producer_api_and_the_console_script_come_from_the_installed_wheel(
    installed: tuple[Path, set[str]],
) -> None:
    env_dir, _ = installed
    assert (env_dir / "bin" / "cronicorn").exists()
    # Dependencies come from this test run's environment; the package itself from the fresh venv.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_path("purelib")}
    code = (
        "import cronicorn; from cronicorn import Cronicorn, RemoteCronicorn, InvalidInput, verify_signature; "
        "import cronicorn.workers.app, cronicorn.api.app, cronicorn.shell.cli; print(cronicorn.__file__)"
    )
    result = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env, cwd=env_dir
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(env_dir)), result.stdout

"""The README from top to bottom, as a newcomer follows it: every command block runs as written.

`cronicorn up --demo` starts in the background with a home of its own (HOME is a temporary folder,
so `~/.cronicorn` is too), and the tour's Python, REST and CLI blocks run against it in order, each
in its own shell or interpreter, each expected to exit 0; then their effects are checked: the jobs
exist and have run, the dashboard signs in with the printed key. The one liberty taken: the API and
Flower ports (8000 and 5555, `up`'s defaults) become free ones, so the test never collides with a
service already on the machine; `test_the_tour_uses_ups_default_ports` keeps that substitution honest.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from cronicorn import Cronicorn
from cronicorn.shell.bundled_redis import free_port
from cronicorn.shell.cli import build_parser
from tests.cluster import ROOT, wait_for
from tests.readme_blocks import Block, read_blocks

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
API, FLOWER = "127.0.0.1:8000", "127.0.0.1:5555"
UP = "cronicorn up --demo"
TOUR_JOBS = ("tour-python", "tour-rest", "tour-cli")


@dataclass
class Tour:
    """A user's machine for the tour: a home, a shell environment, the ports `up` was given."""

    home: Path
    env: dict[str, str]
    api_port: int = field(default_factory=free_port)
    flower_port: int = field(default_factory=free_port)
    up: subprocess.Popen[str] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def as_written(self, block: Block) -> str:
        """The block's code, its ports moved to this tour's."""
        code = block.code.replace(API, f"127.0.0.1:{self.api_port}").replace(FLOWER, f"127.0.0.1:{self.flower_port}")
        if UP in code:
            code = code.replace(UP, f"{UP} --api-port {self.api_port} --flower-port {self.flower_port}")
        return code

    def up_output(self) -> str:
        return (self.home / "up.log").read_text()

    def client(self) -> Cronicorn:
        return Cronicorn.from_url(f"sqlite:///{self.home / '.cronicorn' / 'cronicorn.db'}")


def _user_env(home: Path) -> dict[str, str]:
    """A newcomer's shell: no Cronicorn settings, no model key, the package under test on the PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRONICORN_", "OPENAI_")) and k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    return env


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    home = tmp_path / "home"
    home.mkdir()
    running = Tour(home, _user_env(home))
    yield running
    if running.up is not None and running.up.poll() is None:  # a failed test: stop what it started
        os.killpg(running.up.pid, signal.SIGKILL)
        running.up.wait(10)


def test_the_readme_marks_every_block_it_does_not_run_with_a_reason() -> None:
    blocks = read_blocks(README)
    skipped = [b for b in blocks if b.mark == "skip"]
    assert all(b.why for b in skipped)
    assert [b.code.strip() for b in blocks if b.mark == "background"] == [UP]
    # The two commands CI and users run stay exactly as they were
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/cronicorn up --demo" in skipped[0].code
    assert skipped[1].code.strip() == "bash scripts/test"


def test_the_tour_uses_ups_default_ports() -> None:
    args = build_parser().parse_args(["up", "--demo"])
    assert (args.api_port, args.flower_port) == (8000, 5555)


def test_the_readme_runs_from_top_to_bottom(tour: Tour) -> None:
    ran = []
    for block in read_blocks(README):
        if not block.runs:
            continue
        if block.mark == "background":
            _start_up(tour, block)
        else:
            _run(tour, block)
        ran.append(block.line)
    assert len(ran) >= 5, f"only the blocks at lines {ran} ran"
    _tour_effects_happened(tour)
    _stop_with_ctrl_c(tour)


def _start_up(tour: Tour, block: Block) -> None:
    with open(tour.home / "up.log", "w") as log:  # the child keeps its own descriptor of it
        # Its own process group, as a terminal's foreground job: Ctrl-C (SIGINT) goes to the whole group.
        tour.up = subprocess.Popen(
            ["bash", "-c", tour.as_written(block)],
            env=tour.env,
            cwd=tour.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def ready() -> bool:
        assert tour.up is not None and tour.up.poll() is None, tour.up_output()
        return "runs appear below as they finish" in tour.up_output()

    wait_for(ready, 90, "cronicorn up to say it is up", poll_s=0.5)
    wait_for(lambda: _status(tour.api + "/api/health") == 200, 60, "the API to answer healthy", poll_s=0.5)


def _run(tour: Tour, block: Block) -> None:
    code = tour.as_written(block)
    if block.lang == "python":
        command = [sys.executable, "-c", code]
    else:  # each block in a fresh shell that stops at the first failing command, as `set -e` does
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    result = subprocess.run(command, env=tour.env, cwd=tour.home, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"README.md:{block.line} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def _tour_effects_happened(tour: Tour) -> None:
    # Step 1: where the dashboard is, and the key that opens it, first; the key is the one kept in the home
    first = tour.up_output().splitlines()[0]
    key = (tour.home / ".cronicorn" / "dashboard.key").read_text().strip()
    assert first.startswith(f"dashboard: {tour.api}/  (sign in with {key}, kept in "), first
    # Step 2: that key signs in, and the demo's endpoints are on the dashboard
    _signed_in_dashboard_lists(tour, key, ["health", "report", "flaky-sync"])
    # Steps 3-5: a job from Python, from REST and from the CLI, each of which has run
    client = tour.client()
    jobs = {j.name: j for j in client.list_jobs()}
    assert set(TOUR_JOBS) <= set(jobs), sorted(jobs)

    def each_tour_job_ran() -> bool:
        return all(client.list_runs(job_id=jobs[name].id, limit=1).total >= 1 for name in TOUR_JOBS)

    wait_for(each_tour_job_ran, 60, "a run of each tour job", poll_s=1)
    # The CLI's hint is in force on its endpoint
    [cli_endpoint] = client.list_endpoints(jobs["tour-cli"].id)
    assert cli_endpoint.ai_hint_interval_ms == 15_000


def _signed_in_dashboard_lists(tour: Tour, key: str, names: list[str]) -> None:
    with requests.Session() as http:
        form = http.get(tour.api + "/login", timeout=10)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None, form.text
        answer = http.post(tour.api + "/login", data={"csrf": token.group(1), "api_key": key, "next": "/endpoints"})
        assert answer.status_code == 200 and answer.url.endswith("/endpoints"), answer.status_code
        for name in names:
            assert f">{name}<" in answer.text, name


def _stop_with_ctrl_c(tour: Tour) -> None:
    assert tour.up is not None
    os.killpg(tour.up.pid, signal.SIGINT)
    assert tour.up.wait(90) == 0, tour.up_output()
    assert tour.up_output().rstrip().endswith("stopped"), tour.up_output()[-2000:]


def _status(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0

"""The embedded default (`cronicorn up`): every role in one supervised process group."""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Any

from sqlalchemy import select

from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.shell.dashboard_key import KEY_FILE, dashboard_key
from cronicorn.shell.roles import api_command, beat_command, flower_command, worker_command
from cronicorn.shell.supervisor import Supervisor
from cronicorn.store.engine import make_engine
from cronicorn.store.installation import signing_key
from cronicorn.store.migrate import upgrade
from cronicorn.store.tables import endpoints, jobs, runs

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.0/8", "::1/128")


def run_embedded(
    settings: Settings, *, demo: bool = False, flower_port: int | None = None, api_port: int = 8000
) -> int:
    redis_proc: subprocess.Popen[bytes] | None = None
    env = dict(os.environ)
    if not settings.redis_url:
        from cronicorn.shell.bundled_redis import start_bundled_redis

        redis_proc, url = start_bundled_redis(settings.home / "redis")
        env["REDIS_URL"] = url
        log.info("bundled Redis at %s", url)
    env["CRONICORN_DATABASE_URL"] = settings.database_url
    # Role logs stay quiet unless asked for, so the demo's run lines are readable.
    env.setdefault("CRONICORN_LOG_LEVEL", "WARNING")
    # The embedded default calls local targets (its own demo included), so loopback is allowed.
    env["CRONICORN_SSRF_ALLOW"] = ",".join(dict.fromkeys((*settings.ssrf_allow, *LOOPBACK)))
    child_settings = Settings.from_env(env)

    engine = make_engine(settings.database_url)
    upgrade(engine)
    installation_key = signing_key(engine, settings.signing_key, utcnow())  # once, before workers race for it

    supervisor = Supervisor(env=env)
    supervisor.add("beat", beat_command(child_settings))
    supervisor.add("scheduler", worker_command("scheduler", child_settings, hostname="scheduler@embedded"))
    supervisor.add("execute", worker_command("execute", child_settings, hostname="execute@embedded"))
    supervisor.add("analysis", worker_command("analysis", child_settings, hostname="analysis@embedded"))
    if api_port:
        supervisor.add("api", api_command(child_settings, port=api_port))
    if flower_port:
        supervisor.add("flower", flower_command(flower_port))

    if api_port:
        # First, before anything else scrolls by: where to look, and the key that opens it.
        key = dashboard_key(engine, settings.home, installation_key, utcnow())
        print(f"dashboard: http://127.0.0.1:{api_port}/  (sign in with {key}, kept in {settings.home / KEY_FILE})")
    on_idle = None
    if demo:
        on_idle = _start_demo(settings)
    api_note = f"; REST API on http://127.0.0.1:{api_port}/api/docs" if api_port else ""
    print(f"cronicorn is up: database {engine.url.render_as_string(hide_password=True)}{api_note}; Ctrl-C stops it")
    try:
        supervisor.run(on_idle=on_idle)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
    return 0


def _start_demo(settings: Settings) -> Any:
    from cronicorn.producer.client import Cronicorn
    from cronicorn.shell.demo import DEMO_JOB, demo_endpoints, start_demo_target

    _server, base_url = start_demo_target()
    client = Cronicorn.from_url(settings.database_url)
    client.register(DEMO_JOB, demo_endpoints(base_url), on_conflict="update")
    print(f"demo target at {base_url}; job 'demo' registered; runs appear below as they happen")
    engine = make_engine(settings.database_url)
    seen_after = [utcnow()]

    def show_new_runs() -> None:
        query = (
            select(
                runs.c.finished_at,
                runs.c.status,
                runs.c.status_code,
                runs.c.duration_ms,
                runs.c.source,
                endpoints.c.name,
                jobs.c.name.label("job"),
            )
            .join(endpoints, endpoints.c.id == runs.c.endpoint_id)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(runs.c.finished_at > seen_after[0])
            .order_by(runs.c.finished_at)
        )
        with engine.connect() as conn:
            for r in conn.execute(query):
                seen_after[0] = r.finished_at
                print(
                    f"{r.finished_at:%H:%M:%S} {r.job}/{r.name:<12} {r.status:<8} "
                    f"{r.status_code or '-':>3} {r.duration_ms or 0:>5} ms  ({r.source})",
                    flush=True,
                )

    return show_new_runs

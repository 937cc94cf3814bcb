"""The embedded default (`cronicorn up`): every role in one supervised process group.

It holds its home (a second `up` there is refused), says where its services are in the home's state
file (the other commands find the bundled Redis there), prints one line per run, and stops the
workers before the Redis they use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.shell.dashboard_key import KEY_FILE, dashboard_key
from cronicorn.shell.roles import api_command, beat_command, flower_command, worker_command
from cronicorn.shell.run_lines import run_printer
from cronicorn.shell.supervisor import Supervisor
from cronicorn.shell.up_state import AlreadyRunning, UpLock, UpState
from cronicorn.store.engine import make_engine
from cronicorn.store.installation import signing_key
from cronicorn.store.migrate import upgrade

LOOPBACK = ("127.0.0.0/8", "::1/128")


def run_embedded(
    settings: Settings,
    *,
    demo: bool = False,
    flower_port: int | None = 5555,
    api_port: int = 8000,
    verbose: bool = False,
) -> int:
    try:
        lock = UpLock(settings.home)
    except AlreadyRunning as exc:
        print(f"error: {exc}", flush=True)
        return 1
    try:
        return _run_holding_home(settings, lock, demo=demo, flower_port=flower_port, api_port=api_port, verbose=verbose)
    finally:
        lock.release()


def _run_holding_home(
    settings: Settings, lock: UpLock, *, demo: bool, flower_port: int | None, api_port: int, verbose: bool
) -> int:
    ports = (("API", api_port), ("Flower", flower_port))
    busy = [f"{what} port {port}" for what, port in ports if port and _taken(port)]
    if busy:
        print(f"error: {' and '.join(busy)} already in use; choose others with --api-port / --flower-port", flush=True)
        return 1
    env = dict(os.environ)
    env["CRONICORN_DATABASE_URL"] = settings.database_url
    # Quiet unless asked: our run lines are the output; Celery's logs go to the home's logs/ folder.
    env["CRONICORN_LOG_LEVEL"] = "INFO" if verbose else env.get("CRONICORN_LOG_LEVEL", "WARNING")
    # The embedded default calls local targets (its own demo included), so loopback is allowed.
    env["CRONICORN_SSRF_ALLOW"] = ",".join(dict.fromkeys((*settings.ssrf_allow, *LOOPBACK)))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(_fresh_metrics_dir(env, settings.home))

    engine = make_engine(settings.database_url)
    upgrade(engine)
    installation_key = signing_key(engine, settings.signing_key, utcnow())  # once, before workers race for it

    redis_proc: subprocess.Popen[bytes] | None = None
    if not settings.redis_url:
        from cronicorn.shell.bundled_redis import start_bundled_redis

        redis_proc, env["REDIS_URL"] = start_bundled_redis(settings.home / "redis")
    try:
        return _supervise(
            settings, lock, env, installation_key,
            demo=demo, flower_port=flower_port, api_port=api_port, verbose=verbose,
        )  # fmt: skip
    finally:
        if redis_proc is not None:  # last: every worker has stopped using it
            redis_proc.terminate()
            redis_proc.wait(10)


def _supervise(
    settings: Settings,
    lock: UpLock,
    env: dict[str, str],
    installation_key: bytes,
    *,
    demo: bool,
    flower_port: int | None,
    api_port: int,
    verbose: bool,
) -> int:
    child_settings = Settings.from_env(env)
    api_url = f"http://127.0.0.1:{api_port}" if api_port else None
    flower_url = f"http://127.0.0.1:{flower_port}" if flower_port else None
    lock.publish(
        UpState(
            pid=os.getpid(),
            redis_url=env.get("REDIS_URL"),
            database_url=settings.database_url,
            api_url=api_url,
            flower_url=flower_url,
            metrics_dir=env["PROMETHEUS_MULTIPROC_DIR"],
        )
    )
    logs = settings.home / "logs"
    supervisor = Supervisor(env=env, log_dir=None if verbose else logs)
    supervisor.add("beat", beat_command(child_settings))
    supervisor.add("scheduler", worker_command("scheduler", child_settings, hostname="scheduler@embedded"))
    supervisor.add("execute", worker_command("execute", child_settings, hostname="execute@embedded"))
    supervisor.add("analysis", worker_command("analysis", child_settings, hostname="analysis@embedded"))
    if api_port:
        supervisor.add("api", api_command(child_settings, port=api_port))
    if flower_port:
        supervisor.add("flower", flower_command(flower_port))

    engine = make_engine(settings.database_url)
    if api_url:
        # First, before anything else scrolls by: where to look, and the key that opens it.
        key = dashboard_key(engine, settings.home, installation_key, utcnow())
        say(f"dashboard: {api_url}/  (sign in with {key}, kept in {settings.home / KEY_FILE})")
    database = engine.url.render_as_string(hide_password=True)
    redis_note = "bundled" if not settings.redis_url else "REDIS_URL"
    say(f"cronicorn is up: database {database}, Redis {env.get('REDIS_URL')} ({redis_note}); Ctrl-C stops it")
    if api_url:
        say(f"  REST API  {api_url}/api/docs   metrics {api_url}/metrics")
    if flower_url:
        say(f"  Flower    {flower_url}")
    say(f"  planner   {planner_note(child_settings)}")
    say(f"  logs      {'here (--verbose)' if verbose else str(logs) + ' (--verbose prints them here)'}")
    print_runs = run_printer(engine, utcnow(), say)
    if demo:
        _start_demo(settings)
    say("runs appear below as they finish")
    supervisor.run(on_idle=print_runs)
    say("stopped")
    return 0


def planner_note(settings: Settings) -> str:
    """Whether the AI planner runs, and why not when it does not."""
    if not settings.planner_enabled:
        return "off: OPENAI_API_KEY is not set, so endpoints follow their schedules and backoff only"
    return f"on: model {settings.ai_model}, {settings.ai_mode} mode"


def say(line: str) -> None:
    print(line, flush=True)


def _taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _fresh_metrics_dir(env: dict[str, str], home: Path) -> Path:
    """Where every role's process writes its metrics, for the API's /metrics to add up (emptied per run)."""
    path = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or home / "metrics")
    shutil.rmtree(path, ignore_errors=True)  # counts of a previous run's processes would add up forever
    path.mkdir(parents=True, exist_ok=True)
    return path


def _start_demo(settings: Settings) -> None:
    from cronicorn.producer.client import Cronicorn
    from cronicorn.shell.demo import DEMO_JOB, demo_endpoints, start_demo_target

    _server, base_url = start_demo_target()
    client = Cronicorn.from_url(settings.database_url)
    client.register(DEMO_JOB, demo_endpoints(base_url), on_conflict="update")
    say(f"  demo      target at {base_url}; job 'demo' registered")

"""The chaos suite: the whole system under faults, its promises measured at the receiving end.

    python -m bench chaos                 # about 8 minutes, 200 endpoints, a fault every 20 s
    python -m bench chaos --short         # about 80 s, 40 endpoints (tests/test_chaos.py runs it)
    python -m bench.chaos --duration 300 --endpoints 100 --fault-period 15 --seed 7

It starts its own PostgreSQL cluster and redis-server (so it can restart them; never the
machine's shared ones), a recording HTTP target (bench/chaos_target.py), 2 beats, 2 scheduler
workers and 2 execute workers (one thread pool, one gevent pool). Then it breaks things one at a
time: kill -9 of an execute worker, a scheduler worker or a beat (restarted a second later, as a
supervisor would), SIGSTOP of an execute worker past its lease then SIGCONT, a Redis restart (all
queues and locks lost), PostgreSQL restarts (`pg_ctl restart -m fast` and `-m immediate`), and a
broker outage (Redis frozen: connections hang, nothing is refused). During each fault it steers
through the Python client: pauses and resumes a job, asks "run now", edits an endpoint's URL.
Faults stop before the end, and a quiet tail checks that every active endpoint runs again within
5 s + its interval. bench/chaos_report.py turns what the target recorded and what the database
holds into the figures, saved in bench/results/chaos.json (chaos_short.json for --short).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from bench.chaos_report import report
from bench.chaos_services import PrivatePostgres, PrivateRedis
from bench.harness import ROOT, Table, save, wait_until
from cronicorn import Cronicorn
from cronicorn.core.errors import CronicornError
from cronicorn.shell.bundled_redis import free_port
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.store.tables import endpoints, jobs, runs
from tests.cluster import Cluster

FAULTS = (
    "kill_execute",
    "kill_scheduler",
    "kill_beat",
    "stop_execute",
    "redis_restart",
    "pg_restart_fast",
    "pg_restart_immediate",
    "broker_outage",
)
TIMEOUT_MS = 3000  # every endpoint's timeout and max execution time
GRACE_MS = 2000  # CRONICORN_LEASE_GRACE_MS: a lease is 5 s
LEASE_S = (TIMEOUT_MS + GRACE_MS) / 1000


@dataclass(frozen=True)
class Config:
    duration_s: float
    endpoints: int
    fault_period_s: float
    intervals_s: tuple[int, ...]
    seed: int
    short: bool

    @property
    def tail_s(self) -> float:
        """Quiet time after the last fault: the longest interval + 5 s, and a margin to tell late from lost."""
        return max(self.intervals_s) + 5 + 5


@dataclass
class Fault:
    kind: str
    target: str
    started: float
    cleared: float = 0.0
    steering: dict[str, Any] = field(default_factory=dict)


class Chaos:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.root = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.root.chmod(0o755)  # the postgres user walks through it to its own folder
        self.faults: list[Fault] = []
        self.exits: list[dict[str, Any]] = []
        self.steering: list[dict[str, Any]] = []
        self.starters: dict[str, Callable[[], subprocess.Popen[bytes]]] = {}
        self.down: set[str] = set()  # processes we stopped on purpose
        self.lock = threading.Lock()
        self.running = True
        self._seen_upto = 0
        self._called: set[str] = set()
        self.restarts: dict[str, int] = {}

    # --- set-up ------------------------------------------------------------------------------
    def start(self) -> None:
        self.pg = PrivatePostgres(self.root)
        self.redis = PrivateRedis(self.root)
        self.engine: Engine = make_engine(self.pg.url())
        upgrade(self.engine)
        port = free_port()
        log = open(self.root / "target.log", "wb")
        self.target_proc = subprocess.Popen(
            [sys.executable, "-m", "bench.chaos_target", "--port", str(port)], cwd=ROOT, stdout=log, stderr=log
        )
        self.target = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{self.target}/__records?from=999999999", timeout=1).ok, 15, "chaos target")
        self.client = Cronicorn(self.engine)
        self.endpoints = self._register()
        self.cluster = Cluster(
            database_url=self.pg.url(),
            redis_url=self.redis.url,
            log_dir=self.root,
            extra_env={"CRONICORN_LEASE_GRACE_MS": str(GRACE_MS), "CRONICORN_LOG_LEVEL": "INFO"},
        )
        c = self.cluster
        self.starters = {
            "beat-1": lambda: c.start_beat("beat-1"),
            "beat-2": lambda: c.start_beat("beat-2"),
            "scheduler-1": lambda: c.start_worker("scheduler", "scheduler-1"),
            "scheduler-2": lambda: c.start_worker("scheduler", "scheduler-2"),
            "execute-threads": lambda: c.start_worker("execute", "execute-threads", concurrency=8),
            "execute-gevent": lambda: c.start_worker(
                "execute", "execute-gevent", concurrency=20, env={"CRONICORN_EXECUTE_POOL": "gevent"}
            ),
        }
        for start in self.starters.values():
            start()
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    def _register(self) -> dict[str, dict[str, Any]]:
        """Endpoints in jobs of 10 (short) or 50, each with an interval and a delay under half of it."""
        per_job = 10 if self.cfg.short else 50
        made: dict[str, dict[str, Any]] = {}
        job_id = ""
        for i in range(self.cfg.endpoints):
            if i % per_job == 0:
                job_id = self.client.create_job(name=f"chaos-{i // per_job}").id
            interval = self.rng.choice(self.cfg.intervals_s)
            delay = self.rng.choice([20, 100, 300, 800, 1500])
            delay = min(delay, interval * 1000 // 2)
            url = f"{self.target}/e/{i}?ms={delay}"
            ep = self.client.add_endpoint(
                job_id,
                name=f"e{i}",
                url=url,
                baseline_interval_ms=interval * 1000,
                timeout_ms=TIMEOUT_MS,
                max_execution_time_ms=TIMEOUT_MS,
            )
            made[ep.id] = {"job_id": job_id, "interval_s": interval, "path": f"/e/{i}", "delay_ms": delay}
        return made

    # --- the supervisor: restart what died, and note what died without being told to ------------
    def _supervise(self) -> None:
        while self.running:
            with self.lock:
                for name, proc in list(self.cluster.procs.items()):
                    code = proc.poll()
                    if code is None or name in self.down:
                        continue
                    tail = (self.root / f"{name}.log").read_text(errors="replace")[-1500:]
                    self.exits.append({"process": name, "exit_code": code, "at": time.time(), "log_tail": tail})
                    print(f"!! {name} exited unexpectedly with {code}; restarting it", flush=True)
                    self._restart(name)
            time.sleep(0.25)

    def _kill(self, name: str) -> None:
        with self.lock:
            self.down.add(name)
            self.cluster.kill(name)
        time.sleep(1.0)  # a supervisor's restart delay
        with self.lock:
            self._restart(name)
            self.down.discard(name)

    def _restart(self, name: str) -> None:
        """Start `name` again; the log of its previous life is kept as <name>.<n>.log."""
        n = self.restarts[name] = self.restarts.get(name, 0) + 1
        log = self.root / f"{name}.log"
        if log.exists():
            log.rename(self.root / f"{name}.{n}.log")
        self.starters[name]()

    def _signal(self, name: str, sig: signal.Signals) -> None:
        os.killpg(self.cluster.procs[name].pid, sig)

    # --- faults ----------------------------------------------------------------------------------
    def inject(self, kind: str, n: int) -> Fault:
        turn = sum(1 for f in self.faults if f.kind == kind)  # each kind alternates between the two of a role
        target = {
            "kill_execute": ("execute-threads", "execute-gevent")[turn % 2],
            "stop_execute": ("execute-gevent", "execute-threads")[turn % 2],
            "kill_scheduler": f"scheduler-{turn % 2 + 1}",
            "kill_beat": f"beat-{turn % 2 + 1}",
        }.get(kind, "redis" if kind in ("redis_restart", "broker_outage") else "postgres")
        fault = Fault(kind, target, started=time.time())
        print(f"-- {time.strftime('%H:%M:%S')} fault {n + 1}: {kind} ({target})", flush=True)
        steer = threading.Thread(target=self._steer, args=(fault, n), daemon=True)
        steer.start()
        if kind.startswith("kill_"):
            self._kill(target)
        elif kind == "stop_execute":
            self._signal(target, signal.SIGSTOP)
            time.sleep(LEASE_S + 3)  # frozen past the lease of whatever it was running
            self._signal(target, signal.SIGCONT)
        elif kind == "redis_restart":
            self.redis.restart(down_s=2)
        elif kind == "broker_outage":
            self.redis.freeze(5 if self.cfg.short else 10)
        elif kind == "pg_restart_fast":
            self.pg.restart("fast")
        elif kind == "pg_restart_immediate":
            self.pg.restart("immediate")
        fault.cleared = time.time()
        self.faults.append(fault)
        steer.join(timeout=90)
        return fault

    def _steer(self, fault: Fault, n: int) -> None:
        """Steer while the fault is on: pause a job, run one endpoint now, move another's URL;
        resume the job once the fault has cleared. Each call retried until the database answers."""
        ids = list(self.endpoints)
        job_ids = sorted({e["job_id"] for e in self.endpoints.values()})
        job = job_ids[n % len(job_ids)]
        paused_members = {i for i in ids if self.endpoints[i]["job_id"] == job}
        others = [i for i in ids if i not in paused_members]
        run_now, edited = self.rng.sample(others, 2)
        time.sleep(0.3)
        fault.steering["pause"] = self._call("pause_job", job, lambda: self.client.pause_job(job))
        fault.steering["run_now"] = self._call("run_now", run_now, lambda: self.client.run_now(run_now))
        fault.steering["run_now"]["job"] = self.endpoints[run_now]["job_id"]
        path = f"{self.endpoints[edited]['path']}?ms={self.endpoints[edited]['delay_ms']}&v={n}"
        fault.steering["edit_url"] = self._call(
            "update_endpoint", edited, lambda: self.client.update_endpoint(edited, url=f"{self.target}{path}")
        )
        fault.steering["edit_url"]["new_path"] = path
        while not fault.cleared:
            time.sleep(0.1)
        time.sleep(1.0)
        fault.steering["resume"] = self._call("resume_job", job, lambda: self.client.resume_job(job))

    def _call(self, what: str, subject: str, fn: Callable[[], object]) -> dict[str, Any]:
        started, failures, error, refused = time.time(), 0, "", ""
        while True:
            try:
                fn()
                break
            except DBAPIError as exc:  # the database is restarting: try again
                failures += 1
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                if time.time() - started > 60:
                    break
                time.sleep(0.5)
            except CronicornError as exc:  # the client said no: that is the answer
                refused = f"{type(exc).__name__}: {exc}"
                break
        done = {"call": what, "subject": subject, "at": started, "done_at": time.time(), "failures": failures}
        if failures:
            done["last_error"] = error
        if refused:
            done["refused"] = refused
        self.steering.append(done)
        return done

    def run_faults(self) -> None:
        cfg = self.cfg
        kinds = list(FAULTS)
        self.rng.shuffle(kinds)
        faults_until = time.time() + cfg.duration_s - cfg.tail_s
        n = 0
        next_at = time.time()
        # The short run tries every kind once, whatever its duration; a long one cycles until its end.
        while (n < len(FAULTS)) if cfg.short else (time.time() < faults_until):
            time.sleep(max(0.0, next_at - time.time()))
            fault = self.inject(kinds[n % len(kinds)], n)
            n += 1
            if n % len(kinds) == 0:
                self.rng.shuffle(kinds)
            next_at = max(fault.started + cfg.fault_period_s, fault.cleared + 1.0)

    # --- the run -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.start()
        warm = time.time()
        wait_until(lambda: len(self._called_endpoints()) >= len(self.endpoints), 60, "every endpoint's first call")
        print(f"-- all {len(self.endpoints)} endpoints called once after {time.time() - warm:.1f}s", flush=True)
        self.run_faults()
        # Faults stop when the last has cleared and its paused job is resumed: from then on every
        # active endpoint must run within 5 s + its interval.
        last_clear = max([f.cleared for f in self.faults] + [s["done_at"] for s in self.steering], default=time.time())
        time.sleep(max(0.0, last_clear + self.cfg.tail_s - time.time()))
        end = time.time()
        return self.collect(last_clear, end)

    def _called_endpoints(self) -> set[str]:
        records = requests.get(f"{self.target}/__records?from={self._seen_upto}", timeout=30).json()
        self._seen_upto += len(records)
        self._called.update(r[0].split(":", 1)[0] for r in records if r[0])
        return self._called

    def collect(self, last_clear: float, end: float) -> dict[str, Any]:
        records = requests.get(f"{self.target}/__records?from=0", timeout=60).json()
        with self.engine.connect() as conn:
            run_rows = [dict(r._mapping) for r in conn.execute(select(runs))]
            endpoint_rows = [dict(r._mapping) for r in conn.execute(select(endpoints))]
            job_rows = [dict(r._mapping) for r in conn.execute(select(jobs))]
        return report(
            records=[tuple(r) for r in records],
            runs=run_rows,
            endpoint_rows=endpoint_rows,
            job_rows=job_rows,
            registered=self.endpoints,
            faults=[asdict(f) for f in self.faults],
            exits=self.exits,
            steering=self.steering,
            last_clear=last_clear,
            end=end,
            lease_s=LEASE_S,
        ) | {"endpoints": self.endpoints}

    def stop(self) -> None:
        self.running = False
        time.sleep(0.3)
        for name in ("execute-threads", "execute-gevent"):
            proc = self.cluster.procs.get(name) if hasattr(self, "cluster") else None
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
        if hasattr(self, "cluster"):
            self.cluster.stop()
        if hasattr(self, "target_proc"):
            self.target_proc.terminate()
            self.target_proc.wait(10)
        if hasattr(self, "redis"):
            self.redis.stop()
        if hasattr(self, "engine"):
            self.engine.dispose()
        if hasattr(self, "pg"):
            self.pg.stop()


def config(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="about 80 s, 40 endpoints: the CI version")
    parser.add_argument("--duration", type=float, help="seconds of faults and tail, set-up excluded (default 480)")
    parser.add_argument("--endpoints", type=int, help="endpoints registered (default 200; short 40)")
    parser.add_argument("--fault-period", type=float, help="seconds between fault starts (default 20; short 5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    short = bool(args.short)
    return Config(
        duration_s=args.duration or (75 if short else 480),
        endpoints=args.endpoints or (40 if short else 200),
        fault_period_s=args.fault_period or (5 if short else 20),
        intervals_s=(1, 2, 3) if short else (1, 2, 5, 10),
        seed=args.seed,
        short=short,
    )


def main(argv: list[str] | None = None) -> int:
    cfg = config(argv)
    chaos = Chaos(cfg)
    print(f"chaos: {cfg}; logs in {chaos.root}", flush=True)
    try:
        figures = chaos.run()
    finally:
        chaos.stop()
    figures["config"] = asdict(cfg)
    figures["logs"] = str(chaos.root)
    figures["command"] = "python -m bench chaos" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    name = "chaos_short" if cfg.short else "chaos"
    save(
        Table(name, ["fault", "count", "fault_s_max", "recovery_s_max", "unrecovered"], figures.pop("per_fault")),
        figures,
    )
    for line in figures["summary"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

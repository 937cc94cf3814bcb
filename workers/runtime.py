"""Per-process resources for tasks: one engine, Redis client and HTTP session per worker process.

Built lazily on first use, after any fork, and shared by every thread or greenlet of the
process (a per-thread client opens a connection per task under gevent and halves throughput).
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import redis
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.core.tiers import parse_tiers
from cronicorn.dispatch.runner import Runner
from cronicorn.http.budget import MIB, ResponseBudget
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.notify.delivery import Notifier
from cronicorn.notify.email import SmtpServer
from cronicorn.planner.analyst import Analyst, openai_client, planner_config
from cronicorn.store.attempts import Leases
from cronicorn.store.engine import make_engine
from cronicorn.store.installation import signing_key
from cronicorn.store.quota import RunQuota
from cronicorn.store.signing_keys import KeyRing
from cronicorn.telemetry.metrics import count_statements

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.database_url)
        count_statements(engine)
        return engine

    @cached_property
    def redis(self) -> redis.Redis:
        # Every command here is a short lock or key operation: a frozen or unreachable Redis must
        # fail it within seconds (the claim's lease then decides), never hang an execute worker.
        return redis.Redis.from_url(
            self.settings.effective_redis_url, health_check_interval=30, socket_timeout=5, socket_connect_timeout=5
        )

    @cached_property
    def runner(self) -> Runner:
        key = signing_key(self.engine, self.settings.signing_key, utcnow())
        http = HttpCaller(
            guard=AddressGuard(self.settings.ssrf_allow),
            signing_key=key,
            max_redirects=self.settings.max_redirects,
            # One runner per process: its calls share one budget for the response bytes they hold.
            response_budget=ResponseBudget(self.settings.response_budget_mb * MIB),
        )
        return Runner(
            engine=self.engine,
            redis=self.redis,
            http=http,
            clock=utcnow,
            leases=Leases(attempt_ms=self.settings.attempt_lease_ms, grace_ms=self.settings.lease_grace_ms),
            heartbeat_ms=self.settings.heartbeat_ms,
            max_attempts=self.settings.max_attempts,
            keyring=KeyRing(self.engine, key, utcnow),
            calls=self.calls,
        )

    @cached_property
    def calls(self) -> ThreadPoolExecutor:
        """Room for every call of every message in progress: a batch's calls never queue behind
        another message's (threads start lazily; under gevent they are greenlets)."""
        size = (_pool_size or self.settings.execute_concurrency) * self.settings.execute_batch_size
        log.info("execute calls: up to %d side by side in this process", size)
        return ThreadPoolExecutor(max_workers=size, thread_name_prefix="call")

    @cached_property
    def quota(self) -> RunQuota:
        return RunQuota(self.engine, parse_tiers(self.settings.tiers_json))

    @cached_property
    def analyst(self) -> Analyst:
        s = self.settings
        return Analyst(
            engine=self.engine,
            redis=self.redis,
            ai=openai_client(s),
            clock=utcnow,
            config=planner_config(s),
            min_spacing_s=s.ai_min_spacing_s,
            timeout_s=s.ai_timeout_s,
        )

    @cached_property
    def notifier(self) -> Notifier:
        s = self.settings
        # Its own caller: a webhook's response never takes room from the scheduled calls' budget.
        http = HttpCaller(
            guard=AddressGuard(s.ssrf_allow), signing_key=b"", max_redirects=s.max_redirects, clock=utcnow
        )
        smtp = SmtpServer(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_from,
            username=s.smtp_username,
            password=s.smtp_password,
            starttls=s.smtp_starttls,
        )
        return Notifier(engine=self.engine, http=http, smtp=smtp, clock=utcnow)

    def build(self) -> None:
        """Build every lazily made resource now (each is cached on first use)."""
        _ = self.runner, self.analyst, self.notifier


_lock = threading.Lock()
_runtime: Runtime | None = None
_pool_size: int | None = None  # the worker's real pool size (`--concurrency` may override the setting)


def set_pool_size(size: int) -> None:
    global _pool_size
    _pool_size = size


def _green_psycopg() -> None:
    """Under the gevent pool, make psycopg2 wait on the hub instead of blocking the whole process."""
    if "gevent" not in sys.modules:
        return
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
        log.info("gevent pool: psycopg2 waits cooperatively (psycogreen)")


def _freeze_startup_objects() -> None:
    """Move everything alive now (modules, Celery, SQLAlchemy, the runtime) out of the collector's sight.

    They live as long as the process, yet every full collection walked them all: 100 to 250 ms with
    the whole process stopped, every 10 to 30 s under load, and any call due meanwhile left late
    by that much (seen with `gc.callbacks` under `bench.dispatch_lag`). Frozen, a full collection
    walks only what was made since: 2 to 5 ms.
    """
    gc.collect()
    gc.freeze()


def runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _green_psycopg()
            _runtime = Runtime(Settings.from_env())
            # Build the runner and analyst up front, under the lock, so threads never race to build two.
            _runtime.build()
            _freeze_startup_objects()
        return _runtime


def reset_runtime() -> None:
    """Forget per-process resources (after a fork, the parent's connections must not be shared)."""
    global _runtime
    with _lock:
        if _runtime is not None and "engine" in _runtime.__dict__:
            _runtime.engine.dispose(close=False)
        _runtime = None

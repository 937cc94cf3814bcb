"""Settings: one table of environment variables, read once at the entry points.

Every variable has a name, a default, a parser and a line of documentation; the configuration
table in docs/configuration.md and the deployment checks are made from this table, so docs and code
cannot disagree on a default.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cronicorn.core.model import CatchUp

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


def _int(name: str, raw: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={raw!r}: must be <= {maximum}")
    return value


def _float(name: str, raw: str, *, minimum: float = 0.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be >= {minimum}")
    return value


def _cidrs(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in raw.split(",") if part.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not a CIDR (e.g. 127.0.0.0/8)") from None
    return items


def _str(name: str, raw: str) -> str:
    return raw


def _catch_up(name: str, raw: str) -> str:
    allowed = [c.value for c in CatchUp]
    if raw not in allowed:
        raise SettingsError(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
    return raw


def _opt(name: str, raw: str) -> str | None:
    return raw or None


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("", "0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r}: expected true or false")


def default_home() -> Path:
    return Path(os.path.expanduser("~")) / ".cronicorn"


@dataclass(frozen=True)
class Setting:
    env: str
    attr: str
    default: str
    parse: Callable[..., Any]
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CRONICORN_HOME",
        "home",
        "",
        _str,
        "Folder for the embedded default's SQLite file, bundled Redis and signing key (default ~/.cronicorn).",
    ),
    Setting(
        "CRONICORN_DATABASE_URL",
        "database_url",
        "",
        _str,
        "SQLAlchemy URL; postgresql+psycopg2://... in production (default: SQLite file in CRONICORN_HOME).",
    ),
    Setting(
        "REDIS_URL",
        "redis_url",
        "",
        _opt,
        "Redis for locks (and the broker unless CRONICORN_BROKER_URL is set). Unset: `cronicorn up` starts a "
        "bundled Redis, which the other commands on the same CRONICORN_HOME find while it runs; otherwise "
        "redis://127.0.0.1:6379/0.",
    ),
    Setting(
        "CRONICORN_BROKER_URL",
        "broker_url",
        "",
        _opt,
        "Celery broker URL (default: REDIS_URL): redis://... or RabbitMQ's amqp://user:pass@host:5672/vhost. "
        "Redis stays the lock service either way.",
    ),
    Setting(
        "CRONICORN_SIGNING_KEY",
        "signing_key",
        "",
        _opt,
        "HMAC key that signs every request. Unset: generated on first start and stored in the database.",
    ),
    Setting(
        "CRONICORN_SSRF_ALLOW",
        "ssrf_allow",
        "",
        _cidrs,
        "Comma-separated CIDRs the SSRF guard lets through (private/loopback/link-local are refused "
        "otherwise). `cronicorn up` adds 127.0.0.0/8,::1/128.",
    ),
    Setting(
        "CRONICORN_MAX_REDIRECTS",
        "max_redirects",
        "5",
        lambda n, r: _int(n, r, minimum=0),
        "Redirect hops followed per call; each hop passes the SSRF guard.",
    ),
    Setting(
        "CRONICORN_RESPONSE_BUDGET_MB",
        "response_budget_mb",
        "64",
        lambda n, r: _int(n, r, minimum=16),
        "MiB of response bodies one worker process reads at once, shared by all its calls: each reserves its "
        "size cap before it is sent and waits (within its timeout) for room. At least 16, so the largest cap "
        "(10 MiB) fits.",
    ),
    Setting(
        "CRONICORN_TICK_INTERVAL_S",
        "tick_interval_s",
        "1.0",
        lambda n, r: _float(n, r, minimum=0.1),
        "Seconds between ticks enqueued by beat.",
    ),
    Setting(
        "CRONICORN_TICK_BATCH_SIZE",
        "tick_batch_size",
        "200",
        lambda n, r: _int(n, r, minimum=1),
        "Endpoints claimed per transaction by one tick.",
    ),
    Setting(
        "CRONICORN_TICK_MAX_BATCHES",
        "tick_max_batches",
        "25",
        lambda n, r: _int(n, r, minimum=1),
        "One tick claims at most this many batches' worth of endpoints before leaving the rest to the next tick.",
    ),
    Setting(
        "CRONICORN_TICK_GATHER_MS",
        "tick_gather_ms",
        "100",
        lambda n, r: _int(n, r, minimum=1, maximum=1000),
        "A tick claims for its whole interval, in rounds at least this far apart: endpoints falling due "
        "within it share messages. While execute messages wait unstarted, a round is put off this long.",
    ),
    Setting(
        "CRONICORN_TICK_AHEAD_MS",
        "tick_ahead_ms",
        "150",
        lambda n, r: _int(n, r, minimum=0, maximum=1000),
        "Free slots are claimed this long before they fall due and the execute worker holds each call until "
        "its slot, so claiming, publishing and starting do not make runs late (0: claim when due).",
    ),
    Setting(
        "CRONICORN_TICK_POLL_MS",
        "tick_poll_ms",
        "250",
        lambda n, r: _int(n, r, minimum=10, maximum=5000),
        "How often a waiting tick reads when the next endpoint falls due: a run-now, a new endpoint or an "
        "edit made elsewhere is claimed within this (one index read each; an idle scheduler's whole cost).",
    ),
    Setting(
        "CRONICORN_SWEEP_INTERVAL_S",
        "sweep_interval_s",
        "60",
        lambda n, r: _float(n, r, minimum=1.0),
        "Seconds between sweeps that mark runs abandoned after their lease.",
    ),
    Setting(
        "CRONICORN_LEASE_GRACE_MS",
        "lease_grace_ms",
        "30000",
        lambda n, r: _int(n, r, minimum=0),
        "Added to an endpoint's timeout to form the longest an attempt may hold its endpoint, "
        "heartbeats included (the bound the broker's visibility timeout must exceed).",
    ),
    Setting(
        "CRONICORN_CLAIM_LEASE_MS",
        "claim_lease_ms",
        "4000",
        lambda n, r: _int(n, r, minimum=500),
        "How long a claim waits for an execute worker to start it before a tick claims it again "
        "(a lost message or a scheduler killed before publishing costs this long, not a whole lease).",
    ),
    Setting(
        "CRONICORN_ATTEMPT_LEASE_MS",
        "attempt_lease_ms",
        "4000",
        lambda n, r: _int(n, r, minimum=1000),
        "A started attempt's lease, renewed every heartbeat while its call is in flight: a worker "
        "killed or frozen mid-call loses its claim this long after its last renewal.",
    ),
    Setting(
        "CRONICORN_HEARTBEAT_MS",
        "heartbeat_ms",
        "1000",
        lambda n, r: _int(n, r, minimum=100),
        "How often an execute worker renews the leases and locks of its calls in flight "
        "(at most a third of CRONICORN_ATTEMPT_LEASE_MS).",
    ),
    Setting(
        "CRONICORN_MAX_ATTEMPTS",
        "max_attempts",
        "3",
        lambda n, r: _int(n, r, minimum=1),
        "Attempts per slot after abandoned attempts (worker lost) before the slot is given up.",
    ),
    Setting(
        "CRONICORN_CATCH_UP",
        "catch_up",
        "coalesce",
        _catch_up,
        "Catch-up policy of endpoints created without one, for slots missed while the scheduler was down: "
        "coalesce (one run at once), skip (the next slot still ahead) or all (each, within the endpoint's "
        "catch_up_window_ms). Stored on each endpoint, so changing it never changes existing endpoints.",
    ),
    Setting(
        "CRONICORN_VISIBILITY_TIMEOUT_S",
        "visibility_timeout_s",
        "7200",
        lambda n, r: _int(n, r, minimum=60),
        "Redis broker visibility timeout; must exceed the longest lease (checked at worker start).",
    ),
    Setting(
        "CRONICORN_RABBITMQ_CONSUMER_TIMEOUT_S",
        "rabbitmq_consumer_timeout_s",
        "1800",
        lambda n, r: _int(n, r, minimum=60),
        "With a RabbitMQ broker: the server's consumer_timeout (rabbitmq.conf; its default is 1800 s). An "
        "unacknowledged message older than it closes the worker's channel, so it must exceed the longest lease "
        "(checked at worker start).",
    ),
    Setting(
        "CRONICORN_EXECUTE_POOL",
        "execute_pool",
        "threads",
        _str,
        "Pool of execute workers started by `cronicorn worker execute` / `up`: threads or gevent.",
    ),
    Setting(
        "CRONICORN_EXECUTE_CONCURRENCY",
        "execute_concurrency",
        "8",
        lambda n, r: _int(n, r, minimum=1),
        "Execute messages in progress per execute worker process (pool threads or greenlets); each runs its "
        "batch of calls side by side.",
    ),
    Setting(
        "CRONICORN_EXECUTE_BATCH_SIZE",
        "execute_batch_size",
        "50",
        lambda n, r: _int(n, r, minimum=1, maximum=100),
        "Claims per execute message: their calls run side by side and their runs are stored in shared "
        "transactions (a message costs the worker about as much CPU as three calls). 1 sends one message per run.",
    ),
    Setting("CRONICORN_LOG_LEVEL", "log_level", "INFO", _str, "Log level of every role."),
    Setting(
        "OPENAI_API_KEY",
        "openai_api_key",
        "",
        _opt,
        "Key for the AI planner's model. Unset: the planner is off and baselines run unchanged.",
    ),
    Setting(
        "OPENAI_BASE_URL",
        "openai_base_url",
        "",
        _opt,
        "OpenAI-compatible endpoint (Ollama, vLLM, LiteLLM ...), e.g. http://localhost:11434/v1.",
    ),
    Setting("CRONICORN_AI_MODEL", "ai_model", "gpt-4o-mini", _str, "Model name sent to the chat completions API."),
    Setting(
        "CRONICORN_AI_TEMPERATURE",
        "ai_temperature",
        "0.7",
        lambda n, r: _float(n, r, minimum=0.0),
        "Sampling temperature of the planner.",
    ),
    Setting(
        "CRONICORN_AI_MAX_STEPS",
        "ai_max_steps",
        "15",
        lambda n, r: _int(n, r, minimum=2),
        "Model calls per session at most; the last one is forced to submit_analysis.",
    ),
    Setting(
        "CRONICORN_AI_SESSION_TOKEN_CAP",
        "ai_session_token_cap",
        "60000",
        lambda n, r: _int(n, r, minimum=1),
        "Tokens one session may use before it is stopped (with a warning).",
    ),
    Setting(
        "CRONICORN_AI_MONTHLY_TOKEN_BUDGET",
        "ai_monthly_token_budget",
        "5000000",
        lambda n, r: _int(n, r, minimum=0),
        "Tokens per tenant per calendar month (UTC); past it sessions are skipped and say so.",
    ),
    Setting(
        "CRONICORN_AI_MIN_SPACING_S",
        "ai_min_spacing_s",
        "300",
        lambda n, r: _float(n, r, minimum=0.0),
        "Minimum seconds between two analyses of one endpoint.",
    ),
    Setting(
        "CRONICORN_AI_MODE",
        "ai_mode",
        "active",
        _str,
        "active: hints are applied; shadow: sessions record what they would do and apply nothing.",
    ),
    Setting(
        "CRONICORN_AI_TIMEOUT_S",
        "ai_timeout_s",
        "60",
        lambda n, r: _float(n, r, minimum=1.0),
        "Timeout of one model call.",
    ),
    Setting(
        "CRONICORN_AI_RETRIES",
        "ai_retries",
        "2",
        lambda n, r: _int(n, r, minimum=0),
        "Retries of a failed model call (with backoff) before the session is recorded as failed.",
    ),
    Setting(
        "CRONICORN_TIERS",
        "tiers_json",
        "",
        _str,
        'JSON that replaces or adds tenant tiers, e.g. {"team": {"endpoints": 50, "min_interval_ms": 5000, '
        '"runs_per_month": 50000, "ai_tokens_per_month": 500000}}; defaults: free, pro, enterprise.',
    ),
    Setting(
        "CRONICORN_API_READS_PER_MIN",
        "api_reads_per_min",
        "120",
        lambda n, r: _int(n, r, minimum=1),
        "REST reads allowed per API key per minute (shared by all API replicas through Redis).",
    ),
    Setting(
        "CRONICORN_API_WRITES_PER_MIN",
        "api_writes_per_min",
        "60",
        lambda n, r: _int(n, r, minimum=1),
        "REST writes allowed per API key per minute.",
    ),
    Setting(
        "CRONICORN_API_MAX_REQUEST_BYTES",
        "api_max_request_bytes",
        "1048576",
        lambda n, r: _int(n, r, minimum=1024),
        "Largest REST request body, counted while it streams in and before it is parsed; larger ones get a 413.",
    ),
    Setting(
        "CRONICORN_MAX_BODY_BYTES",
        "max_body_bytes",
        "65536",
        lambda n, r: _int(n, r, minimum=16),
        "Largest request body (bodyJson, as compact UTF-8 JSON) an endpoint may declare, from every edge.",
    ),
    Setting(
        "CRONICORN_MAX_HEADERS",
        "max_headers",
        "50",
        lambda n, r: _int(n, r, minimum=0),
        "Most request headers an endpoint may declare.",
    ),
    Setting(
        "CRONICORN_MAX_HEADER_NAME_CHARS",
        "max_header_name_chars",
        "256",
        lambda n, r: _int(n, r, minimum=1),
        "Longest request header name an endpoint may declare.",
    ),
    Setting(
        "CRONICORN_MAX_HEADER_VALUE_CHARS",
        "max_header_value_chars",
        "8192",
        lambda n, r: _int(n, r, minimum=1),
        "Longest request header value an endpoint may declare.",
    ),
    Setting(
        "CRONICORN_METRICS_PORT",
        "metrics_port",
        "0",
        lambda n, r: _int(n, r, minimum=0),
        "Port on which each worker process serves Prometheus metrics (0: off). The API serves /metrics itself.",
    ),
    Setting(
        "CRONICORN_ANALYSIS_INTERVAL_S",
        "analysis_interval_s",
        "30",
        lambda n, r: _float(n, r, minimum=0.5),
        "Seconds between beat's selections of endpoints whose scheduled analysis is due.",
    ),
    Setting(
        "CRONICORN_AI_REACT_INTERVAL_S",
        "ai_react_interval_s",
        "2",
        lambda n, r: _float(n, r, minimum=0.5),
        "Seconds between beat's selections of endpoints an upstream's new result asked to analyse "
        "(reads only those requests; the minimum spacing still holds).",
    ),
    Setting(
        "CRONICORN_NOTIFY_INTERVAL_S",
        "notify_interval_s",
        "2",
        lambda n, r: _float(n, r, minimum=0.5),
        "Seconds between beat's rounds of notification delivery (one indexed read of the pending ones each).",
    ),
    Setting(
        "CRONICORN_SMTP_HOST",
        "smtp_host",
        "",
        _opt,
        "SMTP server that sends e-mail notifications. Unset: e-mail channels cannot deliver (recorded as errors).",
    ),
    Setting("CRONICORN_SMTP_PORT", "smtp_port", "25", lambda n, r: _int(n, r, minimum=1, maximum=65535), "SMTP port."),
    Setting("CRONICORN_SMTP_FROM", "smtp_from", "cronicorn@localhost", _str, "Sender address of e-mail notifications."),
    Setting("CRONICORN_SMTP_USERNAME", "smtp_username", "", _opt, "SMTP login (unset: no login)."),
    Setting("CRONICORN_SMTP_PASSWORD", "smtp_password", "", _opt, "SMTP password."),
    Setting("CRONICORN_SMTP_STARTTLS", "smtp_starttls", "false", _bool, "Upgrade the SMTP connection with STARTTLS."),
)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    database_url: str = ""
    redis_url: str | None = None
    broker_url: str | None = None
    signing_key: str | None = None
    ssrf_allow: tuple[str, ...] = ()
    max_redirects: int = 5
    response_budget_mb: int = 64
    tick_interval_s: float = 1.0
    tick_batch_size: int = 200
    tick_max_batches: int = 25
    tick_gather_ms: int = 100
    tick_ahead_ms: int = 150
    tick_poll_ms: int = 250
    sweep_interval_s: float = 60.0
    lease_grace_ms: int = 30_000
    claim_lease_ms: int = 4000
    attempt_lease_ms: int = 4000
    heartbeat_ms: int = 1000
    max_attempts: int = 3
    catch_up: str = "coalesce"
    visibility_timeout_s: int = 7200
    rabbitmq_consumer_timeout_s: int = 1800
    execute_pool: str = "threads"
    execute_concurrency: int = 8
    execute_batch_size: int = 50
    log_level: str = "INFO"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    ai_model: str = "gpt-4o-mini"
    ai_temperature: float = 0.7
    ai_max_steps: int = 15
    ai_session_token_cap: int = 60_000
    ai_monthly_token_budget: int = 5_000_000
    ai_min_spacing_s: float = 300.0
    ai_mode: str = "active"
    ai_timeout_s: float = 60.0
    ai_retries: int = 2
    analysis_interval_s: float = 30.0
    ai_react_interval_s: float = 2.0
    notify_interval_s: float = 2.0
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "cronicorn@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    tiers_json: str = ""
    metrics_port: int = 0
    api_reads_per_min: int = 120
    api_writes_per_min: int = 60
    api_max_request_bytes: int = 1_048_576
    max_body_bytes: int = 65_536
    max_headers: int = 50
    max_header_name_chars: int = 256
    max_header_value_chars: int = 8192

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw = env.get(s.env, s.default)
            values[s.attr] = s.parse(s.env, raw)
        raw_home = values.pop("home")
        home = Path(raw_home) if raw_home else default_home()
        if values["execute_pool"] not in ("threads", "gevent"):
            raise SettingsError(f"CRONICORN_EXECUTE_POOL={values['execute_pool']!r}: expected threads or gevent")
        if values["ai_mode"] not in ("active", "shadow"):
            raise SettingsError(f"CRONICORN_AI_MODE={values['ai_mode']!r}: expected active or shadow")
        if values["heartbeat_ms"] * 3 > values["attempt_lease_ms"]:
            # Two renewals may fail (a slow statement, a short database hiccup) before the lease ends.
            raise SettingsError(
                f"CRONICORN_HEARTBEAT_MS={values['heartbeat_ms']}: must be at most a third of "
                f"CRONICORN_ATTEMPT_LEASE_MS={values['attempt_lease_ms']}"
            )
        from cronicorn.core.tiers import parse_tiers  # validated here so a bad value stops start-up

        try:
            parse_tiers(values["tiers_json"])
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        if not values["database_url"]:
            values["database_url"] = f"sqlite:///{home / 'cronicorn.db'}"
        return cls(home=home, **values)

    @property
    def planner_enabled(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or "redis://127.0.0.1:6379/0"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.effective_redis_url

    @property
    def broker_is_amqp(self) -> bool:
        """Whether the broker is RabbitMQ (amqp:// or pyamqp://) rather than Redis."""
        return self.effective_broker_url.split("://", 1)[0] in AMQP_SCHEMES


assert {s.attr for s in SETTINGS} == {f.name for f in fields(Settings)}, "settings table and dataclass differ"

"""`cronicorn`: run the roles (`up`, `worker`, `beat`, `migrate`) and manage jobs, endpoints and runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings, SettingsError


def _settings(*, find_up: bool = True) -> Settings:
    """The settings; with no REDIS_URL set, those of the `cronicorn up` running on this home, if any."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"error: {exc}") from None
    if find_up and not settings.redis_url:
        from cronicorn.shell.up_state import running_up

        up = running_up(settings.home)
        if up is not None and up.redis_url:
            # In the environment too: `worker` and `flower` become Celery, which reads it there.
            os.environ["REDIS_URL"] = up.redis_url
            return Settings.from_env()
    return settings


def _client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from cronicorn.producer.client import Cronicorn
    from cronicorn.producer.input_caps import InputCaps

    settings = _settings()
    return Cronicorn.from_url(settings.database_url, tenant_id=args.tenant, caps=InputCaps.of(settings))


def cmd_health(args: argparse.Namespace) -> int:
    import json

    import redis

    from cronicorn.monitoring.health import check_health, queue_depth_reader
    from cronicorn.store.engine import make_engine

    settings = _settings()
    client = redis.Redis.from_url(settings.effective_redis_url, socket_timeout=2, socket_connect_timeout=2)
    engine = make_engine(settings.database_url)
    report = check_health(engine, client, utcnow(), queue_depths=queue_depth_reader(settings, client))
    print(json.dumps(report, indent=2))
    return 0 if report["status"] == "ok" else 1


def cmd_migrate(_args: argparse.Namespace) -> int:
    from cronicorn.store.engine import make_engine
    from cronicorn.store.migrate import current_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    print(f"database at {current_revision(engine)} ({engine.url.render_as_string(hide_password=True)})")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from cronicorn.shell.roles import worker_command

    argv = worker_command(args.role, _settings(), concurrency=args.concurrency, hostname=args.hostname)
    os.execv(argv[0], argv)  # become the worker: signals from the orchestrator reach Celery directly
    return 0  # pragma: no cover


def cmd_beat(_args: argparse.Namespace) -> int:
    from cronicorn.shell.roles import beat_command

    argv = beat_command(_settings())
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_flower(args: argparse.Namespace) -> int:
    from cronicorn.shell.roles import flower_command

    _settings()  # a running `up`'s bundled Redis, when REDIS_URL is not set: Flower reads it from the environment
    argv = flower_command(args.port)
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_up(args: argparse.Namespace) -> int:
    from cronicorn.shell.embedded import run_embedded

    return run_embedded(
        _settings(find_up=False),
        demo=args.demo,
        flower_port=args.flower_port or None,
        api_port=args.api_port,
        verbose=args.verbose,
    )


def cmd_api(args: argparse.Namespace) -> int:
    from cronicorn.shell.roles import api_command

    argv = api_command(_settings(), host=args.host, port=args.port)
    os.execv(argv[0], argv)
    return 0  # pragma: no cover


def cmd_mcp(args: argparse.Namespace) -> int:
    from cronicorn.api.mcp.serve import run_http, run_stdio

    settings = _settings()
    if args.transport == "stdio":
        # stdout is the protocol: logs go to stderr (logging's default), never print() here.
        run_stdio(settings, api_key=os.environ.get("CRONICORN_API_KEY") or None, tenant_id=args.tenant)
    else:
        run_http(settings, host=args.host, port=args.port)
    return 0


def cmd_tenants(args: argparse.Namespace) -> int:
    from cronicorn.core.errors import CronicornError
    from cronicorn.core.tiers import parse_tiers
    from cronicorn.store.engine import make_engine
    from cronicorn.store.tenants import create_tenant, list_tenants, set_tenant_tier

    settings = _settings()
    engine = make_engine(settings.database_url)
    tiers = parse_tiers(settings.tiers_json)
    try:
        if args.tenants_command == "update":
            tenant = set_tenant_tier(engine, args.tenant_id, args.tier, tiers)
            print(f"tenant {tenant['id']} is now {tenant['tier']}")
        elif args.tenants_command == "create":
            tenant = create_tenant(engine, utcnow(), args.tenant_id, args.name, args.tier, tiers)
            print(f"tenant {tenant['id']} created ({tenant['tier']})")
            if tenant["signing_secret"]:
                print(f"Signing secret (shown once; give it to its receivers):\n{tenant['signing_secret']}")
            else:
                print("It keeps the signing key it already had (`cronicorn signing-keys rotate` for a new one).")
        else:
            for t in list_tenants(engine):
                print(f"{t['id']:<24} {t['tier']:<10} {t['name']}")
    except CronicornError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_signing_keys(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from cronicorn.core.durations import parse_duration
    from cronicorn.core.errors import CronicornError
    from cronicorn.store.engine import make_engine
    from cronicorn.store.signing_keys import list_signing_keys, rotate_signing_key

    engine = make_engine(_settings().database_url)
    try:
        if args.signing_command == "rotate":
            grace = timedelta(milliseconds=parse_duration(args.grace))
            info, secret = rotate_signing_key(engine, utcnow(), args.tenant_id, grace=grace)
            print(
                f"signing key {info.id} for tenant {info.tenant_id}; previous keys sign until "
                f"{utcnow() + grace:%Y-%m-%d %H:%M} UTC."
                f"\nSecret (shown once; give it to your receivers):\n{secret}"
            )
        else:
            for k in list_signing_keys(engine, args.tenant_id):
                print(
                    f"{k.id}  created {k.created_at:%Y-%m-%d %H:%M}  "
                    + (f"retires {k.retires_at:%Y-%m-%d %H:%M}" if k.retires_at else "current")
                )
    except (CronicornError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from cronicorn.core.errors import CronicornError
    from cronicorn.store.engine import make_engine
    from cronicorn.store.tenants import create_key, list_keys, revoke_key

    engine = make_engine(_settings().database_url)
    try:
        if args.keys_command == "create":
            key, plain = create_key(engine, utcnow(), args.tenant_id, args.name)
            print(f"key {key.id} for tenant {key.tenant_id} (shown once, store it now):\n{plain}")
        elif args.keys_command == "list":
            for k in list_keys(engine, args.tenant_id):
                state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
                print(f"{k.id}  {k.prefix}...  {k.name:<20} {state}")
        else:
            revoke_key(engine, utcnow(), args.key_id)
            print(f"key {args.key_id} revoked")
    except CronicornError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cronicorn", description=__doc__)
    parser.add_argument("--tenant", default="default", help="tenant whose objects the commands see (default: default)")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run everything on this machine (SQLite and a bundled Redis unless configured)")
    up.add_argument(
        "--demo", action="store_true", help="register a demo job against a built-in target and show its runs"
    )
    up.add_argument("--flower-port", type=int, default=5555, help="port of Flower (0: do not run it)")
    up.add_argument("--verbose", action="store_true", help="print Celery's and the API's logs, not only runs")
    up.add_argument("--api-port", type=int, default=8000, help="port of the REST API (0: do not run it)")
    up.set_defaults(func=cmd_up)

    sub.add_parser("migrate", help="bring the database to the newest schema").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "health", help="database, Redis, queue depths and tick freshness; exit 1 when unhealthy"
    ).set_defaults(func=cmd_health)

    worker = sub.add_parser("worker", help="run a Celery worker for one role")
    worker.add_argument("role", choices=["scheduler", "execute", "analysis"])
    worker.add_argument("--concurrency", type=int, default=None)
    worker.add_argument("--hostname", default=None)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("beat", help="run Celery beat (enqueues ticks and sweeps)").set_defaults(func=cmd_beat)

    api = sub.add_parser("api", help="serve the REST API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(func=cmd_api)

    mcp = sub.add_parser(
        "mcp",
        help="serve the MCP server for AI assistants: stdio (one tenant: CRONICORN_API_KEY's, else --tenant) "
        "or streamable HTTP at /mcp (each request's API key picks its tenant)",
    )
    mcp.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP only")
    mcp.add_argument("--port", type=int, default=8001, help="HTTP only")
    mcp.set_defaults(func=cmd_mcp)

    tenants = sub.add_parser("tenants", help="manage tenants of the REST API").add_subparsers(
        dest="tenants_command", required=True
    )
    p = tenants.add_parser("create", help="create a tenant")
    p.add_argument("tenant_id")
    p.add_argument("--name")
    p.add_argument(
        "--tier", default="unlimited", help="free, pro, enterprise or one of CRONICORN_TIERS (default: unlimited)"
    )
    p.set_defaults(func=cmd_tenants)
    p = tenants.add_parser("update", help="move a tenant to another tier")
    p.add_argument("tenant_id")
    p.add_argument("--tier", required=True, help="free, pro, enterprise, unlimited or one of CRONICORN_TIERS")
    p.set_defaults(func=cmd_tenants)
    tenants.add_parser("list", help="list tenants").set_defaults(func=cmd_tenants)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("create", help="create a key (shown once)")
    p.add_argument("tenant_id")
    p.add_argument("--name", default="key")
    p.set_defaults(func=cmd_keys)
    p = keys.add_parser("list", help="list a tenant's keys")
    p.add_argument("tenant_id")
    p.set_defaults(func=cmd_keys)
    p = keys.add_parser("revoke", help="revoke a key")
    p.add_argument("key_id")
    p.set_defaults(func=cmd_keys)

    signing = sub.add_parser("signing-keys", help="rotate a tenant's request signing key").add_subparsers(
        dest="signing_command", required=True
    )
    p = signing.add_parser("rotate", help="new key; the old ones keep signing for --grace")
    p.add_argument("tenant_id")
    p.add_argument("--grace", default="24h", help="how long previous keys keep signing (e.g. 24h)")
    p.set_defaults(func=cmd_signing_keys)
    p = signing.add_parser("list", help="a tenant's signing keys")
    p.add_argument("tenant_id")
    p.set_defaults(func=cmd_signing_keys)

    flower = sub.add_parser("flower", help="run Flower, the live view of workers and tasks")
    flower.add_argument("--port", type=int, default=5555)
    flower.set_defaults(func=cmd_flower)

    from cronicorn.shell.cli_objects import add_object_commands

    add_object_commands(sub, _client)
    from cronicorn.shell.cli_notify import add_notify_commands

    add_notify_commands(sub, _client)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("CRONICORN_LOG_LEVEL", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

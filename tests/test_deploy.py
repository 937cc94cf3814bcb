"""The deployment files: every role present, every command a real CLI entry point, every variable a known setting."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from cronicorn.core.settings import SETTINGS
from cronicorn.shell.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
ROLES = {"migrate", "beat", "scheduler", "execute", "analysis", "api", "mcp", "flower"}


def known_env_vars() -> frozenset[str]:
    return frozenset(s.env for s in SETTINGS)


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def check_command(args: list[str], where: str) -> str:
    commands = cli_commands()
    assert args and args[0] in commands, f"{where}: `cronicorn {' '.join(args)}` is not a command"
    commands[args[0]].parse_args(args[1:])  # raises SystemExit on arguments the command does not take
    return "worker-" + args[1] if args[0] == "worker" else args[0]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_runs_every_role_with_real_commands_and_known_settings() -> None:
    services = compose()["services"]
    roles = set()
    for name, service in services.items():
        if service.get("image", "").startswith(("postgres", "redis", "rabbitmq")):
            continue
        role = check_command(service["command"], f"docker-compose.yml service {name}")
        roles.add(role.removeprefix("worker-"))
        unknown = set(service.get("environment", {})) - known_env_vars()
        assert not unknown, f"service {name} sets unknown variables {unknown}"
        assert "healthcheck" in service or name == "migrate", f"service {name} has no health check"
    assert ROLES <= roles
    assert {"postgres", "redis"} <= set(services)
    assert "noeviction" in " ".join(services["redis"]["command"])


def test_compose_has_a_rabbitmq_profile_the_roles_wait_for_only_when_it_is_on() -> None:
    services = compose()["services"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert "healthcheck" in services["rabbitmq"]
    # The roles read the broker URL from the environment and wait for RabbitMQ only when its profile runs.
    assert "CRONICORN_BROKER_URL" in services["scheduler"]["environment"]
    assert services["scheduler"]["depends_on"]["rabbitmq"]["required"] is False


def test_kubernetes_manifests_run_every_role_with_real_commands_and_known_settings() -> None:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").rglob("*.yaml")):
        docs.extend((path, d) for d in yaml.safe_load_all(path.read_text()) if d)
    kustomization = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (ROOT / "deploy" / "k8s" / resource).exists(), resource
    roles = set()
    kinds = {d["kind"] for _, d in docs}
    for path, doc in docs:
        if doc["kind"] == "ConfigMap" or doc["kind"] == "Secret":
            data = doc.get("data") or doc.get("stringData") or {}
            assert not set(data) - known_env_vars(), f"{path.name}: unknown variables {set(data) - known_env_vars()}"
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                roles.add(check_command(container["args"], f"{path.name}").removeprefix("worker-"))
                assert doc["kind"] == "Job" or "resources" in container, f"{path.name}: no resource requests"
    assert ROLES <= roles
    assert {"PodDisruptionBudget", "ScaledObject", "HorizontalPodAutoscaler", "Service"} <= kinds


def test_env_example_documents_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    for s in SETTINGS:
        assert f"# {s.env}=" in text, s.env


def _metric_names_exposed() -> set[str]:
    """Every metric the code defines (counters, histograms and the gauges read at scrape time)."""
    import re as _re

    source = "".join(p.read_text() for p in (ROOT / "shared").rglob("*.py"))
    names = set(_re.findall(r'"(cronicorn_[a-z0-9_]+)"', source))
    # Histograms and counters are exposed with suffixes.
    return names | {n + s for n in names for s in ("_bucket", "_sum", "_count", "_total")}


def test_the_dashboard_and_alerts_use_only_metrics_that_exist_and_cover_the_new_ones() -> None:
    import json
    import re as _re

    exposed = _metric_names_exposed()
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "cronicorn.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    rules = [r["expr"] for g in alerts["groups"] for r in g["rules"]]
    for expr in exprs + rules:
        for name in _re.findall(r"cronicorn_[a-z0-9_]+", expr):
            assert name in exposed, f"{name} in {expr!r} is not a metric the code exposes"
    wanted = {
        "cronicorn_run_errors_total",
        "cronicorn_endpoints_failing",
        "cronicorn_endpoints_paused",
        "cronicorn_oldest_overdue_seconds",
        "cronicorn_queue_depth",
    }
    assert all(any(w in e for e in exprs) for w in wanted), "a new metric has no dashboard panel"
    assert all(any(w in r for r in rules) for w in wanted - {"cronicorn_endpoints_paused"}), "a new metric has no alert"

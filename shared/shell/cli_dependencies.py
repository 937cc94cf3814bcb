"""`cronicorn endpoints depend | dependency | undepend | decisions`: dependencies from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cronicorn.core.errors import InvalidInput
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.cli_output import show

Handler = Callable[[Cronicorn, argparse.Namespace], None]
Command = Callable[[Any, str, Handler, str], argparse.ArgumentParser]


def _template(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None


def _depend(client: Cronicorn, args: argparse.Namespace) -> None:
    fields: dict[str, Any] = {
        "upstream_endpoint_ids": args.upstream,
        "on": args.on,
        "fan_in": args.fan_in,
        "trigger": not args.no_trigger,
        "gate": args.gate,
    }
    for name in ("condition", "batch_key", "template"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    show(args, client.set_dependency(args.endpoint_id, fields))


def _dependency(client: Cronicorn, args: argparse.Namespace) -> None:
    declared = client.get_dependency(args.endpoint_id)
    if declared is None:
        raise InvalidInput.one("endpoint_id", "has no dependency")
    show(args, declared)


def _undepend(client: Cronicorn, args: argparse.Namespace) -> None:
    print("removed" if client.clear_dependency(args.endpoint_id) else "it had no dependency")


def _decisions(client: Cronicorn, args: argparse.Namespace) -> None:
    found = client.decisions(args.endpoint_id)
    if args.json:
        show(args, found)
        return
    for d in found:
        print(f"{d['at']}  {d['kind']:<18} {d['reason']}")


def add_dependency_commands(eps: Any, cmd: Command) -> None:
    p = cmd(eps, "depend", _depend, "make an endpoint run on (or only after) runs of other endpoints")
    p.add_argument("endpoint_id")
    p.add_argument("--upstream", action="append", required=True, help="an upstream endpoint id (repeat for several)")
    p.add_argument("--on", choices=["success", "failure", "any"], default="success", help="the outcome that counts")
    p.add_argument("--condition", help="on the upstream response, e.g. '$.status == \"done\" and status < 300'")
    p.add_argument("--fan-in", choices=["all", "any"], default="all", help="all upstreams, or any one")
    p.add_argument("--batch-key", help="where the batch id is, e.g. $.batch_id: one run per new key")
    p.add_argument("--no-trigger", action="store_true", help="do not run as soon as it is met")
    p.add_argument("--gate", action="store_true", help="skip other runs while it is not met")
    p.add_argument("--template", type=_template, help='JSON, e.g. {"body": {"batch": "key", "from": "run_id"}}')
    p = cmd(eps, "dependency", _dependency, "show an endpoint's dependency and what it waits on")
    p.add_argument("endpoint_id")
    p = cmd(eps, "undepend", _undepend, "remove an endpoint's dependency")
    p.add_argument("endpoint_id")
    p = cmd(eps, "decisions", _decisions, "why an endpoint ran or did not, lately (dependencies)")
    p.add_argument("endpoint_id")

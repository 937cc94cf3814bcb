"""How the CLI prints what the client returns: tables for lists, aligned details, JSON with --json."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any


def plain(value: Any) -> Any:
    """Records as JSON-ready values (times as ISO 8601)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def table(rows: Sequence[Any], columns: Sequence[str]) -> str:
    cells = [[_fmt(getattr(r, c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def details(value: Any) -> str:
    """One object as aligned `field  value` lines (times in UTC)."""
    names = [f.name for f in fields(value)]
    width = max(len(n) for n in names)
    return "\n".join(f"{n.ljust(width)}  {_fmt(getattr(value, n))}" for n in names)


def show(args: argparse.Namespace, value: Any, columns: Sequence[str] | None = None) -> None:
    """JSON with --json (or for plain mappings); a table for lists and `columns`; details otherwise."""
    if args.json or not (is_dataclass(value) or isinstance(value, list)):
        print(json.dumps(plain(value), indent=2, default=str))
    elif columns is not None:
        print(table(value if isinstance(value, list) else [value], columns))
    else:
        print(details(value))


JOB_COLS = ("id", "name", "status", "created_at")
EP_COLS = ("id", "name", "method", "url", "next_run_at", "next_run_source", "failure_count", "paused_until")
RUN_COLS = ("id", "status", "source", "attempt", "started_at", "duration_ms", "status_code", "error_message")
SESSION_COLS = (
    "id",
    "endpoint_name",
    "analyzed_at",
    "status",
    "mode",
    "prompt_tokens",
    "completion_tokens",
    "reasoning",
)

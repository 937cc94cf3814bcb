"""What the stores can hold: one rule for every string, id, JSON document and time that comes in.

PostgreSQL refuses a NUL in text and in jsonb (even escaped as \\u0000), and neither store can write a
lone UTF-16 surrogate as UTF-8; SQLite would keep a NUL that PostgreSQL refuses. So every edge (Python
client, CLI, REST, planner tools) refuses them here, naming the field, instead of the database failing
halfway through a write. Times are held to a range in which converting to UTC and adding any interval,
lease or hint reach stays inside the calendar, so no later arithmetic can overflow.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, field_validator

from cronicorn.core.errors import FieldError, InvalidInput

MAX_JSON_DEPTH = 64
"""Deepest nesting of a JSON document (and of any list or mapping) accepted from outside."""
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Every time accepted lies in [EARLIEST, LATEST): a millennium of headroom for the arithmetic done on it."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JSON_WORDS = "JSON (objects, arrays, text, numbers, true, false or null)"


def text_problem(value: str) -> str | None:
    """Why the stores cannot hold `value`, or None when they can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL (\\x00) characters"
    return "must not contain unpaired surrogate characters (\\ud800-\\udfff)"


def _short(path: str) -> str:
    return path if len(path) <= 100 else path[:100] + "…"


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


def _scalar_problem(value: Any, strict_json: bool) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, float) and not math.isfinite(value) and strict_json:
        return "must be a finite number (NaN and Infinity are not JSON)"
    if strict_json and not (value is None or isinstance(value, (bool, int, float))):
        return f"must be {_JSON_WORDS}, not {type(value).__name__}"
    return None


def nested_problem(value: Any, *, strict_json: bool, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why `value` (text, or lists and mappings of it at any depth) cannot be stored, with where; else None.

    `strict_json` also refuses what JSON cannot say: non-text keys, NaN and Infinity, other Python types.
    Walked with an explicit stack, so a deep (or cyclic) value is refused, never a RecursionError.
    """
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)) and depth >= max_depth:
            return f"must not nest deeper than {max_depth} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem is not None:
                        return f"keys {problem}" + ("" if path == "$" else f" (in {_short(path)})")
                    stack.append((child, _key_path(path, key), depth + 1))
                elif strict_json:
                    return f"object keys must be text, not {type(key).__name__} (in {_short(path)})"
                else:
                    stack.append((child, f"{path}[{key!r}]", depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        else:
            problem = _scalar_problem(item, strict_json)
            if problem is not None:
                return problem if path == "$" else f"{problem} (at {_short(path)})"
    return None


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (as stored and sent); ValueError if it cannot be written."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())


def instant_problem(value: datetime) -> str | None:
    """Why `value` is not a time we accept, or None."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must be an aware datetime (with a time zone)"
    window = f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return window
    return None if EARLIEST <= utc < LATEST else window


def _instant(value: datetime) -> datetime:
    problem = instant_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_instant)]
"""An aware datetime the stores and every later sum of durations can hold."""


def check_ids(**ids: str | None) -> None:
    """Refuse ids (given by field name; None means "not given") that are not storable text."""
    errors = []
    for field, value in ids.items():
        if value is None:
            continue
        problem = "must be text" if not isinstance(value, str) else text_problem(value)
        if problem is not None:
            errors.append(FieldError(field, problem))
    if errors:
        raise InvalidInput(errors)


def check_instants(**values: datetime | None) -> None:
    """Refuse times (given by field name; None means "not given") outside the accepted range."""
    errors = []
    for field, value in values.items():
        if value is None:
            continue
        problem = "must be an aware datetime" if not isinstance(value, datetime) else instant_problem(value)
        if problem is not None:
            errors.append(FieldError(field, problem))
    if errors:
        raise InvalidInput(errors)


class StorableModel(BaseModel):
    """A model none of whose fields may hold text the stores cannot keep, at any depth."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        problem = nested_problem(value, strict_json=False)
        if problem is not None:
            raise ValueError(problem)
        return value

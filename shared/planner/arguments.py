"""Tool arguments declared once: rendered as the JSON schema the model sees, and enforced on what it sends.

Every cap the model is told (minimum, maximum, length, format, how far ahead a time may lie) is
the one this module checks, because both come from the same `Param`. Missing, unknown or invalid
arguments are `ToolError`s naming the argument, sent back to the model as the tool's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["integer", "number", "string", "boolean", "datetime", "strings"]
_MISSING = object()


class ToolError(Exception):
    """Bad arguments or a refused action: sent back to the model as the tool's result."""


@dataclass(frozen=True)
class Param:
    """One argument of a tool, with its caps."""

    name: str
    kind: Kind
    description: str
    required: bool = False
    nullable: bool = False  # null is a value with a meaning of its own (e.g. "resume"), not "absent"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    clamp: bool = False  # out of [minimum, maximum]: held to the bound and said so, instead of refused
    future: bool = False  # a datetime that must lie after now
    max_ahead: timedelta | None = None  # a datetime at most this far after now

    def schema(self) -> dict[str, Any]:
        """This argument as a JSON schema property."""
        json_type = {"datetime": "string", "strings": "array"}.get(self.kind, self.kind)
        out: dict[str, Any] = {"type": [json_type, "null"] if self.nullable else json_type}
        out["description"] = self.description + self._caps_in_words()
        if self.kind == "datetime":
            out["format"] = "date-time"
        if self.kind == "strings":
            out["items"] = {"type": "string"}
        caps = {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "exclusiveMinimum": self.exclusive_minimum,
            "maxLength": self.max_length,
            "minLength": 1 if self.kind == "string" and self.required else None,
            "enum": list(self.enum) if self.enum else None,
            "default": None if self.required else self.default,
        }
        out.update({k: v for k, v in caps.items() if v is not None})
        return out

    def _caps_in_words(self) -> str:
        # What JSON schema cannot say (relative times, clamping) is said in the description.
        words = []
        if self.kind == "datetime":
            words.append("ISO 8601 with a UTC offset, e.g. 2026-03-02T12:00:00Z")
            if self.future:
                words.append("must be in the future")
            if self.max_ahead is not None:
                words.append(f"at most {_span(self.max_ahead)} from now")
        if self.clamp:
            words.append(f"values outside {_num(self.minimum)}-{_num(self.maximum)} are held to the nearest bound")
        return f" ({'; '.join(words)})" if words else ""


def schema_of(params: tuple[Param, ...]) -> dict[str, Any]:
    """The `parameters` object of a tool."""
    return {
        "type": "object",
        "properties": {p.name: p.schema() for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }


def parse_arguments(params: tuple[Param, ...], args: dict[str, Any], now: datetime) -> tuple[dict[str, Any], list[str]]:
    """(values by argument name, defaults filled in; notes on values held to a bound), or ToolError."""
    by_name = {p.name: p for p in params}
    unknown = sorted(set(args) - set(by_name))
    if unknown:
        takes = ", ".join(by_name) or "no arguments"
        raise ToolError(f"unknown argument {unknown[0]!r}: this tool takes {takes}")
    values: dict[str, Any] = {}
    notes: list[str] = []
    for p in params:
        raw = args.get(p.name, _MISSING)
        if raw is _MISSING:
            if p.required:
                raise ToolError(f"{p.name} is required: {p.description}")
            values[p.name] = p.default
        elif raw is None and p.nullable:
            values[p.name] = None
        else:
            values[p.name] = _value(p, raw, now, notes)
    return values, notes


def _value(p: Param, raw: Any, now: datetime, notes: list[str]) -> Any:
    if p.kind in ("integer", "number"):
        return _number(p, raw, notes)
    if p.kind == "boolean":
        if not isinstance(raw, bool):
            raise ToolError(f"{p.name} must be true or false")
        return raw
    if p.kind == "strings":
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise ToolError(f"{p.name} must be a list of strings")
        return raw
    if p.kind == "datetime":
        return _datetime(p, raw, now)
    return _string(p, raw)


def _number(p: Param, raw: Any, notes: list[str]) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ToolError(f"{p.name} must be a {'whole ' if p.kind == 'integer' else ''}number")
    value: int | float = raw
    if p.kind == "integer":
        # A model may write 10000.0 for 10000: a whole float is the same number.
        if int(raw) != raw:
            raise ToolError(f"{p.name} must be a whole number")
        value = int(raw)
    low, high = p.minimum, p.maximum
    if p.clamp and low is not None and high is not None and not low <= value <= high:
        bound = low if value < low else high
        held = int(bound) if p.kind == "integer" else bound
        notes.append(
            f"{p.name} {_num(value)} was clamped to {_num(held)}: it must be between {_num(low)} and {_num(high)}"
        )
        return held
    if p.exclusive_minimum is not None and value <= p.exclusive_minimum:
        raise ToolError(f"{p.name} must be greater than {_num(p.exclusive_minimum)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ToolError(f"{p.name} must be between {_num(low)} and {_num(high)}")
    return value


def _string(p: Param, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ToolError(f"{p.name} must be a string")
    if p.required and not raw.strip():
        raise ToolError(f"{p.name} must not be blank: {p.description}")
    if p.max_length is not None and len(raw) > p.max_length:
        raise ToolError(f"{p.name} must be at most {p.max_length} characters (got {len(raw)})")
    if p.enum is not None and raw not in p.enum:
        raise ToolError(f"{p.name} must be one of {', '.join(p.enum)}")
    return raw.strip()


def _datetime(p: Param, raw: Any, now: datetime) -> datetime:
    if not isinstance(raw, str):
        raise ToolError(f"{p.name} must be an ISO 8601 time with a UTC offset" + (", or null" if p.nullable else ""))
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ToolError(f"{p.name}={raw!r} is not an ISO 8601 time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ToolError(f"{p.name}={raw!r} has no UTC offset (add Z or +00:00)")
    if p.future and value <= now:
        raise ToolError(f"{p.name} must be in the future (now is {now.isoformat()})")
    if p.max_ahead is not None and value > now + p.max_ahead:
        latest = (now + p.max_ahead).isoformat()
        raise ToolError(f"{p.name} must be at most {_span(p.max_ahead)} from now (no later than {latest})")
    return value


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return str(int(value)) if float(value).is_integer() else str(value)


def _span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes % size == 0 and minutes >= size:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minutes"

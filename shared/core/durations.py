"""Human durations for the CLI: 1500ms, 90s, 5m, 1h, 2d."""

from __future__ import annotations

import re

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str) -> int:
    """Milliseconds in `text`; a bare number means milliseconds."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (e.g. 1500ms, 30s, 5m, 1h, 2d)")
    value, unit = match.groups()
    return int(round(float(value) * _UNITS[unit or "ms"]))

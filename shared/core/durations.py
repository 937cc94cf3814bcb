"""Human durations for the CLI: 1500ms, 90s, 5m, 1h, 2d."""

from __future__ import annotations

import re

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
MAX_DURATION_MS = 100 * 366 * 86_400_000
"""A century: longer is a typo, and adding it to a time must stay inside the calendar."""


def parse_duration(text: str) -> int:
    """Milliseconds in `text`; a bare number means milliseconds."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (e.g. 1500ms, 30s, 5m, 1h, 2d)")
    value, unit = match.groups()
    ms = float(value) * _UNITS[unit or "ms"]
    if not ms <= MAX_DURATION_MS:  # also catches the infinity a few hundred digits make
        raise ValueError(f"{text!r} is longer than a century")
    return int(round(ms))

"""Field names between ours (snake_case) and the REST API's (camelCase), both ways."""

from __future__ import annotations

import re

# The REST API names two fields differently from ours (the original's names).
RENAMED = {"headers": "headersJson", "body": "bodyJson"}
UNRENAMED = {api: ours for ours, api in RENAMED.items()}
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


def camel_word(name: str) -> str:
    """`baseline_interval_ms` -> `baselineIntervalMs`; a camelCase name stays as it is."""
    # The same rule as pydantic's to_camel, so aliases, answers and error fields always agree.
    if re.match("^[a-z]+[A-Za-z0-9]*$", name) and not re.search(r"\d[a-z]", name):
        return name
    pascal = re.sub("([0-9A-Za-z])_(?=[0-9A-Z])", lambda m: m.group(1), name.title())
    return re.sub("(^_*[A-Z])", lambda m: m.group(1).lower(), pascal)


# A dot between parts of a path (`endpoints[0].timeout_ms`), not one inside brackets (`headers[x.y]`).
_PART = re.compile(r"\.(?![^\[]*\])")


def _camel_part(part: str) -> str:
    head, sep, rest = part.partition("[")
    return RENAMED.get(head, camel_word(head)) + sep + rest


def _snake_part(part: str) -> str:
    if part in UNRENAMED:
        return UNRENAMED[part]
    head, sep, rest = part.partition("[")
    return _UPPER.sub("_", head).lower() + sep + rest


def to_camel(path: str) -> str:
    """Our field name or path (`baseline_interval_ms`, `endpoints[1].timeout_ms`) in the API's words."""
    return ".".join(_camel_part(p) for p in _PART.split(path))


def to_snake(path: str) -> str:
    """The API's field name or path (`baselineIntervalMs`, `endpoints[1].timeoutMs`) in our words."""
    return ".".join(_snake_part(p) for p in _PART.split(path))

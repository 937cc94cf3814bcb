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


def to_camel(path: str) -> str:
    """Our field name or path (`baseline_interval_ms`, `upstream_endpoint_ids[1]`) in the API's words."""
    head, sep, rest = path.partition("[")
    return RENAMED.get(head, camel_word(head)) + sep + rest


def to_snake(path: str) -> str:
    """The API's field name or path (`baselineIntervalMs`, `upstreamEndpointIds[1]`) in our words."""
    if path in UNRENAMED:
        return UNRENAMED[path]
    head, sep, rest = path.partition("[")
    return _UPPER.sub("_", head).lower() + sep + rest

"""Responses: the body read within its size cap and deadline, decoded as JSON, text or nothing; the headers kept."""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from cronicorn.http.deadline import Scope
from cronicorn.http.failures import Failure

# Response headers worth keeping on a run: the rest is noise for users and for the planner.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "retry-after",
        "location",
        "etag",
        "last-modified",
        "cache-control",
        "expires",
        "date",
        "age",
        "server",
        "x-request-id",
        "x-correlation-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    }
)
TEXT_TYPES = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/x-ndjson",
        "application/ndjson",
        "application/graphql",
        "application/csv",
        "application/sql",
    }
)
BINARY_PREFIXES = ("image/", "audio/", "video/", "font/")
BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-protobuf",
        "application/protobuf",
        "application/wasm",
        "application/msgpack",
        "application/x-msgpack",
        "application/cbor",
    }
)
READ_CHUNK = 65_536


class Reading(Protocol):
    """The call a body is read for: its deadline, and how it words a failure."""

    scope: Scope

    def timeout(self) -> Failure: ...

    def classify(self, exc: BaseException, *, connecting: bool) -> Failure: ...


def read(response: requests.Response, cap: int, call: Reading) -> tuple[bytes, bool]:
    """At most the size cap (+1 byte to notice more), before the deadline."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= cap:
            if time.monotonic() >= call.scope.deadline:
                raise call.timeout()
            # read1 returns what has arrived; iter_content would wait to fill whole chunks.
            chunk = response.raw.read1(min(READ_CHUNK, cap + 1 - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except Failure:
        raise
    except Exception as exc:
        raise call.classify(exc, connecting=False) from None
    if call.scope.expired:
        raise call.timeout()  # the watchdog cut the connection: what arrived may be partial
    data = b"".join(chunks)
    return (data[:cap], True) if len(data) > cap else (data, False)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}


def decode(data: bytes, content_type: str | None, truncated: bool) -> tuple[Any, str | None]:
    """JSON as JSON, text as text, binary as nothing (its size and type are still recorded)."""
    if not data:
        return None, None
    mime = (content_type or "").split(";")[0].strip().lower()
    is_json = mime == "application/json" or mime.endswith("+json")
    if is_json and not truncated:
        try:
            return json.loads(data), None
        except ValueError:
            pass  # not valid JSON after all: still text worth keeping
    if is_json or mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+xml"):
        return None, data.decode(_charset(content_type), errors="replace")
    if mime in BINARY_TYPES or mime.startswith(BINARY_PREFIXES):
        return None, None
    # Unknown or missing type: keep it if it reads as UTF-8 text, so no text body is dropped silently.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError:
        return None, None
    return (None, text) if "\x00" not in text else (None, None)


def _charset(content_type: str | None) -> str:
    """The declared charset if Python knows it, else UTF-8 (not requests' latin-1 guess for text/*)."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip("\"'")).name
            except LookupError:
                break
    return "utf-8"

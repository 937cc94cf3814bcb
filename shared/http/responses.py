"""Responses: the body read within its size cap and deadline, decoded as JSON, text or nothing; the headers kept."""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from cronicorn.http.buffer import BodyBuffer
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


def body_limit(response: requests.Response, method: str, cap: int) -> int:
    """Bytes worth reading: the cap and one more (to see a cut body), or less when the response says so."""
    if method == "HEAD" or response.status_code < 200 or response.status_code in (204, 304):
        return 0  # no body, whatever the headers say
    if response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return cap + 1  # the declared length is the compressed one; decoded, it may be far more
    try:
        declared = int(response.headers.get("content-length", ""))
    except ValueError:
        return cap + 1  # unknown (chunked, or read to the close)
    return min(cap + 1, declared) if declared >= 0 else cap + 1


def read(response: requests.Response, limit: int, call: Reading) -> BodyBuffer:
    """At most `limit` bytes (see body_limit) before the deadline, in a buffer the caller closes.

    Read in place into one buffer of the reserved size: no list of chunks joined at the end, no
    slice to cut it at the cap, so the body is held once and never past what was reserved.
    """
    body = BodyBuffer(limit)
    try:
        while body.size < limit:
            if time.monotonic() >= call.scope.deadline:
                raise call.timeout()
            # read1 returns what has arrived; iter_content would wait to fill whole chunks.
            chunk = response.raw.read1(min(READ_CHUNK, limit - body.size), decode_content=True)
            if not chunk or not body.append(chunk):
                break
        if call.scope.expired:
            raise call.timeout()  # the watchdog cut the connection: what arrived may be partial
    except Failure:
        body.close()
        raise
    except Exception as exc:
        body.close()
        raise call.classify(exc, connecting=False) from None
    return body


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() in KEPT_HEADERS}


def decode(data: memoryview, content_type: str | None, truncated: bool) -> tuple[Any, str | None]:
    """JSON as JSON, text as text, binary as nothing (its size and type are still recorded).

    Decoded straight from the buffer's view: the text (or the JSON's source text) is the only copy.
    """
    if not data:
        return None, None
    mime = (content_type or "").split(";")[0].strip().lower()
    is_json = mime == "application/json" or mime.endswith("+json")
    if is_json and not truncated:
        try:
            # What json.loads does with bytes (UTF-8, -16 or -32 by its first bytes), from the view.
            return json.loads(str(data, json.detect_encoding(bytes(data[:4])), "surrogatepass")), None
        except ValueError:
            pass  # not valid JSON after all (or not in its encoding): still text worth keeping
    if is_json or mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+xml"):
        return None, str(data, _charset(content_type), "replace")
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

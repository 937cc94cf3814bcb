"""What an attempt produced, in the runs table's terms, and how it is made storable.

PostgreSQL refuses a NUL character in text and JSON (`A string literal cannot contain NUL`,
`UntranslatableCharacter`), and no UTF-8 column holds a lone surrogate (which a JSON body may
well contain, e.g. "\\ud800"). A target may answer either. Such characters are replaced with
U+FFFD before anything is written, and the run's notes say how many were replaced and where,
so a hostile or broken response is stored faithfully marked instead of failing the write of
every run that shares its transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cronicorn.core.model import ErrorKind, RunStatus

# NUL, and UTF-16 surrogates (valid in a Python str, never in UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class RunResult:
    """What an attempt produced, in the runs table's terms."""

    status: RunStatus
    finished_at: datetime
    duration_ms: int | None = None
    status_code: int | None = None
    request_url: str | None = None
    response_headers: dict[str, str] | None = None
    response_body: Any = None
    response_text: str | None = None
    response_size_bytes: int | None = None
    response_truncated: bool = False
    content_type: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    notes: str | None = None


def with_note(result: RunResult, note: str) -> RunResult:
    """`result` with `note` added to its notes."""
    return replace(result, notes=f"{result.notes}; {note}" if result.notes else note)


class _Cleaner:
    """Replaces unstorable characters in strings, counting them by field."""

    def __init__(self) -> None:
        self.replaced: dict[str, int] = {}

    def text(self, value: str, where: str) -> str:
        cleaned, n = _UNSTORABLE.subn(REPLACEMENT, value)
        if n:
            self.replaced[where] = self.replaced.get(where, 0) + n
        return cleaned

    def json(self, value: Any, where: str) -> Any:
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, list):
            return [self.json(v, where) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k), where): self.json(v, where) for k, v in value.items()}
        return value

    def optional(self, value: str | None, where: str) -> str | None:
        return None if value is None else self.text(value, where)


def storable(result: RunResult) -> RunResult:
    """`result` with every string the database cannot hold made storable, and a note if any was."""
    clean = _Cleaner()
    headers = result.response_headers
    stored = replace(
        result,
        request_url=clean.optional(result.request_url, "request URL"),
        response_headers=None if headers is None else clean.json(headers, "response headers"),
        response_body=clean.json(result.response_body, "response body"),
        response_text=clean.optional(result.response_text, "response text"),
        content_type=clean.optional(result.content_type, "content type"),
        error_message=clean.optional(result.error_message, "error message"),
    )
    if not clean.replaced:
        return result
    where = ", ".join(f"{n} in the {field}" for field, n in clean.replaced.items())
    return with_note(stored, f"NUL or surrogate characters stored as U+FFFD ({where})")


def unstorable(result: RunResult, error: BaseException) -> RunResult:
    """What is stored of a result the database refused even after `storable`: the outcome
    without the response, as a failure saying why (the call itself still happened)."""
    return RunResult(
        status=RunStatus.FAILED,
        finished_at=result.finished_at,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        response_size_bytes=result.response_size_bytes,
        error_kind=ErrorKind.UNSTORABLE.value,
        error_message=f"the call completed (status {result.status.value}) but its response could not be "
        f"stored: {type(error).__name__}: {str(error)[:300]}",
        notes=result.notes,
    )

"""Errors a producer sees: each says which field or object and why."""

from __future__ import annotations

from dataclasses import dataclass


class CronicornError(Exception):
    """Base of every error the client raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class InvalidInput(CronicornError, ValueError):
    """Input failed validation; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("invalid input: " + "; ".join(f"{e.field}: {e.reason}" for e in errors))

    @classmethod
    def one(cls, field: str, reason: str) -> InvalidInput:
        return cls([FieldError(field, reason)])


class NotFound(CronicornError, LookupError):
    """No such object for this tenant."""

    def __init__(self, kind: str, object_id: str) -> None:
        self.kind = kind
        self.object_id = object_id
        super().__init__(f"{kind} {object_id!r} not found")


class Conflict(CronicornError):
    """The object's state does not allow this change (e.g. run-now on a paused endpoint)."""

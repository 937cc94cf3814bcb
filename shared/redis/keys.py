"""Every Redis key the system uses, built here with one prefix."""

from __future__ import annotations

PREFIX = "cronicorn:"


def endpoint_lock(endpoint_id: str) -> str:
    return f"{PREFIX}lock:endpoint:{endpoint_id}"


def last_tick() -> str:
    return f"{PREFIX}tick:last"


def analysis_lock(endpoint_id: str) -> str:
    return f"{PREFIX}lock:analysis:{endpoint_id}"


def rate_window(key_id: str, kind: str, window: int) -> str:
    return f"{PREFIX}rate:{key_id}:{kind}:{window}"


def tick_flight() -> str:
    return f"{PREFIX}tick:flight"


def notify_flight() -> str:
    return f"{PREFIX}notify:flight"


def dashboard_session(token_digest: str) -> str:
    """A signed-in dashboard session, by the SHA-256 of its cookie (the cookie itself is never stored)."""
    return f"{PREFIX}dashboard:session:{token_digest}"


def dashboard_flash(token_digest: str) -> str:
    """The message an action leaves for the next page of the same dashboard session."""
    return f"{PREFIX}dashboard:flash:{token_digest}"

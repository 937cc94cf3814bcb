"""Steering from the dashboard: each action checks the session's CSRF token, goes through the same
validated producer client as REST, and comes back to the endpoint page saying what it did or why not."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from cronicorn.api.dashboard.auth import check_csrf, form_fields, signed_in
from cronicorn.api.dashboard.render import millis
from cronicorn.api.dashboard.sessions import COOKIE, push_flash
from cronicorn.api.deps import client_for, deps
from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.redaction import redact_text

router = APIRouter(include_in_schema=False)


def _number(fields: dict[str, str], name: str, default: float | None = None) -> float:
    raw = fields.get(name, "").strip()
    if not raw:
        if default is None:
            raise InvalidInput.one(name, "is required")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput.one(name, "must be a number") from None
    if not 0 < value < 1e9:
        raise InvalidInput.one(name, "must be a positive number")
    return value


def _until(fields: dict[str, str], now: datetime) -> datetime:
    """The pause's end: a datetime-local (read as UTC) or a number of minutes from now."""
    raw = fields.get("until", "").strip()
    if raw:
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput.one("until", "must be a date and time, e.g. 2026-01-31T12:00") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    minutes = _number(fields, "minutes")
    return now + timedelta(minutes=minutes)


def _reason(fields: dict[str, str]) -> str | None:
    return fields.get("reason", "").strip() or None


def _pause(c: Cronicorn, eid: str, f: dict[str, str]) -> str:
    until = _until(f, c.clock())
    c.pause_endpoint(eid, until, _reason(f))
    return f"Paused until {until:%Y-%m-%d %H:%M:%S} UTC."


def _interval_hint(c: Cronicorn, eid: str, f: dict[str, str]) -> str:
    ep = c.set_interval_hint(eid, round(_number(f, "interval_s") * 1000), _number(f, "ttl_minutes", 60), _reason(f))
    notes = " ".join(ep.notes)
    return f"Hint set: every {millis(ep.ai_hint_interval_ms)}. {notes}".strip()


def _oneshot_hint(c: Cronicorn, eid: str, f: dict[str, str]) -> str:
    c.set_oneshot_hint(eid, next_run_in_ms=round(_number(f, "in_s") * 1000), reason=_reason(f))
    return "One-shot hint set."


ACTIONS: dict[str, Callable[[Cronicorn, str, dict[str, str]], str]] = {
    "pause": _pause,
    "resume": lambda c, eid, f: (c.resume_endpoint(eid), "Resumed.")[1],
    "run-now": lambda c, eid, f: (c.run_now(eid), "Run requested.")[1],
    "interval-hint": _interval_hint,
    "oneshot-hint": _oneshot_hint,
    "clear-hints": lambda c, eid, f: (c.clear_hints(eid), "Hints cleared.")[1],
    "reset-failures": lambda c, eid, f: (c.reset_failures(eid), "Failures reset.")[1],
}


def _back(request: Request, endpoint_id: str, kind: str, message: str) -> Response:
    """Back to the endpoint page, which shows the message: htmx follows HX-Redirect, a plain form the 303."""
    push_flash(deps(request).redis, request.cookies.get(COOKIE, ""), kind, message)
    target = f"/endpoints/{endpoint_id}"
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/endpoints/{endpoint_id}/actions/{action}")
async def act(endpoint_id: str, action: str, request: Request) -> Response:
    session = signed_in(request)
    fields = await form_fields(request)
    check_csrf(session, fields, request)
    client = client_for(request, session.tenant_id)
    client.get_endpoint(endpoint_id)  # another tenant's endpoint: 404, before anything else is said
    if action == "test":
        return _test_call(request, client, endpoint_id)
    if action not in ACTIONS:
        raise NotFound("action", action)
    try:
        message = ACTIONS[action](client, endpoint_id, fields)
    except (InvalidInput, Conflict) as exc:
        return _back(request, endpoint_id, "error", str(exc))
    return _back(request, endpoint_id, "done", message)


def _test_call(request: Request, client: Cronicorn, endpoint_id: str) -> Response:
    """Call the target once, now, and show what it answered (nothing stored, schedule untouched)."""
    d = deps(request)
    outcome = client.test_call(endpoint_id, d.http, d.keyring)
    if outcome.error_kind is not None:
        text = f"Test call failed ({outcome.error_kind.value}): {redact_text(outcome.error_message or '')}"
    else:
        text = f"Test call answered HTTP {outcome.status_code} in {millis(outcome.duration_ms)}."
    return HTMLResponse(f'<p class="notice" role="status">{html.escape(text)}</p>')

"""Templates and the small formatting filters the pages share; every page answers with a strict CSP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from cronicorn.producer.redaction import redact_text

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Scripts only from our own /static (no inline script, no CDN); the chart's data travels as JSON in a
# <script type="application/json">, which is data, not code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def when(at: datetime | None, now: datetime | None = None) -> str:
    """An aware time as UTC to the second, with how far away it is when `now` is given."""
    if at is None:
        return "—"
    text = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{text} ({ago(at, now)})" if now is not None else text


def ago(at: datetime | None, now: datetime | None) -> str:
    if at is None or now is None:
        return "—"
    seconds = (at - now).total_seconds()
    span = millis(abs(seconds) * 1000)
    return f"in {span}" if seconds > 0 else f"{span} ago"


def millis(ms: float | int | None) -> str:
    """A duration in the largest unit that keeps it readable: 850 ms, 12.5 s, 4 min, 2.1 h, 3 d."""
    if ms is None:
        return "—"
    value = float(ms)
    for limit, unit, size in (
        (1000, "ms", 1),
        (60_000, "s", 1000),
        (3_600_000, "min", 60_000),
        (86_400_000, "h", 3_600_000),
    ):
        if value < limit:
            return f"{value / size:.3g} {unit}"
    return f"{value / 86_400_000:.3g} d"


def iso(at: datetime | None) -> str:
    return at.isoformat().replace("+00:00", "Z") if at else ""


templates.env.filters.update(when=when, millis=millis, iso=iso, redact=redact_text)
templates.env.globals.update(ago=ago, millis=millis, when=when)


def page(request: Request, name: str, http_status: int = 200, **context: Any) -> Response:
    """A page rendered with the session (for its CSRF token and tenant) and a strict CSP."""
    context.setdefault("session", getattr(request.state, "dashboard_session", None))
    response = templates.TemplateResponse(request, name, context, status_code=http_status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, message: str, details: list[dict[str, str]] | None = None) -> Response:
    """An error as a page: what went wrong and the fields named, with the status the JSON API would give."""
    return page(request, "error.html", http_status=status, status_code=status, message=message, details=details or [])

"""Signing in and out of the dashboard with an API key, and the check every page and action makes."""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cronicorn.api.dashboard.render import page
from cronicorn.api.dashboard.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_TTL_S,
    Session,
    end_session,
    read_session,
    same_token,
    set_cookie,
    start_session,
)
from cronicorn.api.deps import Caller, deps
from cronicorn.redis.rate_limits import hit
from cronicorn.store.tenants import live_key, resolve_key

router = APIRouter(include_in_schema=False)
LOGINS_PER_MIN = 20  # sign-in attempts per client address: guessing keys stays hopeless
MAX_FORM_FIELD = 2000


class SignedOut(Exception):
    """No live session: pages send the browser to the sign-in form, coming back afterwards."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class BadCsrf(Exception):
    """An action without this session's CSRF token (forged, or from a page of an older session)."""


async def form_fields(request: Request) -> dict[str, str]:
    """The urlencoded form, first value of each field (capped by the API's body cap on the way in)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0][:MAX_FORM_FIELD] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def signed_in(request: Request) -> Session:
    """The caller's session, its key still live; sets the caller (tenant and tier) the client is built for."""
    d = deps(request)
    session = read_session(d.redis, request.cookies.get(COOKIE))
    key = live_key(d.engine, session.key_id) if session else None
    if session is None or key is None or key[0] != session.tenant_id:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignedOut(target)
    request.state.caller = Caller(session.tenant_id, session.key_id, d.tiers.get(key[1]))
    request.state.dashboard_session = session
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


def check_csrf(session: Session, fields: dict[str, str], request: Request) -> None:
    if not same_token(session.csrf, fields.get("csrf") or request.headers.get("x-csrf-token")):
        raise BadCsrf()


def _local(path: str | None) -> str:
    """Only a path on this site to go back to: never another host (`//evil`, `https://...`, `/\\evil`)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or path.startswith("/login"):
        return "/"
    return path


def signed_out_redirect(request: Request, exc: SignedOut) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse(f"/login?next={quote(_local(exc.next_path))}", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", csrf=token, next=_local(next), error=None, session=None)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    d = deps(request)
    fields = await form_fields(request)
    target = _local(fields.get("next"))

    def again(error: str, status: int) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", http_status=status, csrf=token, next=target, error=error, session=None)
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), fields.get("csrf")):
        return again("The sign-in form expired; please try again.", 403)
    address = request.client.host if request.client else "unknown"
    if not hit(d.redis, f"login:{address}", "login", LOGINS_PER_MIN, now_s=time.time()).allowed:
        return again(f"Too many sign-in attempts from this address (at most {LOGINS_PER_MIN} a minute).", 429)
    key = fields.get("api_key", "").strip()
    found = resolve_key(d.engine, key) if key and "\x00" not in key else None
    if found is None:
        return again("That API key is unknown or revoked.", 401)
    tenant_id, key_id, _tier = found
    token, _session = start_session(d.redis, tenant_id, key_id)
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, COOKIE, token, max_age=SESSION_TTL_S)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    d = deps(request)
    session = read_session(d.redis, request.cookies.get(COOKIE))
    fields = await form_fields(request)
    if session is not None:
        check_csrf(session, fields, request)
        end_session(d.redis, request.cookies.get(COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

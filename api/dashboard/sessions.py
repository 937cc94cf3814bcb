"""Dashboard sign-in: a server-side session in Redis behind an opaque, HTTP-only cookie.

The cookie holds 256 random bits and nothing else; Redis keeps, under the cookie's SHA-256, the key id
the session signed in with and its CSRF token, never the API key itself. Every request re-checks that
the key is still live, so revoking a key ends its sessions at once. Losing Redis only signs people out.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

import redis
from fastapi import Request, Response

from cronicorn.redis.keys import dashboard_flash, dashboard_session

COOKIE = "cronicorn_session"
LOGIN_CSRF_COOKIE = "cronicorn_login_csrf"
SESSION_TTL_S = 12 * 3600


@dataclass(frozen=True)
class Session:
    tenant_id: str
    key_id: str
    csrf: str


FLASH_TTL_S = 300


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(token: str) -> str:
    return dashboard_session(_digest(token))


def start_session(client: redis.Redis, tenant_id: str, key_id: str) -> tuple[str, Session]:
    """A new session for the tenant of `key_id`: (the cookie's token, the session)."""
    token = secrets.token_urlsafe(32)
    session = Session(tenant_id=tenant_id, key_id=key_id, csrf=secrets.token_urlsafe(32))
    client.set(_key(token), json.dumps(session.__dict__), ex=SESSION_TTL_S)
    return token, session


def read_session(client: redis.Redis, token: str | None) -> Session | None:
    """The session behind a cookie's token, or None (no cookie, expired, signed out, or garbage)."""
    if not token or len(token) > 100:
        return None
    raw = client.get(_key(token))
    if raw is None:
        return None
    try:
        return Session(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def end_session(client: redis.Redis, token: str | None) -> None:
    if token and len(token) <= 100:
        client.delete(_key(token))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """HTTP-only, SameSite=Strict, and Secure whenever the page came over HTTPS (uvicorn --proxy-headers
    behind a TLS proxy): a plain-HTTP browser would never send a Secure cookie back."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def same_token(expected: str, presented: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(presented) and secrets.compare_digest(expected.encode(), (presented or "").encode())


def push_flash(client: redis.Redis, token: str, kind: str, message: str) -> None:
    """Leave `message` ("done" or "error") for the next page this session shows: kept on the server,
    so a link can never make the dashboard say something it did not."""
    client.set(dashboard_flash(_digest(token)), json.dumps([kind, message[:1000]]), ex=FLASH_TTL_S)


def pop_flash(client: redis.Redis, token: str | None) -> tuple[str, str] | None:
    if not token or len(token) > 100:
        return None
    raw = client.getdel(dashboard_flash(_digest(token)))
    if raw is None:
        return None
    kind, message = json.loads(raw)
    return str(kind), str(message)

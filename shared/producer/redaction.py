"""Secrets are write-only: header values masked on every read, credentials cut out of what the model sees.

A header or URL parameter is secret when its name, in any case, contains one of `SECRET_WORDS`
(so Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token, client_secret, access_token,
password ...) or is `sig` (a signed URL's signature). Reads show a secret header's value as `MASK`;
a write that sends `MASK` back for a header already stored keeps the stored value, so a read turned
into an update never replaces a secret with its mask.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from cronicorn.core.errors import InvalidInput

MASK = "***"
"""What a read shows instead of a secret (nothing of the secret itself, not even its last characters)."""
SECRET_WORDS = ("auth", "token", "secret", "key", "passw", "pwd", "cookie", "session", "signature", "credential", "jwt")
_SECRET = re.compile("|".join(SECRET_WORDS) + r"|(^|[-_.])sig($|[-_.])", re.IGNORECASE)
# name=value after ?, & or ; (a query) or # (a fragment, as OAuth's implicit flow uses), in a URL or in
# any text quoting one (a path in an HTTP library's error message, say).
_PARAM = re.compile(r"(?P<lead>[?&;#])(?P<name>[^=&;#?\s'\"<>]+)=(?P<value>[^&;#\s'\"<>]*)")
# scheme://user:password@ : the password goes, the user stays (it tells which account is used).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s'\"<>]*):(?P<password>[^@/\s'\"<>]*)@")


def is_secret_name(name: str) -> bool:
    """Whether a header, query parameter or JSON key of this name holds a secret."""
    return bool(_SECRET.search(name))


def mask_headers(headers: dict[str, str] | None) -> dict[str, str]:
    """The headers as any read shows them: secret values replaced by MASK."""
    return {name: MASK if is_secret_name(name) else value for name, value in (headers or {}).items()}


def keep_masked(headers: dict[str, str], stored: dict[str, str] | None) -> dict[str, str]:
    """`headers` with each secret sent back as MASK replaced by the stored value of that header.

    A MASK for a secret header that is not stored has no value to keep and is refused, so a mask never
    ends up sent to a target as a credential.
    """
    by_name = {name.lower(): value for name, value in (stored or {}).items()}
    kept = {}
    for name, value in headers.items():
        if value == MASK and is_secret_name(name):
            if name.lower() not in by_name:
                raise InvalidInput.one(
                    "headers",
                    f"header {name!r}: {MASK!r} stands for a stored secret, and none is stored; send the value",
                )
            value = by_name[name.lower()]
        kept[name] = value
    return kept


def _masked_param(found: re.Match[str]) -> str:
    if not is_secret_name(unquote(found["name"])):
        return found.group()
    return f"{found['lead']}{found['name']}={MASK}"


def redact_text(text: str) -> str:
    """`text` (a URL, or a message quoting URLs) with secret parameters and userinfo passwords masked."""
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _PARAM.sub(_masked_param, text)


def redact_json(value: Any, depth: int = 0) -> Any:
    """A JSON document with the values of secret-named keys masked and URLs in its text redacted."""
    if depth > 64:
        return "…"
    if isinstance(value, dict):
        return {
            k: MASK if isinstance(k, str) and is_secret_name(k) else redact_json(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value

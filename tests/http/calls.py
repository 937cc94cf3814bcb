"""What the HTTP executor's tests share: the signing key, the loopback allow-list, and one call."""

from __future__ import annotations

from typing import Any

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.http.call import HttpCaller

KEY = b"test-signing-key"
LOOPBACK = ["127.0.0.0/8", "::1/128"]
LOCAL_HOSTS = {"127.0.0.1", "127.0.0.2", "::1"}  # the addresses connected to: names are resolved first


def call(caller: HttpCaller, url: str, **kw: Any) -> HttpOutcome:
    kw.setdefault("timeout_ms", 2000)
    return caller.call(HttpRequest(url=url, **kw))


def body(out: HttpOutcome) -> Any:
    """The parsed JSON body (typed Any so tests can index it)."""
    return out.body_json

"""Signed webhooks: a JSON POST through the guarded HTTP caller, signed with the channel's secret.

The body is the notification's payload as compact JSON. It is signed with the request-signing
scheme every scheduled call uses (`cronicorn.http.signing`: `X-Cronicorn-Timestamp` and
`X-Cronicorn-Signature: v1=<hex>`, the HMAC-SHA256 of the timestamp, method, URL and the exact
body bytes), keyed with the channel's own secret instead of the tenant's: a receiver checks it
with `cronicorn.http.signing.verify(secret, ...)`. The SSRF guard holds on every hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cronicorn.core.calls import HttpRequest
from cronicorn.core.model import ErrorKind
from cronicorn.http.call import HttpCaller

TIMEOUT_MS = 10_000
MAX_RESPONSE_KB = 16
EVENT_HEADER = "X-Cronicorn-Event"
# A receiver that refuses the request itself will refuse it again: no retry (408 and 429 are retried).
_PERMANENT_KINDS = frozenset({ErrorKind.BLOCKED, ErrorKind.INVALID_URL, ErrorKind.TOO_MANY_REDIRECTS})


@dataclass(frozen=True)
class Sent:
    error: str | None  # None: delivered
    permanent: bool = False


def send_webhook(
    http: HttpCaller, url: str, secret: str, event: str, payload: dict[str, Any], *, notification_id: str
) -> Sent:
    """POST the payload; a 2xx is delivered, anything else an error that says whether to retry.

    Every attempt of one notification carries its id as the Idempotency-Key: a receiver that got an
    attempt whose answer was lost can tell the retry apart from a new notification.
    """
    outcome = http.call(
        HttpRequest(
            url=url,
            method="POST",
            headers={EVENT_HEADER: event},
            body=payload,
            timeout_ms=TIMEOUT_MS,
            max_response_size_kb=MAX_RESPONSE_KB,
            idempotency_key=notification_id,
            signing_keys=(secret.encode(),),
        )
    )
    if outcome.ok:
        return Sent(None)
    code = outcome.status_code
    permanent = outcome.error_kind in _PERMANENT_KINDS or (
        code is not None and 400 <= code < 500 and code not in (408, 429)
    )
    error = outcome.error_message or (f"HTTP {code}" if code else str(outcome.error_kind))
    return Sent(f"webhook: {error}", permanent)

"""A test call: call a stored endpoint once, now, as a scheduled run would, and store nothing."""

from __future__ import annotations

from sqlalchemy import Engine

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.http.call import HttpCaller
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.store.signing_keys import KeyRing


def probe_endpoint(engine: Engine, tenant_id: str, endpoint_id: str, http: HttpCaller, keyring: KeyRing) -> HttpOutcome:
    """Call the tenant's endpoint (NotFound for anyone else's), signed with the tenant's live keys.

    No run is stored and the schedule is untouched: it only shows what the target answers.
    """
    with engine.connect() as conn:
        ep = endpoint_row(conn, tenant_id, endpoint_id)  # the stored row: its secret headers are not masked
    return http.call(
        HttpRequest(
            url=ep.url,
            method=ep.method,
            headers=ep.headers,
            body=ep.body,
            timeout_ms=ep.timeout_ms,
            max_response_size_kb=ep.max_response_size_kb,
            signing_keys=keyring.keys_for(tenant_id),
        )
    )

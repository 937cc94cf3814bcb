"""Per-tenant signing keys: a rotation's grace period signs with both keys, so receivers roll over without drops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.http.signing import signature_headers, verify
from cronicorn.store.signing_keys import KeyRing, list_signing_keys, live_secrets, rotate_signing_key
from cronicorn.store.tenants import create_tenant

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_during_the_grace_period_both_keys_sign_and_either_receiver_accepts(engine: Engine) -> None:
    create_tenant(engine, NOW, "acme")
    _, old = rotate_signing_key(engine, NOW, "acme", grace=HOUR)
    _, new = rotate_signing_key(engine, NOW + HOUR, "acme", grace=HOUR)
    during = NOW + HOUR + timedelta(minutes=30)
    keys = live_secrets(engine, "acme", during)
    assert keys == [new.encode(), old.encode()]
    headers = signature_headers(keys, b'{"a":1}', during)
    ts, sig = headers["X-Cronicorn-Timestamp"], headers["X-Cronicorn-Signature"]
    assert verify(old.encode(), ts, b'{"a":1}', sig, now=during)  # a receiver not yet rolled over
    assert verify(new.encode(), ts, b'{"a":1}', sig, now=during)  # a receiver already on the new key
    assert not verify(b"someone else", ts, b'{"a":1}', sig, now=during)
    after = NOW + 2 * HOUR + timedelta(seconds=1)
    assert live_secrets(engine, "acme", after) == [new.encode()]  # the old key stopped signing


def test_rotation_lists_keys_and_refuses_bad_input(engine: Engine) -> None:
    create_tenant(engine, NOW, "acme")
    first, _ = rotate_signing_key(engine, NOW, "acme", grace=HOUR)
    second, _ = rotate_signing_key(engine, NOW + HOUR, "acme", grace=timedelta(0))
    listed = list_signing_keys(engine, "acme")
    assert (
        [k.id for k in listed] == [second.id, first.id]
        and listed[1].retires_at == NOW + HOUR
        and listed[0].retires_at is None
    )
    with pytest.raises(InvalidInput, match="grace"):
        rotate_signing_key(engine, NOW, "acme", grace=timedelta(days=31))
    with pytest.raises(NotFound):
        rotate_signing_key(engine, NOW, "nobody", grace=HOUR)


def test_a_tenant_without_keys_signs_with_the_installation_key(engine: Engine) -> None:
    ring = KeyRing(engine, b"installation", lambda: NOW)
    assert ring.keys_for("default") == (b"installation",)
    create_tenant(engine, NOW, "acme")
    _, secret = rotate_signing_key(engine, NOW, "acme", grace=HOUR)
    assert KeyRing(engine, b"installation", lambda: NOW).keys_for("acme") == (secret.encode(),)

"""Per-tenant signing keys: every tenant signs with its own; a rotation's grace period signs with both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cronicorn import verify_signature
from cronicorn.core.clock import utcnow
from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.http.call import HttpCaller
from cronicorn.http.signing import signature_headers
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.store.signing_keys import (
    KeyRing,
    ensure_signing_key,
    list_signing_keys,
    live_secrets,
    rotate_signing_key,
)
from cronicorn.store.tenants import create_tenant
from tests.receiver import verifies
from tests.targets import TargetServer

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
URL = "https://hooks.example.com/in"
INSTALLATION = b"installation-key"


def _accepts(key: bytes, headers: dict[str, str], at: datetime) -> bool:
    return verify_signature(key, method="POST", url=URL, body=b'{"a":1}', headers=headers, now=at)


def test_a_created_tenant_gets_its_own_key_shown_once_and_no_two_tenants_share_one(engine: Engine) -> None:
    acme = create_tenant(engine, NOW, "acme")["signing_secret"]
    umbrella = create_tenant(engine, NOW, "umbrella")["signing_secret"]
    assert acme and umbrella and acme != umbrella
    assert live_secrets(engine, "acme", NOW) == [acme.encode()]
    assert [k.tenant_id for k in list_signing_keys(engine, "umbrella")] == ["umbrella"]
    ring = KeyRing(engine, INSTALLATION, lambda: NOW)
    assert ring.keys_for("acme") == (acme.encode(),) and INSTALLATION not in ring.keys_for("umbrella")


def test_a_tenant_known_only_by_its_jobs_gets_its_own_key_on_its_first_call(engine: Engine) -> None:
    Cronicorn(engine, tenant_id="side-project", clock=lambda: NOW).create_job(name="j")
    assert live_secrets(engine, "side-project", NOW) == []
    keys = KeyRing(engine, INSTALLATION, lambda: NOW).keys_for("side-project")
    assert len(keys) == 1 and keys[0] != INSTALLATION
    # Stored, not made up per process: another worker's ring signs with the same key.
    assert KeyRing(engine, INSTALLATION, lambda: NOW).keys_for("side-project") == keys
    rotated, _ = rotate_signing_key(engine, NOW, "side-project", grace=HOUR)  # and it can be rotated
    assert rotated.tenant_id == "side-project"


def test_the_default_tenant_adopts_the_installation_key_and_only_it_signs_with_it(engine: Engine) -> None:
    # The embedded mode's receivers were given the installation key: they keep verifying.
    ring = KeyRing(engine, INSTALLATION, lambda: NOW)
    assert ring.keys_for("default") == (INSTALLATION,)
    assert INSTALLATION not in KeyRing(engine, INSTALLATION, lambda: NOW).keys_for("acme")
    _, secret = rotate_signing_key(engine, NOW, "default", grace=timedelta(0))
    assert KeyRing(engine, INSTALLATION, lambda: NOW).keys_for("default") == (secret.encode(),)


def test_the_first_key_is_created_once_even_when_workers_race_for_it(engine: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda _: ensure_signing_key(engine, NOW, "racy"), range(8)))
    assert len([c for c in created if c is not None]) == 1
    assert len(list_signing_keys(engine, "racy")) == 1
    assert ensure_signing_key(engine, NOW, "racy") is None


def test_creating_a_tenant_that_already_signs_keeps_its_key(engine: Engine) -> None:
    [before] = KeyRing(engine, INSTALLATION, lambda: NOW).keys_for("late")
    assert create_tenant(engine, NOW, "late")["signing_secret"] is None
    assert live_secrets(engine, "late", NOW) == [before]


def test_during_the_grace_period_both_keys_sign_and_either_receiver_accepts(engine: Engine) -> None:
    old = create_tenant(engine, NOW, "acme")["signing_secret"]
    _, new = rotate_signing_key(engine, NOW + HOUR, "acme", grace=HOUR)
    during = NOW + HOUR + timedelta(minutes=30)
    keys = live_secrets(engine, "acme", during)
    assert keys == [new.encode(), old.encode()]
    headers = signature_headers(keys, "POST", URL, b'{"a":1}', during)
    assert _accepts(old.encode(), headers, during)  # a receiver not yet rolled over
    assert _accepts(new.encode(), headers, during)  # a receiver already on the new key
    assert not _accepts(b"someone else", headers, during)
    after = NOW + 2 * HOUR + timedelta(seconds=1)
    assert live_secrets(engine, "acme", after) == [new.encode()]  # the old key stopped signing


def test_rotation_lists_keys_and_refuses_bad_input(engine: Engine) -> None:
    create_tenant(engine, NOW, "acme")
    [initial] = list_signing_keys(engine, "acme")
    first, _ = rotate_signing_key(engine, NOW + HOUR, "acme", grace=HOUR)
    second, _ = rotate_signing_key(engine, NOW + 2 * HOUR, "acme", grace=timedelta(0))
    listed = list_signing_keys(engine, "acme")
    assert [k.id for k in listed] == [second.id, first.id, initial.id]
    assert listed[0].retires_at is None and listed[1].retires_at == NOW + 2 * HOUR
    assert listed[2].retires_at == NOW + 2 * HOUR  # retired by the first rotation, at the end of its grace
    with pytest.raises(InvalidInput, match="grace"):
        rotate_signing_key(engine, NOW, "acme", grace=timedelta(days=31))
    with pytest.raises(NotFound):
        rotate_signing_key(engine, NOW, "nobody", grace=HOUR)


def test_two_tenants_calls_are_not_verifiable_with_each_others_key(engine: Engine, target: TargetServer) -> None:
    # Given two tenants (one created, one the embedded default) calling the same receiver
    now = utcnow()
    acme_secret = create_tenant(engine, now, "acme")["signing_secret"]
    assert acme_secret is not None
    ring = KeyRing(engine, INSTALLATION, utcnow)
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=INSTALLATION)
    for tenant in ("acme", "default"):
        client = Cronicorn(engine, tenant_id=tenant)
        job = client.create_job(name="j")
        ep = client.add_endpoint(job.id, name="e", url=target.url(f"/echo?from={tenant}"), baseline_interval_ms=60_000)
        # When each makes a signed call
        assert client.test_call(ep.id, http, ring).ok
    from_acme, from_default = target.requests_to("/echo")
    # Then each call verifies with its own tenant's key only
    assert verifies(acme_secret, from_acme) and not verifies(acme_secret, from_default)
    assert verifies(INSTALLATION, from_default) and not verifies(INSTALLATION, from_acme)

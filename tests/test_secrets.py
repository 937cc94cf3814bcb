"""Secrets are write-only: stored as given, sent to the target, but never read back, over REST or Python."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.clock import utcnow
from cronicorn.core.errors import InvalidInput
from cronicorn.core.settings import Settings
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.redaction import MASK, is_secret_name, redact_text
from cronicorn.producer.remote import RemoteCronicorn
from cronicorn.store.signing_keys import KeyRing
from cronicorn.store.tables import endpoints
from cronicorn.store.tenants import create_key, create_tenant
from tests.api_client import Api
from tests.clients import snapshot
from tests.live_api import LiveApi
from tests.targets import TargetServer

SECRETS = {
    "Authorization": "Bearer tok-AUTH",
    "Proxy-Authorization": "Basic tok-PROXY",
    "Cookie": "sid=tok-COOKIE",
    "X-Api-Key": "tok-APIKEY",
    "X-Auth-Token": "tok-XAUTH",
}
HEADERS = {**SECRETS, "X-Team": "billing", "Accept": "application/json"}


def stored_headers(engine: Engine, endpoint_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        found: dict[str, str] = conn.execute(
            select(endpoints.c.headers).where(endpoints.c.id == endpoint_id)
        ).scalar_one()
    return found


@pytest.mark.parametrize(
    "name, secret",
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("X-API-KEY", True),
        ("X-Auth-Token", True),
        ("x-amz-security-token", True),
        ("client_secret", True),
        ("Private-Key", True),
        ("X-Session-Id", True),
        ("X-Hub-Signature-256", True),
        ("password", True),
        ("sig", True),
        ("X-Sig", True),
        ("Accept", False),
        ("Content-Type", False),
        ("X-Team", False),
        ("X-Design", False),
        ("User-Agent", False),
    ],
)
def test_which_names_hold_secrets(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    "raw, redacted",
    [
        ("https://a.example/x?token=T1&page=2", f"https://a.example/x?token={MASK}&page=2"),
        ("https://a.example/x?page=2&api_key=K1", f"https://a.example/x?page=2&api_key={MASK}"),
        ("https://u:PW@a.example/x", f"https://u:{MASK}@a.example/x"),
        ("https://a.example/cb#access_token=T2&state=s", f"https://a.example/cb#access_token={MASK}&state=s"),
        (
            "https://a.example/x?X-Amz-Signature=S1&X-Amz-Date=d",
            f"https://a.example/x?X-Amz-Signature={MASK}&X-Amz-Date=d",
        ),
        ("https://a.example/x?sig=S2&se=2026", f"https://a.example/x?sig={MASK}&se=2026"),
        ("https://a.example/x?pass%77ord=P", f"https://a.example/x?pass%77ord={MASK}"),
        (  # how requests quotes a failed URL: a path, no scheme
            "HTTPSConnectionPool(host='a.example', port=443): Max retries exceeded with url: /x?secret=S3 (x)",
            f"HTTPSConnectionPool(host='a.example', port=443): Max retries exceeded with url: /x?secret={MASK} (x)",
        ),
        ("https://a.example/x?page=2&q=token", "https://a.example/x?page=2&q=token"),
    ],
)
def test_secrets_are_cut_out_of_urls_and_text_quoting_them(raw: str, redacted: str) -> None:
    assert redact_text(raw) == redacted


# --- REST ------------------------------------------------------------------------------------------
@pytest.fixture
def api(api_pair: tuple[Api, Api, Engine]) -> tuple[Api, Engine, str, dict[str, Any]]:
    acme, _, engine = api_pair
    job_id = acme("POST", "/jobs", {"name": "j"}).json()["id"]
    ep = acme(
        "POST",
        f"/jobs/{job_id}/endpoints",
        {"name": "e", "url": "https://x.example/", "baselineIntervalMs": 60_000, "headersJson": HEADERS},
    ).json()
    return acme, engine, job_id, ep


def test_every_rest_read_shows_secret_header_values_masked_and_the_rest_in_clear(
    api: tuple[Api, Engine, str, dict[str, Any]],
) -> None:
    acme, engine, job_id, created = api
    shown = {name: MASK for name in SECRETS} | {"X-Team": "billing", "Accept": "application/json"}
    reads = [
        acme("GET", f"/endpoints/{created['id']}"),
        acme("GET", f"/jobs/{job_id}/endpoints/{created['id']}"),
        acme("GET", f"/jobs/{job_id}/endpoints"),
        acme("GET", "/endpoints"),
        acme("POST", f"/endpoints/{created['id']}/run-now"),
        acme("PATCH", f"/jobs/{job_id}/endpoints/{created['id']}", {"name": "renamed"}),
    ]
    assert created["headersJson"] == shown
    for answer in reads:
        assert answer.status_code == 200 and "tok-" not in answer.text, answer.text
    assert reads[0].json()["headersJson"] == shown and reads[2].json()["endpoints"][0]["headersJson"] == shown
    assert stored_headers(engine, created["id"]) == HEADERS


def test_a_read_sent_back_as_an_update_keeps_every_secret(api: tuple[Api, Engine, str, dict[str, Any]]) -> None:
    acme, engine, job_id, created = api
    read = acme("GET", f"/endpoints/{created['id']}").json()
    editable = {k: read[k] for k in ("name", "url", "method", "headersJson", "baselineIntervalMs", "timeoutMs")}
    before = snapshot(engine)
    answer = acme("PATCH", f"/jobs/{job_id}/endpoints/{created['id']}", editable)
    assert answer.status_code == 200 and snapshot(engine) == before  # nothing changed, nothing written
    # Renamed in another case, the mask still stands for the stored value (header names ignore case).
    recased = {("authorization" if k == "Authorization" else k): v for k, v in read["headersJson"].items()}
    acme("PATCH", f"/jobs/{job_id}/endpoints/{created['id']}", {"headersJson": recased})
    assert stored_headers(engine, created["id"])["authorization"] == "Bearer tok-AUTH"


def test_a_new_secret_replaces_the_old_one_and_a_left_out_one_is_removed(
    api: tuple[Api, Engine, str, dict[str, Any]],
) -> None:
    acme, engine, job_id, created = api
    headers = {"Authorization": "Bearer tok-NEW", "X-Api-Key": MASK}
    assert acme("PATCH", f"/jobs/{job_id}/endpoints/{created['id']}", {"headersJson": headers}).status_code == 200
    assert stored_headers(engine, created["id"]) == {"Authorization": "Bearer tok-NEW", "X-Api-Key": "tok-APIKEY"}


def test_a_mask_standing_for_no_stored_secret_is_refused_naming_headers(
    api: tuple[Api, Engine, str, dict[str, Any]],
) -> None:
    acme, engine, job_id, created = api
    before = snapshot(engine)
    new = {"name": "n", "url": "https://x.example/", "baselineIntervalMs": 60_000, "headersJson": {"X-Api-Key": MASK}}
    for answer in (
        acme("POST", f"/jobs/{job_id}/endpoints", new),
        acme("PATCH", f"/jobs/{job_id}/endpoints/{created['id']}", {"headersJson": {"X-Other-Token": MASK}}),
    ):
        assert answer.status_code == 422 and answer.json()["details"][0]["field"] == "headersJson", answer.text
        assert "stands for a stored secret" in answer.json()["error"]
    assert snapshot(engine) == before


# --- the Python clients -----------------------------------------------------------------------------
def test_the_python_client_reads_masked_keeps_masks_and_still_sends_the_real_secret(
    engine: Engine, target: TargetServer
) -> None:
    client = Cronicorn(engine, tenant_id="acme")
    job = client.create_job(name="j")
    ep = client.add_endpoint(job.id, name="e", url=target.url("/echo"), baseline_interval_ms=60_000, headers=HEADERS)
    assert (
        ep.headers
        == client.get_endpoint(ep.id).headers
        == {n: MASK for n in SECRETS}
        | {
            "X-Team": "billing",
            "Accept": "application/json",
        }
    )
    read = client.get_endpoint(ep.id)
    assert client.update_endpoint(ep.id, headers=read.headers).updated_at == ep.updated_at  # nothing to write
    spec = {"name": "e", "url": read.url, "baseline_interval_ms": 60_000, "headers": read.headers}
    client.register({"name": "j"}, [spec], on_conflict="error")  # the read's masks differ from nothing stored
    client.register({"name": "j"}, [spec])
    assert stored_headers(engine, ep.id) == HEADERS
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"installation")
    assert client.test_call(ep.id, http, KeyRing(engine, b"installation", utcnow)).ok
    [seen] = target.requests_to("/echo")
    assert all(seen.headers[name] == value for name, value in SECRETS.items())
    with pytest.raises(InvalidInput, match="stands for a stored secret"):
        client.add_endpoint(
            job.id, name="n", url=target.url("/"), baseline_interval_ms=60_000, headers={"Cookie": MASK}
        )


@pytest.fixture
def remote(engine: Engine, redis_conn: redis.Redis) -> Iterator[RemoteCronicorn]:
    now = datetime.now(UTC)
    create_tenant(engine, now, "acme", tier="enterprise")
    _, key = create_key(engine, now, "acme", "remote")
    app = create_app(
        Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: datetime.now(UTC))
    )
    server = LiveApi(app).start()
    yield RemoteCronicorn(server.url, key)
    server.stop()


def test_the_remote_client_registers_secrets_it_cannot_read_back(engine: Engine, remote: RemoteCronicorn) -> None:
    spec = {"name": "e", "url": "https://x.example/", "baseline_interval_ms": 60_000, "headers": HEADERS}
    _, (first,) = remote.register({"name": "j"}, [spec])
    assert first.headers["Authorization"] == MASK and stored_headers(engine, first.id) == HEADERS
    _, (again,) = remote.register({"name": "j"}, [spec], on_conflict="error")  # same secrets: no conflict
    assert again.updated_at == first.updated_at
    rotated = {**spec, "headers": {**HEADERS, "Authorization": "Bearer tok-ROTATED"}}
    remote.register({"name": "j"}, [rotated])  # a rotated secret reaches the server, though no read shows it
    assert stored_headers(engine, first.id)["Authorization"] == "Bearer tok-ROTATED"

"""The HTTP executor against a real local server: bodies, failures, redirects, SSRF, signing."""
from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone

import pytest

from shared.httpcall import HttpCaller, HttpRequest
from shared.model import ErrorKind
from shared.signing import verify
from shared.ssrf import AddressGuard
from tests.targets import TargetServer

KEY = b"test-signing-key"


@pytest.fixture
def caller() -> HttpCaller:
    return HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=KEY, max_redirects=3)


def call(caller: HttpCaller, url: str, **kw: object) -> object:
    return caller.call(HttpRequest(url=url, timeout_ms=kw.pop("timeout_ms", 2000), **kw))  # type: ignore[arg-type]


def test_a_json_body_is_stored_as_json(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/ok"))
    assert out.ok and out.status_code == 200 and out.body_json["status"] == "healthy"
    assert out.body_text is None and not out.truncated and out.response_headers["content-type"] == "application/json"


def test_a_text_body_is_stored_as_text(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/text"))
    assert out.ok and out.body_json is None and out.body_text == "plain text, not JSON ✓"


def test_a_huge_body_is_truncated_at_the_cap_and_flagged(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/huge?kb=500"), max_response_size_kb=10)
    assert out.ok and out.truncated and out.body_size_bytes == 10 * 1024
    assert out.body_json is None and out.body_text is not None and len(out.body_text) == 10 * 1024


def test_a_binary_body_is_noted_not_stored(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/binary"))
    assert out.ok and out.body_json is None and out.body_text is None
    assert out.body_size_bytes == 2048 and out.content_type == "application/octet-stream"


def test_a_server_error_is_a_failed_http_status(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/status/500"))
    assert not out.ok and out.status_code == 500 and out.error_kind is ErrorKind.HTTP_STATUS
    assert out.error_message == "HTTP 500 Internal Server Error" and out.body_json == {"error": "status 500"}


def test_a_redirect_is_followed(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url(f"/redirect?to={target.url('/ok')}"))
    assert out.ok and out.final_url == target.url("/ok")


def test_a_redirect_chain_past_the_cap_fails(caller: HttpCaller, target: TargetServer) -> None:
    url = target.url("/ok")
    for _ in range(5):
        url = target.url(f"/redirect?to={url}")
    out = call(caller, url)
    assert not out.ok and out.error_kind is ErrorKind.TOO_MANY_REDIRECTS


@pytest.mark.parametrize("private", ["http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/"])
def test_a_redirect_to_a_private_address_is_refused_before_connecting(caller: HttpCaller, target: TargetServer, private: str) -> None:
    out = call(caller, target.url(f"/redirect?to={private}"))
    assert not out.ok and out.error_kind is ErrorKind.BLOCKED and "SSRF" in (out.error_message or "")


def test_loopback_is_refused_unless_allowed(target: TargetServer) -> None:
    strict = HttpCaller(guard=AddressGuard(), signing_key=KEY)
    out = call(strict, target.url("/ok"))
    assert out.error_kind is ErrorKind.BLOCKED and "loopback" in (out.error_message or "")
    assert target.seen == []


def test_a_refused_connection_is_a_connection_failure(caller: HttpCaller) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = call(caller, f"http://127.0.0.1:{port}/")
    assert out.error_kind is ErrorKind.CONNECTION and "127.0.0.1" in (out.error_message or "")


def test_a_slow_answer_times_out_near_the_timeout(caller: HttpCaller, target: TargetServer) -> None:
    started = time.monotonic()
    out = call(caller, target.url("/slow?ms=3000"), timeout_ms=1000)
    assert out.error_kind is ErrorKind.TIMEOUT and time.monotonic() - started < 2.0


def test_a_slow_drip_body_cannot_hold_the_worker_past_its_timeout(caller: HttpCaller, target: TargetServer) -> None:
    started = time.monotonic()
    out = call(caller, target.url("/drip?ms=100"), timeout_ms=1000)
    assert out.error_kind is ErrorKind.TIMEOUT and time.monotonic() - started < 2.0


def test_an_unknown_host_is_a_dns_failure(caller: HttpCaller) -> None:
    out = call(caller, "http://no-such-host.invalid/")
    assert out.error_kind is ErrorKind.DNS and "no-such-host.invalid" in (out.error_message or "")


def test_an_unsupported_scheme_is_an_invalid_url(caller: HttpCaller) -> None:
    assert call(caller, "ftp://example.com/file").error_kind is ErrorKind.INVALID_URL  # type: ignore[attr-defined]


def test_a_post_sends_its_json_body_once_and_signs_the_exact_bytes(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/echo"), method="POST", body={"b": [1, 2], "a": "é"}, idempotency_key="ep:slot")
    assert out.ok and out.body_json["body"] == {"b": [1, 2], "a": "é"}
    [seen] = target.requests_to("/echo")
    assert seen.body == json.dumps({"b": [1, 2], "a": "é"}, separators=(",", ":"), ensure_ascii=False).encode()
    h = seen.headers
    assert h["Idempotency-Key"] == "ep:slot" and h["Content-Type"] == "application/json"
    assert verify(KEY, h["X-Cronicorn-Timestamp"], seen.body, h["X-Cronicorn-Signature"], now=datetime.now(timezone.utc))


def test_a_get_sends_no_body_and_its_signature_covers_the_empty_body(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/echo"), method="GET", body={"ignored": True}, headers={"X-Custom": "1"})
    assert out.ok
    [seen] = target.requests_to("/echo")
    assert seen.body == b"" and seen.headers["X-Custom"] == "1"
    assert verify(KEY, seen.headers["X-Cronicorn-Timestamp"], b"", seen.headers["X-Cronicorn-Signature"], now=datetime.now(timezone.utc))


def test_a_303_turns_a_post_into_a_get_without_body(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url(f"/redirect?code=303&to={target.url('/echo')}"), method="POST", body={"x": 1})
    assert out.ok and out.body_json["method"] == "GET" and out.body_json["body"] is None


def test_a_307_keeps_the_method_and_body(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url(f"/redirect?code=307&to={target.url('/echo')}"), method="POST", body={"x": 1})
    assert out.ok and out.body_json["method"] == "POST" and out.body_json["body"] == {"x": 1}

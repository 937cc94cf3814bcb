"""The HTTP executor against a real local server: bodies, statuses, redirects, and what is sent (signing).

Every test talks to 127.0.0.1 only (see conftest.py).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cronicorn.core.calls import HttpOutcome
from cronicorn.core.model import ErrorKind
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from tests.http.calls import KEY, LOOPBACK, body, call
from tests.receiver import verifies
from tests.targets import BINARY_BODY, TEXT_BODY, TargetServer

# --- bodies ---------------------------------------------------------------------------------------


def test_a_json_body_is_stored_as_json(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/ok"))
    assert out.ok and out.status_code == 200 and out.error_kind is None and out.error_message is None
    assert out.body_json == {"status": "healthy", "path": "/ok"} and out.body_text is None and not out.truncated
    assert out.content_type == "application/json" and out.response_headers["content-type"] == "application/json"
    assert out.final_url == target.url("/ok") and out.body_size_bytes == len(json.dumps(out.body_json))


def test_only_the_response_headers_that_matter_are_kept_with_lower_case_names(
    caller: HttpCaller, target: TargetServer
) -> None:
    out = call(caller, target.url("/ok"))
    assert set(out.response_headers) <= {"content-type", "content-length", "date", "server"}
    assert {"content-type", "content-length", "date"} <= set(out.response_headers)


def test_a_text_body_is_stored_as_text(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/text"))
    assert out.ok and out.body_json is None and out.body_text == TEXT_BODY
    assert out.content_type == "text/plain; charset=utf-8"


def test_a_body_without_a_content_type_is_kept_as_text_when_it_reads_as_utf8(
    caller: HttpCaller, target: TargetServer
) -> None:
    out = call(caller, target.url("/untyped"))
    assert out.ok and out.content_type is None and out.body_text == TEXT_BODY


def test_a_huge_body_is_truncated_at_the_cap_and_flagged(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/huge?kb=500"), max_response_size_kb=10)
    assert out.ok and out.truncated and out.body_size_bytes == 10 * 1024
    # Cut JSON cannot be parsed, but it is still kept as text rather than dropped.
    assert out.body_json is None and out.body_text is not None and len(out.body_text) == 10 * 1024
    assert out.body_text.startswith('{"data":"xxx')


def test_a_body_exactly_at_the_cap_is_not_truncated(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/binary"), max_response_size_kb=2)
    assert out.ok and not out.truncated and out.body_size_bytes == len(BINARY_BODY) == 2048


def test_a_binary_body_is_noted_not_stored(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/binary"))
    assert out.ok and out.body_json is None and out.body_text is None
    assert out.body_size_bytes == 2048 and out.content_type == "application/octet-stream"


# --- statuses and redirects -----------------------------------------------------------------------


def test_a_server_error_is_a_failed_http_status_with_its_body(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/status/500"))
    assert not out.ok and out.status_code == 500 and out.error_kind is ErrorKind.HTTP_STATUS
    assert out.error_message == "HTTP 500 Internal Server Error from 127.0.0.1"
    assert out.body_json == {"error": "status 500"}


def test_a_503_says_service_unavailable(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/status/503"))
    assert out.error_kind is ErrorKind.HTTP_STATUS and (out.error_message or "").startswith(
        "HTTP 503 Service Unavailable"
    )


def test_a_204_is_ok_with_no_body(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/status/204"))
    assert (
        out.ok
        and out.status_code == 204
        and out.body_json is None
        and out.body_text is None
        and out.body_size_bytes == 0
    )


def test_a_redirect_is_followed(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url(f"/redirect?to={target.url('/ok')}"))
    assert out.ok and out.final_url == target.url("/ok") and body(out)["path"] == "/ok"
    assert [s.path.split("?")[0] for s in target.seen] == ["/redirect", "/ok"]


def test_a_relative_redirect_is_resolved_against_the_current_url(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/redirect?to=/ok"))
    assert out.ok and out.final_url == target.url("/ok")


def chain(target: TargetServer, hops: int) -> str:
    url = target.url("/ok")
    for _ in range(hops):
        url = target.url(f"/redirect?to={url}")
    return url


def test_a_redirect_chain_up_to_the_cap_is_followed(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, chain(target, 3))
    assert out.ok and out.final_url == target.url("/ok")


def test_a_redirect_chain_past_the_cap_fails_with_too_many_redirects(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, chain(target, 5))
    assert not out.ok and out.status_code is None and out.error_kind is ErrorKind.TOO_MANY_REDIRECTS
    assert "127.0.0.1" in (out.error_message or "") and len(target.seen) == 4  # the first hop and 3 redirects


@pytest.mark.parametrize(
    "private",
    ["http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/", "http://100.64.0.1/"],
)
def test_a_redirect_from_an_allowed_host_to_a_private_address_is_refused_before_connecting(
    caller: HttpCaller, target: TargetServer, only_loopback: list[str], private: str
) -> None:
    out = call(caller, target.url(f"/redirect?to={private}"))
    assert not out.ok and out.error_kind is ErrorKind.BLOCKED
    assert "refused by SSRF guard" in (out.error_message or "") and "CRONICORN_SSRF_ALLOW" in (out.error_message or "")
    assert out.final_url == private and only_loopback == ["127.0.0.1"]


def test_the_metadata_address_is_named_as_such(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/redirect?to=http://169.254.169.254/latest/meta-data"))
    assert "169.254.169.254 is a cloud metadata address" in (out.error_message or "")


@pytest.mark.parametrize("code", [301, 302, 303])
def test_a_301_302_or_303_turns_a_post_into_a_get_without_body(
    caller: HttpCaller, target: TargetServer, code: int
) -> None:
    out = call(caller, target.url(f"/redirect?code={code}&to={target.url('/echo')}"), method="POST", body={"x": 1})
    assert out.ok and body(out)["method"] == "GET" and body(out)["body"] is None
    [hop] = target.requests_to("/echo")
    assert hop.body == b"" and "Content-Type" not in hop.headers
    assert verifies(KEY, hop)  # signed for the hop it is: GET, the new URL, no body


@pytest.mark.parametrize("code", [307, 308])
def test_a_307_or_308_keeps_the_method_and_the_exact_body(caller: HttpCaller, target: TargetServer, code: int) -> None:
    out = call(caller, target.url(f"/redirect?code={code}&to={target.url('/echo')}"), method="PUT", body={"x": 1})
    assert out.ok and body(out)["method"] == "PUT" and body(out)["body"] == {"x": 1}
    first, second = target.seen
    assert first.body == second.body == b'{"x":1}'
    for hop in (first, second):
        assert verifies(KEY, hop)


def test_credentials_are_dropped_when_a_redirect_changes_host(caller: HttpCaller, target: TargetServer) -> None:
    other_host = f"http://localhost:{target.port}/echo"
    headers = {"Authorization": "Bearer secret", "Cookie": "a=b", "X-Keep": "1"}
    out = call(caller, target.url(f"/redirect?to={other_host}"), headers=headers)
    assert out.ok
    first, second = target.seen
    assert first.headers["Authorization"] == "Bearer secret" and first.headers["Cookie"] == "a=b"
    assert "Authorization" not in second.headers and "Cookie" not in second.headers and second.headers["X-Keep"] == "1"


def test_credentials_are_kept_on_a_same_host_redirect(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url(f"/redirect?to={target.url('/echo')}"), headers={"Authorization": "Bearer secret"})
    assert out.ok and body(out)["headers"]["Authorization"] == "Bearer secret"


# --- what is sent ---------------------------------------------------------------------------------


def test_a_post_sends_its_json_body_once_and_the_signature_verifies_over_the_exact_bytes(
    caller: HttpCaller, target: TargetServer
) -> None:
    payload = {"b": [1, 2], "a": "é", "nested": {"z": None}}
    out = call(caller, target.url("/echo"), method="POST", body=payload)
    assert out.ok and body(out)["body"] == payload
    [seen] = target.seen
    assert (
        seen.method == "POST" and seen.body == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    )
    h = seen.headers
    assert h["Content-Type"] == "application/json" and h["Content-Length"] == str(len(seen.body))
    assert verifies(KEY, seen)
    assert not verifies(KEY, replace(seen, body=seen.body + b" "))


def test_a_get_sends_no_body_and_its_signature_verifies_over_the_empty_body(
    caller: HttpCaller, target: TargetServer
) -> None:
    out = call(caller, target.url("/echo"), method="GET", body={"ignored": True})
    assert out.ok
    [seen] = target.seen
    assert seen.body == b"" and "Content-Type" not in seen.headers and "Content-Length" not in seen.headers
    assert verifies(KEY, seen)


def test_a_delete_sends_no_body(caller: HttpCaller, target: TargetServer) -> None:
    assert call(caller, target.url("/echo"), method="delete", body={"ignored": True}).ok
    [seen] = target.seen
    assert seen.method == "DELETE" and seen.body == b""


def test_the_idempotency_key_header_is_sent(caller: HttpCaller, target: TargetServer) -> None:
    call(caller, target.url("/ok"), idempotency_key="ep-1:2026-03-02T12:00:00.000000Z")
    assert target.count_for_key("ep-1:2026-03-02T12:00:00.000000Z") == 1
    assert target.seen[0].headers["Idempotency-Key"] == "ep-1:2026-03-02T12:00:00.000000Z"


def test_the_endpoints_headers_are_passed_but_cannot_replace_the_signature(
    caller: HttpCaller, target: TargetServer
) -> None:
    headers = {"X-Custom": "1", "Content-Type": "application/vnd.api+json", "x-cronicorn-signature": "forged"}
    out = call(caller, target.url("/echo"), method="POST", body=[1], headers=headers)
    assert out.ok
    h = target.seen[0].headers
    assert h["X-Custom"] == "1" and h["Content-Type"] == "application/vnd.api+json"
    assert h["X-Cronicorn-Signature"] != "forged" and verifies(KEY, target.seen[0])


def test_the_default_user_agent_is_cronicorn_unless_the_endpoint_sets_one(
    caller: HttpCaller, target: TargetServer
) -> None:
    call(caller, target.url("/ok"))
    call(caller, target.url("/ok"), headers={"user-agent": "mine/1.0"})
    assert [s.headers["User-Agent"] for s in target.seen] == ["cronicorn/0.1", "mine/1.0"]


def test_the_signature_timestamp_comes_from_the_injected_clock(target: TargetServer) -> None:
    fixed = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clocked = HttpCaller(guard=AddressGuard(LOOPBACK), signing_key=KEY, clock=lambda: fixed)
    call(clocked, target.url("/ok"))
    h = target.seen[0].headers
    assert h["X-Cronicorn-Timestamp"] == str(int(fixed.timestamp()))
    assert verifies(KEY, target.seen[0], now=fixed)


def test_a_requests_own_signing_keys_replace_the_callers_key(caller: HttpCaller, target: TargetServer) -> None:
    call(caller, target.url("/ok"), signing_keys=(b"new", b"old"))
    seen = target.seen[0]
    assert verifies(b"new", seen) and verifies(b"old", seen)
    assert not verifies(KEY, seen)


def test_a_cookie_set_by_one_call_never_reaches_the_next(caller: HttpCaller, target: TargetServer) -> None:
    assert call(caller, target.url("/cookie")).ok
    assert call(caller, target.url("/echo")).ok
    assert "Cookie" not in target.requests_to("/echo")[0].headers


def test_one_caller_serves_many_threads_at_once(caller: HttpCaller, target: TargetServer) -> None:
    def one(i: int) -> HttpOutcome:
        return call(caller, target.url(f"/slow?ms=50&i={i}"), idempotency_key=f"k{i}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(one, range(48)))
    assert all(o.ok for o in outcomes)
    assert target.key_counts() == {f"k{i}": 1 for i in range(48)}


def test_duration_is_measured(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/slow?ms=200"))
    assert out.ok and 190 <= out.duration_ms < 1500

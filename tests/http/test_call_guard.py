"""The HTTP executor against a real local server: the SSRF guard, and failures bounded by the deadline.

Private and metadata targets must be refused before any connection; conftest.py fails a test that
tries to connect beyond this machine. Parser tricks and DNS rebinding: test_call_pinning.py.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime

import pytest

from cronicorn.core.model import ErrorKind
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard, BlockedAddress
from tests.http.calls import KEY, call
from tests.targets import TargetServer

# --- the SSRF guard -------------------------------------------------------------------------------


def test_loopback_is_refused_when_not_allowed(target: TargetServer, only_loopback: list[str]) -> None:
    strict = HttpCaller(guard=AddressGuard(), signing_key=KEY)
    out = call(strict, target.url("/ok"))
    assert out.error_kind is ErrorKind.BLOCKED and out.status_code is None
    assert "127.0.0.1 is a loopback address" in (out.error_message or "")
    assert target.seen == [] and only_loopback == []  # refused before connecting


def test_loopback_is_allowed_with_an_allow_list(target: TargetServer) -> None:
    allowed = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=KEY)
    assert call(allowed, target.url("/ok")).ok


def test_a_kept_alive_connection_is_checked_again_for_every_call(
    caller: HttpCaller, target: TargetServer, only_loopback: list[str]
) -> None:
    assert call(caller, target.url("/ok")).ok and call(caller, target.url("/ok")).ok
    assert only_loopback == ["127.0.0.1"]  # the second call reused the first connection
    caller.guard = AddressGuard()  # e.g. the allow-list shrank; the pooled connection must not slip through
    out = call(caller, target.url("/ok"))
    assert out.error_kind is ErrorKind.BLOCKED and len(target.seen) == 2 and only_loopback == ["127.0.0.1"]


def test_the_session_refuses_to_connect_outside_a_call(caller: HttpCaller, target: TargetServer) -> None:
    with pytest.raises(BlockedAddress):
        caller.session.get(target.url("/ok"), timeout=2)
    assert target.seen == []


# --- failures -------------------------------------------------------------------------------------


def test_a_refused_connection_is_a_connection_failure(caller: HttpCaller) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = call(caller, f"http://127.0.0.1:{port}/")
    assert out.error_kind is ErrorKind.CONNECTION and out.status_code is None
    assert out.error_message == f"could not connect to 127.0.0.1:{port}: Connection refused"


def test_a_server_that_hangs_up_without_answering_is_a_connection_failure(
    caller: HttpCaller, target: TargetServer
) -> None:
    out = call(caller, target.url("/hangup"))
    assert out.error_kind is ErrorKind.CONNECTION
    assert (
        out.error_message
        == f"connection to 127.0.0.1:{target.port} failed: Remote end closed connection without response"
    )


def test_a_slow_answer_times_out_near_the_timeout(caller: HttpCaller, target: TargetServer) -> None:
    started = time.monotonic()
    out = call(caller, target.url("/slow?ms=3000"), timeout_ms=1000)
    elapsed = time.monotonic() - started
    assert out.error_kind is ErrorKind.TIMEOUT and 0.9 <= elapsed < 1.5
    assert out.error_message == "timed out after 1000 ms waiting for 127.0.0.1" and 900 <= out.duration_ms < 1500


def test_a_slow_drip_body_cannot_hold_the_worker_past_its_timeout(caller: HttpCaller, target: TargetServer) -> None:
    started = time.monotonic()
    out = call(caller, target.url("/drip?ms=100"), timeout_ms=1000)
    assert out.error_kind is ErrorKind.TIMEOUT and time.monotonic() - started < 1.5
    assert "127.0.0.1" in (out.error_message or "")


def test_slowly_dripped_headers_cannot_hold_the_worker_past_its_timeout(
    caller: HttpCaller, target: TargetServer
) -> None:
    started = time.monotonic()
    out = call(caller, target.url("/slowheaders?ms=100"), timeout_ms=1000)
    assert out.error_kind is ErrorKind.TIMEOUT and time.monotonic() - started < 1.5


def test_the_deadline_covers_the_whole_call_not_each_hop(caller: HttpCaller, target: TargetServer) -> None:
    # Each hop alone fits in the timeout; together they do not.
    slow = target.url("/slow?ms=600")
    started = time.monotonic()
    out = call(caller, target.url(f"/redirect?ms=600&to={slow}"), timeout_ms=1000)
    assert out.error_kind is ErrorKind.TIMEOUT and time.monotonic() - started < 1.5
    assert out.final_url == slow


def test_a_failed_tls_handshake_is_a_tls_failure(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, f"https://127.0.0.1:{target.port}/ok")  # the target speaks plain HTTP
    assert out.error_kind is ErrorKind.TLS and (out.error_message or "").startswith("TLS error with 127.0.0.1: ")


def test_https_to_a_refused_address_is_blocked_before_any_handshake(
    target: TargetServer, only_loopback: list[str]
) -> None:
    out = call(HttpCaller(guard=AddressGuard(), signing_key=KEY), f"https://127.0.0.1:{target.port}/ok")
    assert out.error_kind is ErrorKind.BLOCKED and only_loopback == []


def test_an_unknown_host_is_a_dns_failure(caller: HttpCaller) -> None:
    out = call(caller, "http://no-such-host.invalid/")
    assert out.error_kind is ErrorKind.DNS and "could not resolve host no-such-host.invalid" in (
        out.error_message or ""
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/file", "file:///etc/passwd", "http://", "not a url", "http://[::1", "http://127.0.0.1:99999/"],
)
def test_a_bad_url_is_an_invalid_url(caller: HttpCaller, url: str) -> None:
    out = call(caller, url)
    assert (
        out.error_kind is ErrorKind.INVALID_URL and out.final_url == url and (out.error_message or "").count("\n") == 0
    )


def test_a_body_that_is_not_json_is_refused_without_a_call_or_an_exception(
    caller: HttpCaller, target: TargetServer
) -> None:
    out = call(caller, target.url("/echo"), method="POST", body={"when": datetime(2026, 1, 1)})
    assert out.error_kind is ErrorKind.INVALID_URL and "not JSON" in (out.error_message or "") and target.seen == []


def test_an_unsupported_method_is_refused_without_a_call(caller: HttpCaller, target: TargetServer) -> None:
    out = call(caller, target.url("/ok"), method="TRACE")
    assert out.error_kind is ErrorKind.INVALID_URL and "TRACE" in (out.error_message or "") and target.seen == []

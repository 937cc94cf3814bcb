"""Request signatures (scheme v1): what they cover, and what a receiver's `verify_signature` accepts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cronicorn import verify_signature
from cronicorn.http.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    canonical_url,
    sign,
    signature_headers,
    string_to_sign,
)
from cronicorn.store.signing_keys import generate_key

KEY = b"receiver-shared-secret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
URL = "https://hooks.example.com/orders/sync?since=2026-03-01&page=2"
BODY = '{"a":1,"é":[true,null]}'.encode()


def signed(keys: list[bytes] | None = None, method: str = "POST", url: str = URL, body: bytes = BODY) -> dict[str, str]:
    return signature_headers(keys or [KEY], method, url, body, NOW)


def accepts(
    headers: dict[str, str],
    *,
    key: bytes | str | list[bytes] = KEY,
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    now: datetime = NOW,
    tolerance_s: int = 300,
) -> bool:
    return verify_signature(key, method=method, url=url, body=body, headers=headers, now=now, tolerance_s=tolerance_s)


def test_the_string_to_sign_is_the_documented_one_and_stays_stable() -> None:
    # Receivers in other languages are checked against these bytes and this value; they must never change.
    expected = b"v1\n1700000000\nPOST\nhttps://example.com/hook?x=1\n{}"
    assert string_to_sign(1700000000, "post", "https://example.com/hook?x=1", b"{}") == expected
    digest = hmac.new(b"key", expected, hashlib.sha256).hexdigest()
    assert sign(b"key", 1700000000, "POST", "https://example.com/hook?x=1", b"{}") == f"v1={digest}"


def test_the_headers_carry_the_signature_and_the_unix_timestamp() -> None:
    headers = signed()
    assert headers == {SIGNATURE_HEADER: sign(KEY, TS, "POST", URL, BODY), TIMESTAMP_HEADER: str(TS)}
    assert (SIGNATURE_HEADER, TIMESTAMP_HEADER) == ("X-Cronicorn-Signature", "X-Cronicorn-Timestamp")


def test_a_receiver_accepts_the_exact_request_with_headers_in_any_case() -> None:
    headers = signed()
    assert accepts(headers, now=NOW + timedelta(seconds=30))
    assert accepts({k.lower(): v for k, v in headers.items()})
    assert accepts(headers, key=KEY.decode())  # a key read from the environment, as text


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"method": "GET", "body": b""},
        {"url": "https://hooks.example.com/orders/delete?since=2026-03-01&page=2"},
        {"url": "https://hooks.example.com/orders/sync?since=2026-03-01&page=3"},
        {"url": "https://hooks.example.com/orders/sync"},
        {"url": "https://other.example.com/orders/sync?since=2026-03-01&page=2"},
        {"url": "http://hooks.example.com/orders/sync?since=2026-03-01&page=2"},
        {"url": "https://hooks.example.com:8443/orders/sync?since=2026-03-01&page=2"},
        {"body": BODY + b" "},
        {"body": b""},
        {"key": b"another tenant's key"},
    ],
    ids=[
        "method",
        "method-and-body",
        "path",
        "query",
        "no-query",
        "host",
        "scheme",
        "port",
        "body",
        "empty-body",
        "key",
    ],
)
def test_a_changed_method_url_body_or_key_is_refused(change: dict[str, object]) -> None:
    assert not accepts(signed(), **change)  # type: ignore[arg-type]


def test_a_changed_timestamp_is_refused() -> None:
    headers = signed()
    assert not accepts({**headers, TIMESTAMP_HEADER: str(TS + 1)}, now=NOW)
    assert not accepts({**headers, TIMESTAMP_HEADER: str(TS - 1)}, now=NOW)


@pytest.mark.parametrize("skew_s", [301, -301, 3600, -86_400])
def test_a_timestamp_outside_the_tolerance_is_refused_to_stop_replays(skew_s: int) -> None:
    headers = signed()
    assert not accepts(headers, now=NOW + timedelta(seconds=skew_s))
    assert accepts(headers, now=NOW + timedelta(seconds=skew_s), tolerance_s=abs(skew_s))


def test_a_replay_minutes_later_is_refused_while_the_original_was_accepted() -> None:
    headers = signed()
    assert accepts(headers, now=NOW + timedelta(seconds=5))
    assert not accepts(headers, now=NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "same",
    [
        "https://HOOKS.Example.COM/orders/sync?since=2026-03-01&page=2",
        "HTTPS://hooks.example.com/orders/sync?since=2026-03-01&page=2",
        "https://hooks.example.com:443/orders/sync?since=2026-03-01&page=2",
        "https://user:pw@hooks.example.com/orders/sync?since=2026-03-01&page=2",
        "https://hooks.example.com/orders/sync?since=2026-03-01&page=2#fragment",
    ],
    ids=["host-case", "scheme-case", "default-port", "user-info", "fragment"],
)
def test_spellings_of_the_same_request_target_verify(same: str) -> None:
    # What a receiver's framework rebuilds may differ in these ways from the registered URL.
    assert accepts(signed(), url=same)


def test_the_canonical_url_is_what_goes_on_the_wire() -> None:
    assert canonical_url("http://example.com") == "http://example.com/"
    assert canonical_url("http://EXAMPLE.com:80/a b?q=ü") == "http://example.com/a%20b?q=%C3%BC"
    assert canonical_url("http://bücher.example/x") == "http://xn--bcher-kva.example/x"
    assert canonical_url("http://[::1]:8080/x?") == "http://[::1]:8080/x"
    assert canonical_url("https://example.com:8443") == "https://example.com:8443/"


def test_several_keys_give_one_signature_each_and_a_receiver_with_any_of_them_accepts() -> None:
    headers = signed([b"new", b"old"])
    assert headers[SIGNATURE_HEADER] == f"{sign(b'new', TS, 'POST', URL, BODY)},{sign(b'old', TS, 'POST', URL, BODY)}"
    assert accepts(headers, key=b"new") and accepts(headers, key=b"old")
    assert not accepts(headers, key=b"other")


def test_a_receiver_holding_the_old_and_the_new_key_accepts_either_signature() -> None:
    assert accepts(signed([b"old"]), key=[b"new", b"old"])
    assert accepts(signed([b"new"]), key=[b"new", b"old"])
    assert not accepts(signed([b"other"]), key=[b"new", b"old"])


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5e9", "+1772452800", " ", "١٧٧٢٤٥٢٨٠٠"])
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    assert not accepts({**signed(), TIMESTAMP_HEADER: timestamp})


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "v1=",
        "garbage",
        "v1=ünïcode",
        # The previous scheme's signature (timestamp and body only) does not pass for v1.
        "sha256=" + hmac.new(KEY, f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest(),
    ],
)
def test_a_malformed_or_old_scheme_signature_is_refused_without_raising(signature: str) -> None:
    assert not accepts({**signed(), SIGNATURE_HEADER: signature})


def test_missing_headers_are_refused() -> None:
    headers = signed()
    assert not accepts({TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]})
    assert not accepts({SIGNATURE_HEADER: headers[SIGNATURE_HEADER]})


@pytest.mark.parametrize("key", [b"", "", []], ids=["empty-bytes", "empty-text", "no-keys"])
def test_a_receiver_without_a_real_key_is_told_so_instead_of_accepting_forgeries(key: object) -> None:
    # An HMAC under an empty key is one anybody can compute: an unset secret must not verify anything.
    with pytest.raises(ValueError, match="non-empty key"):
        accepts(signed(), key=key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty key"):
        signature_headers([b""], "GET", URL, b"", NOW)


def test_a_naive_datetime_is_refused_because_it_would_shift_the_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signature_headers([KEY], "POST", URL, BODY, datetime(2026, 3, 2, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        accepts(signed(), now=datetime(2026, 3, 2, 12, 0))


def test_a_non_utc_aware_datetime_gives_the_same_timestamp() -> None:
    plus_two = NOW.astimezone(timezone(timedelta(hours=2)))
    assert signature_headers([KEY], "POST", URL, BODY, plus_two) == signed()


def test_without_now_the_receiver_checks_against_its_own_clock() -> None:
    headers = signed()  # signed in March 2026, long before or after this test runs
    assert not verify_signature(KEY, method="POST", url=URL, body=BODY, headers=headers)


def test_generated_keys_are_long_random_and_url_safe() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(k) == 43 and k.replace("-", "").replace("_", "").isalnum() for k in keys)

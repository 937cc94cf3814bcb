"""Request signatures: what receivers compute and check."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cronicorn.http.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signature_headers, verify
from cronicorn.store.signing_keys import generate_key

KEY = b"receiver-shared-secret"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp())
BODY = '{"a":1,"é":[true,null]}'.encode()


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(KEY, f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(KEY, TS, BODY) == f"sha256={expected}"


def test_a_known_vector_stays_stable() -> None:
    # Receivers in other languages are checked against this value; it must never change.
    assert sign(b"key", 1700000000, b"") == "sha256=" + hmac.new(b"key", b"1700000000.", hashlib.sha256).hexdigest()


def test_the_headers_carry_the_signature_and_the_unix_timestamp() -> None:
    headers = signature_headers(KEY, BODY, NOW)
    assert headers == {SIGNATURE_HEADER: sign(KEY, TS, BODY), TIMESTAMP_HEADER: str(TS)}
    assert (SIGNATURE_HEADER, TIMESTAMP_HEADER) == ("X-Cronicorn-Signature", "X-Cronicorn-Timestamp")


def test_several_keys_give_one_signature_each_and_a_receiver_with_any_of_them_accepts() -> None:
    headers = signature_headers([b"new", b"old"], BODY, NOW)
    sig = headers[SIGNATURE_HEADER]
    assert sig == f"{sign(b'new', TS, BODY)},{sign(b'old', TS, BODY)}"
    assert verify(b"new", TS, BODY, sig, now=NOW) and verify(b"old", TS, BODY, sig, now=NOW)
    assert not verify(b"other", TS, BODY, sig, now=NOW)


def test_a_receiver_accepts_the_exact_request() -> None:
    headers = signature_headers(KEY, BODY, NOW)
    assert verify(KEY, headers[TIMESTAMP_HEADER], BODY, headers[SIGNATURE_HEADER], now=NOW + timedelta(seconds=30))


def test_an_empty_body_is_signed_too() -> None:
    headers = signature_headers(KEY, b"", NOW)
    assert verify(KEY, headers[TIMESTAMP_HEADER], b"", headers[SIGNATURE_HEADER], now=NOW)
    assert not verify(KEY, headers[TIMESTAMP_HEADER], b"{}", headers[SIGNATURE_HEADER], now=NOW)


def test_a_changed_body_key_or_timestamp_is_refused() -> None:
    sig = sign(KEY, TS, BODY)
    assert not verify(KEY, TS, BODY + b" ", sig, now=NOW)
    assert not verify(b"wrong key", TS, BODY, sig, now=NOW)
    assert not verify(KEY, TS + 1, BODY, sig, now=NOW)


@pytest.mark.parametrize("skew_s", [301, -301, 3600])
def test_a_timestamp_outside_the_tolerance_is_refused_to_stop_replays(skew_s: int) -> None:
    sig = sign(KEY, TS, BODY)
    assert not verify(KEY, TS, BODY, sig, now=NOW + timedelta(seconds=skew_s))
    assert verify(KEY, TS, BODY, sig, now=NOW + timedelta(seconds=skew_s), tolerance_s=abs(skew_s))


@pytest.mark.parametrize("timestamp", ["", "soon", "1.5e9", None])
def test_a_malformed_timestamp_is_refused(timestamp: object) -> None:
    assert not verify(KEY, timestamp, BODY, sign(KEY, TS, BODY), now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("signature", ["", "sha256=", "garbage", "sha256=ünïcode"])
def test_a_malformed_signature_is_refused_without_raising(signature: str) -> None:
    assert not verify(KEY, TS, BODY, signature, now=NOW)


def test_a_naive_datetime_is_refused_because_it_would_shift_the_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        signature_headers(KEY, BODY, datetime(2026, 3, 2, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(KEY, TS, BODY, sign(KEY, TS, BODY), now=datetime(2026, 3, 2, 12, 0))


def test_a_non_utc_aware_datetime_gives_the_same_timestamp() -> None:
    plus_two = NOW.astimezone(timezone(timedelta(hours=2)))
    assert signature_headers(KEY, BODY, plus_two) == signature_headers(KEY, BODY, NOW)


def test_generated_keys_are_long_random_and_url_safe() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(k) == 43 and k.replace("-", "").replace("_", "").isalnum() for k in keys)

"""Calls sharing one process's response budget, against a real local server.

A call reserves room for its cap (and the byte that shows more) before it is sent, gives back
what a declared length says it will not need, and gives everything back when it is done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from cronicorn.core.calls import HttpOutcome
from cronicorn.core.model import ErrorKind
from cronicorn.http.budget import ResponseBudget
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from tests.http.bodies import BodyServer
from tests.http.calls import KEY, LOOPBACK, call
from tests.targets import Seen

CAP_KB = 64
ROOM = CAP_KB * 1024 + 1  # what one call with this cap reserves


@pytest.fixture
def bodies() -> Iterator[BodyServer]:
    with BodyServer() as server:
        yield server


def budgeted(limit: int) -> HttpCaller:
    return HttpCaller(guard=AddressGuard(LOOPBACK), signing_key=KEY, response_budget=ResponseBudget(limit))


def later(pool: ThreadPoolExecutor, delay_s: float, caller: HttpCaller, url: str, **kw: Any) -> Future[HttpOutcome]:
    """The call, started `delay_s` from now in its own thread."""

    def run() -> HttpOutcome:
        time.sleep(delay_s)
        return call(caller, url, **kw)

    return pool.submit(run)


def arrival(server: BodyServer, key: str) -> Seen:
    [seen] = [s for s in server.seen if s.headers.get("Idempotency-Key") == key]
    return seen


def test_a_call_is_sent_only_once_the_budget_has_room_for_its_body(bodies: BodyServer) -> None:
    caller = budgeted(ROOM + 1000)  # room for one such call at a time
    slow = bodies.url("/body?bytes=60000&ms=500")  # chunked: its size is unknown until it ends
    with ThreadPoolExecutor(2) as pool:
        first = later(pool, 0, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="a", timeout_ms=5000)
        second = later(pool, 0.05, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="b", timeout_ms=5000)
        outcomes = [first.result(), second.result()]
    assert all(o.ok and not o.truncated and o.body_size_bytes == 60000 for o in outcomes)
    assert arrival(bodies, "b").at >= bodies.finished["a"]  # only once the first body was all read
    assert caller.budget.in_use == 0


def test_a_call_that_finds_no_room_before_its_deadline_times_out_and_is_never_sent(bodies: BodyServer) -> None:
    caller = budgeted(ROOM + 1000)
    slow = bodies.url("/body?bytes=60000&ms=1500")
    with ThreadPoolExecutor(2) as pool:
        first = later(pool, 0, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="a", timeout_ms=5000)
        second = later(pool, 0.1, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="b", timeout_ms=800)
        held, starved = first.result(), second.result()
    assert held.ok
    assert starved.error_kind is ErrorKind.TIMEOUT and starved.status_code is None and 700 <= starved.duration_ms
    assert starved.error_message == (
        "timed out after 800 ms waiting for room for a 64 KiB response in this worker's response budget "
        "(66,537 bytes, CRONICORN_RESPONSE_BUDGET_MB); 127.0.0.1 was not called"
    )
    assert bodies.idempotency_keys() == ["a"]


def test_a_declared_length_gives_back_the_room_the_body_will_not_need(bodies: BodyServer) -> None:
    caller = budgeted(ROOM + 2000)
    declared = bodies.url("/body?bytes=1000&ms=800&declared=1")  # says 1000 bytes, then takes its time
    with ThreadPoolExecutor(2) as pool:
        first = later(pool, 0, caller, declared, max_response_size_kb=CAP_KB, idempotency_key="a", timeout_ms=5000)
        second = later(pool, 0.2, caller, declared, max_response_size_kb=CAP_KB, idempotency_key="b", timeout_ms=5000)
        outcomes = [first.result(), second.result()]
    assert all(o.ok and o.body_size_bytes == 1000 for o in outcomes)
    assert arrival(bodies, "b").at < bodies.finished["a"]  # sent while the first was still being read


def test_a_small_call_goes_ahead_while_a_larger_one_waits_for_room(bodies: BodyServer) -> None:
    caller = budgeted(100 * 1024)  # one 64 KiB call and one 16 KiB call fit; two 64 KiB calls do not
    slow = bodies.url("/body?bytes=60000&ms=800")
    with ThreadPoolExecutor(3) as pool:
        large = later(pool, 0, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="large", timeout_ms=5000)
        waits = later(pool, 0.1, caller, slow, max_response_size_kb=CAP_KB, idempotency_key="waits", timeout_ms=5000)
        small = later(pool, 0.2, caller, bodies.url("/ok"), max_response_size_kb=16, idempotency_key="small")
        outcomes = [large.result(), waits.result(), small.result()]
    assert all(o.ok for o in outcomes)
    assert arrival(bodies, "small").at < bodies.finished["large"] <= arrival(bodies, "waits").at


def test_a_cap_larger_than_the_whole_budget_is_refused_without_a_call(bodies: BodyServer) -> None:
    out = call(budgeted(10_000), bodies.url("/ok"), max_response_size_kb=CAP_KB)
    assert out.error_kind is ErrorKind.INVALID_URL and bodies.seen == []
    assert out.error_message == (
        "the 64 KiB response cap for 127.0.0.1 is larger than this worker's whole response budget "
        "(10,000 bytes, CRONICORN_RESPONSE_BUDGET_MB); not called"
    )


def test_a_compressed_body_is_cut_at_its_cap_once_decoded_whatever_its_compressed_length(
    bodies: BodyServer,
) -> None:
    # 1 MiB of zeros is about 1 KiB gzipped: the declared length says nothing about the decoded size.
    out = call(budgeted(ROOM), bodies.url(f"/body?bytes={2**20}&gzip=1&declared=1"), max_response_size_kb=CAP_KB)
    assert out.ok and out.truncated and out.body_size_bytes == CAP_KB * 1024


def test_a_body_of_unknown_length_under_the_cap_is_whole_and_not_truncated(bodies: BodyServer) -> None:
    out = call(budgeted(ROOM), bodies.url("/body?bytes=65536"), max_response_size_kb=CAP_KB)
    assert out.ok and not out.truncated and out.body_text == "x" * 65536


def test_a_body_one_byte_over_the_cap_is_cut_and_flagged(bodies: BodyServer) -> None:
    out = call(budgeted(ROOM), bodies.url("/body?bytes=65537"), max_response_size_kb=CAP_KB)
    assert out.ok and out.truncated and out.body_text == "x" * 65536


@pytest.mark.parametrize(
    "path, kw",
    [
        ("/ok", {}),
        ("/huge?kb=200", {}),
        ("/status/500", {}),
        ("/status/204", {}),
        ("/ok", {"method": "HEAD"}),
        ("/redirect?to=/ok", {}),
        ("/body?bytes=1000&ms=3000&declared=1", {"timeout_ms": 1000}),
        ("/slowheaders?ms=100", {"timeout_ms": 1000}),
        ("/hangup", {}),
        ("http://10.0.0.1/", {}),
        ("http://127.0.0.1:1/", {}),
        ("http://no-such-host.invalid/", {}),
    ],
)
def test_the_budget_is_whole_again_after_every_kind_of_call(bodies: BodyServer, path: str, kw: dict[str, Any]) -> None:
    caller = budgeted(ROOM)
    call(caller, path if path.startswith("http") else bodies.url(path), max_response_size_kb=CAP_KB, **kw)
    assert caller.budget.in_use == 0
    assert call(caller, bodies.url("/ok"), max_response_size_kb=CAP_KB).ok  # and the next call gets all of it


def test_calls_from_many_threads_share_one_budget_and_all_complete(bodies: BodyServer) -> None:
    caller = budgeted(3 * ROOM)
    seen_in_use: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen_in_use.append(caller.budget.in_use)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(12) as pool:
        futures = [
            later(pool, 0, caller, bodies.url("/body?bytes=100000&ms=100"), max_response_size_kb=CAP_KB)
            for _ in range(12)
        ]
        outcomes = [f.result() for f in futures]
    stop.set()
    watcher.join()
    assert all(o.ok and o.truncated and o.body_size_bytes == CAP_KB * 1024 for o in outcomes)
    assert max(seen_in_use) <= 3 * ROOM and caller.budget.in_use == 0

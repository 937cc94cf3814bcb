"""The response budget on its own: reservations, waiting for room within a deadline, threads and greenlets."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cronicorn.core.settings import Settings, SettingsError
from cronicorn.http.budget import DEFAULT_BYTES, MIB, ResponseBudget

ROOT = Path(__file__).resolve().parents[2]


def test_a_reservation_holds_its_bytes_until_released_once() -> None:
    budget = ResponseBudget(1000)
    held = budget.reserve(600, time.monotonic())
    assert held is not None and held.size == 600 and budget.in_use == 600
    held.release()
    held.release()  # a second release gives nothing back twice
    assert budget.in_use == 0


def test_shrinking_gives_back_the_excess_and_never_grows() -> None:
    budget = ResponseBudget(1000)
    with budget.reserve(800, time.monotonic()) as held:
        held.shrink(300)
        assert budget.in_use == 300
        held.shrink(900)  # growing could wait while holding: refused silently, the size stays
        assert held.size == 300 and budget.in_use == 300
    assert budget.in_use == 0


def test_a_reservation_that_does_not_fit_waits_for_room() -> None:
    budget = ResponseBudget(1000)
    first = budget.reserve(700, time.monotonic())
    assert first is not None
    threading.Timer(0.2, first.release).start()
    started = time.monotonic()
    second = budget.reserve(700, started + 5)
    assert second is not None and 0.15 <= time.monotonic() - started < 2 and budget.in_use == 700


def test_a_reservation_that_finds_no_room_by_its_deadline_gets_none_and_holds_nothing() -> None:
    budget = ResponseBudget(1000)
    assert budget.reserve(700, time.monotonic()) is not None
    started = time.monotonic()
    assert budget.reserve(700, started + 0.2) is None
    assert 0.15 <= time.monotonic() - started < 2 and budget.in_use == 700


def test_whatever_fits_goes_ahead_of_a_larger_waiter() -> None:
    budget = ResponseBudget(1000)
    assert budget.reserve(600, time.monotonic()) is not None
    waiting = threading.Thread(target=budget.reserve, args=(600, time.monotonic() + 0.5))
    waiting.start()
    time.sleep(0.05)
    assert budget.reserve(300, time.monotonic()) is not None  # at once, though the 600 waits
    waiting.join()


@pytest.mark.parametrize("size", [-1, 1001])
def test_a_size_the_budget_can_never_hold_is_named(size: int) -> None:
    with pytest.raises(ValueError, match=f"cannot reserve {size} bytes of a 1000-byte response budget"):
        ResponseBudget(1000).reserve(size, time.monotonic() + 1)


def test_an_empty_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 byte"):
        ResponseBudget(0)


def test_many_threads_never_hold_more_than_the_budget_together() -> None:
    budget, lock = ResponseBudget(10_000), threading.Lock()
    held, peak = [0], [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(200):
            size = rng.randint(1, 6000)
            reservation = budget.reserve(size, time.monotonic() + 10)
            assert reservation is not None
            with lock:
                held[0] += size
                peak[0] = max(peak[0], held[0])
            time.sleep(0)
            with lock:
                held[0] -= size
            reservation.release()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 6000 < peak[0] <= 10_000 and budget.in_use == 0


def test_under_gevent_a_waiting_call_lets_the_others_run() -> None:
    pytest.importorskip("gevent")
    # A greenlet waiting for room must yield to the hub, or the one that would free the room never runs.
    script = textwrap.dedent("""
        from gevent import monkey
        monkey.patch_all()
        import time
        import gevent
        from cronicorn.http.budget import ResponseBudget

        budget = ResponseBudget(1000)
        first = budget.reserve(1000, time.monotonic())

        def free_soon():
            gevent.sleep(0.2)
            first.release()

        def wait_for_room():
            return budget.reserve(1000, time.monotonic() + 5)

        started = time.monotonic()
        waiter, freer = gevent.spawn(wait_for_room), gevent.spawn(free_soon)
        gevent.joinall([waiter, freer], timeout=10)
        assert waiter.value is not None and budget.in_use == 1000, (waiter.value, budget.in_use)
        assert time.monotonic() - started < 2
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_the_default_budget_is_the_settings_default() -> None:
    assert DEFAULT_BYTES == Settings().response_budget_mb * MIB == 64 * MIB
    assert ResponseBudget().limit == DEFAULT_BYTES
    assert Settings.from_env({"CRONICORN_RESPONSE_BUDGET_MB": "256"}).response_budget_mb == 256


@pytest.mark.parametrize("raw", ["8", "lots"])
def test_a_budget_setting_too_small_for_the_largest_cap_or_not_a_number_is_named(raw: str) -> None:
    with pytest.raises(SettingsError, match=f"CRONICORN_RESPONSE_BUDGET_MB='{raw}'"):
        Settings.from_env({"CRONICORN_RESPONSE_BUDGET_MB": raw})

"""The response budget: how many response-body bytes one worker process may hold at once.

Each call reserves its worst case (its size cap, plus the byte that shows there was more) before
its request is sent, and waits, within its own deadline, until that fits: a call either has room
for its body before the target hears from it, or it is not sent at all. Once the headers say how
long the body really is, the call gives back what it will not need. Reserving the whole need at
once means a call never waits while holding part of the budget, so calls can never wait on each
other in a circle; and any call that fits goes ahead, so small bodies are not held up behind a
large one that is waiting for room.
"""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType

from cronicorn.core.settings import Settings

MIB = 2**20
# The settings table's default, so an HttpCaller built without one agrees with the docs.
DEFAULT_BYTES = Settings.response_budget_mb * MIB


class ResponseBudget:
    """Bytes reserved by the calls of one process; thread-safe, and greenlet-safe under gevent's patching."""

    def __init__(self, limit_bytes: int = DEFAULT_BYTES) -> None:
        if limit_bytes < 1:
            raise ValueError(f"a response budget must be at least 1 byte, not {limit_bytes}")
        self.limit = limit_bytes
        self._reset()

    def _reset(self) -> None:
        # Made when the caller is, i.e. after gevent's monkey-patching in a gevent worker.
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._in_use = 0

    @property
    def in_use(self) -> int:
        with self._cond:
            return self._in_use

    def reserve(self, size: int, deadline: float) -> Reservation | None:
        """`size` bytes, once they fit; None if they still do not at `deadline` (time.monotonic())."""
        if not 0 <= size <= self.limit:
            raise ValueError(f"cannot reserve {size} bytes of a {self.limit}-byte response budget")
        if os.getpid() != self._pid:
            self._reset()  # a forked child holds none of its parent's reservations, nor a usable lock
        with self._cond:
            while self._in_use + size > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            self._in_use += size
        return Reservation(self, size)

    def _give_back(self, size: int) -> None:
        with self._cond:
            self._in_use -= size
            self._cond.notify_all()  # every waiter re-checks: whichever now fits goes ahead


class Reservation:
    """One call's share of the budget; given back (all of it, once) when the call is done."""

    def __init__(self, budget: ResponseBudget, size: int) -> None:
        self.budget = budget
        self.size = size

    def shrink(self, size: int) -> None:
        """Keep only `size` bytes (never grows: growing could wait while holding, see the module doc)."""
        if 0 <= size < self.size:
            excess, self.size = self.size - size, size
            self.budget._give_back(excess)

    def release(self) -> None:
        self.shrink(0)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.release()

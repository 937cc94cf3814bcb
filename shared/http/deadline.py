"""The whole-call deadline: each call's scope, and one watchdog thread that cuts its sockets when time is up."""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from contextvars import ContextVar
from typing import Protocol

from cronicorn.http.ssrf import AddressGuard, BlockedAddress

# Socket timeouts bound each recv, not a call: a server dripping a byte a second (in its headers or
# its body) would never trip them. So every call has a scope with its deadline, the connections it
# is using register with it, and one watchdog thread shuts those sockets down when time is up.


class Owned(Protocol):
    """A connection a scope can own and cut."""

    owner: Scope | None

    def cut(self) -> None: ...


class Scope:
    """One call's deadline, guard and the connections it currently owns."""

    def __init__(self, deadline: float, guard: AddressGuard) -> None:
        self.deadline = deadline
        self.guard = guard
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._conns: set[Owned] = set()

    def admit(self, conn: Owned, peer: str) -> None:
        """Check the connected peer (what DNS answered no longer matters) and take ownership of `conn`."""
        self.guard.check_ip(peer)
        with self._lock:
            if self.expired or self._done:
                raise TimeoutError("the call's deadline passed")
            conn.owner = self
            self._conns.add(conn)

    def release(self, conn: Owned) -> None:
        """`conn` went back to the pool: another call may use it, so this scope must never cut it."""
        with self._lock:
            if conn.owner is self:
                conn.owner = None
            self._conns.discard(conn)

    def expire(self) -> None:
        """Time is up: cut every connection still owned, so blocked reads return at once."""
        with self._lock:
            if self._done or self.expired:
                return
            self.expired = True
            for conn in self._conns:
                if conn.owner is self:
                    conn.cut()

    def finish(self) -> None:
        """The call is over; a late watchdog tick does nothing."""
        with self._lock:
            self._done = True
            for conn in self._conns:
                if conn.owner is self:
                    conn.owner = None
            self._conns.clear()


CURRENT_SCOPE: ContextVar[Scope | None] = ContextVar("cronicorn_http_scope", default=None)


def current_scope() -> Scope:
    scope = CURRENT_SCOPE.get()
    if scope is None:
        # Fail closed: only HttpCaller.call knows which guard applies.
        raise BlockedAddress("refused by SSRF guard: connections are made only inside HttpCaller.call")
    return scope


class Watchdog:
    """One thread (a greenlet under gevent) per caller that expires scopes at their deadlines."""

    IDLE_EXIT_S = 60.0  # an idle caller holds no thread

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Created when the caller is, i.e. after gevent's monkey-patching in a gevent worker.
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Scope]] = []
        self._seq = itertools.count()
        self._running = False

    def watch(self, scope: Scope) -> None:
        """Expire `scope` at its deadline unless it finishes first."""
        if os.getpid() != self._pid:
            self._reset()  # a forked child inherits neither the parent's thread nor a usable lock
        with self._cond:
            heapq.heappush(self._heap, (scope.deadline, next(self._seq), scope))
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="cronicorn-http-deadline", daemon=True).start()
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, scope = heapq.heappop(self._heap)
                    scope.expire()
                if self._heap:
                    self._cond.wait(self._heap[0][0] - now)
                elif not self._cond.wait(self.IDLE_EXIT_S) and not self._heap:
                    self._running = False
                    return

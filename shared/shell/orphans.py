"""Children that die with their supervisor: a `kill -9` of `cronicorn up` must not leave its roles running."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send `sig` to the child when its parent dies (Linux only).

    SIGTERM, not SIGKILL: a Celery worker then shuts down warmly and its attempts are recorded.
    """
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    # Loaded here, in the parent: between fork and exec the child only makes the call (other threads
    # of ours, e.g. the demo target, may hold locks a dlopen would wait for).
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), sig)

    return preexec

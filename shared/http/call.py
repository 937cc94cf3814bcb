"""The HTTP executor: one scheduled call, guarded, signed, bounded in time and memory, classified."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.structures import CaseInsensitiveDict

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.core.clock import utcnow
from cronicorn.core.model import BODY_METHODS, HTTP_METHODS, ErrorKind
from cronicorn.http.budget import MIB, Reservation, ResponseBudget
from cronicorn.http.deadline import CURRENT_SCOPE, Scope, Watchdog
from cronicorn.http.failures import Failure, status_line
from cronicorn.http.redirects import Hops
from cronicorn.http.responses import body_limit, decode, kept_headers, read
from cronicorn.http.ssrf import AddressGuard
from cronicorn.http.transport import GuardedAdapter
from cronicorn.http.urls import host_of

log = logging.getLogger(__name__)

CALL_METHODS = frozenset({*HTTP_METHODS, "HEAD"})
USER_AGENT = "cronicorn/0.1"
# Set by HttpCaller, never by the endpoint's own headers: the exact bytes decide these.
MANAGED_HEADERS = frozenset({"content-length", "transfer-encoding", "x-cronicorn-signature", "x-cronicorn-timestamp"})
BUDGET_SETTING = "CRONICORN_RESPONSE_BUDGET_MB"


class HttpCaller:
    """Makes scheduled calls. One per worker process; safe to share across threads and greenlets."""

    def __init__(
        self,
        *,
        guard: AddressGuard,
        signing_key: bytes,
        max_redirects: int = 5,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = utcnow,
        response_budget: ResponseBudget | None = None,
    ) -> None:
        self.guard = guard
        self.signing_key = signing_key
        self.max_redirects = max_redirects
        self.clock = clock
        # Shared by every call this caller makes: one caller per process makes it the process's budget.
        self.budget = response_budget if response_budget is not None else ResponseBudget()
        # Everything is configured here, before any thread uses the session: requests is then safe to share.
        # A session passed in is configured the same way (and its http/https adapters replaced): the guard
        # must hold whoever built the session.
        self.session = session if session is not None else requests.Session()
        self.session.trust_env = False  # no proxies or .netrc from the environment, and much faster
        self.session.proxies = {}
        self.session.headers["User-Agent"] = USER_AGENT
        # One session serves every tenant: a cookie set by one target must never reach another call.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = GuardedAdapter(pool_connections=32, pool_maxsize=64, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._watchdog = Watchdog()

    def call(self, request: HttpRequest) -> HttpOutcome:
        """Make the call; target problems come back as a failed outcome, never as an exception."""
        started = time.monotonic()
        scope = Scope(started + request.timeout_ms / 1000, self.guard)
        token = CURRENT_SCOPE.set(scope)
        call = _Call(self, request, scope)
        try:
            self._watchdog.watch(scope)
            return call.run(started)
        except Failure as failure:
            return call.failed(started, failure)
        except Exception as exc:  # a bug here must not look like the target's fault, but must not crash the worker
            log.exception("unexpected error calling %s", call.hops.url)
            host = call.hops.host
            return call.failed(started, Failure(ErrorKind.CONNECTION, f"unexpected error calling {host}: {exc!r}"))
        finally:
            scope.finish()
            CURRENT_SCOPE.reset(token)


class _Call:
    """One call: its request made into bytes, its hops, and the outcome they come to."""

    def __init__(self, caller: HttpCaller, request: HttpRequest, scope: Scope) -> None:
        self.request = request
        self.budget = caller.budget
        host = host_of(request.url)
        method = request.method.upper()
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in request.headers.items():
            if name.lower() not in MANAGED_HEADERS:
                headers[name] = value
        body = b""
        self.invalid: Failure | None = None
        if method in BODY_METHODS and request.body is not None:
            try:
                # Serialized once: these exact bytes are sent and signed on every hop.
                body = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False).encode()
            except (TypeError, ValueError) as exc:
                self.invalid = Failure(ErrorKind.INVALID_URL, f"request body for {host} is not JSON: {exc}")
            headers.setdefault("Content-Type", "application/json")
        if request.idempotency_key:
            headers["Idempotency-Key"] = request.idempotency_key
        self.hops = Hops(
            session=caller.session,
            clock=caller.clock,
            max_redirects=caller.max_redirects,
            keys=request.signing_keys or (caller.signing_key,),
            scope=scope,
            timeout_ms=request.timeout_ms,
            url=request.url,
            method=method,
            headers=headers,
            body=body,
        )

    def run(self, started: float) -> HttpOutcome:
        if self.invalid is not None:
            raise self.invalid
        method = self.hops.method
        if method not in CALL_METHODS:
            raise Failure(
                ErrorKind.INVALID_URL,
                f"unsupported method {method!r} for {self.hops.host} (one of {', '.join(sorted(CALL_METHODS))})",
            )
        cap = self.request.max_response_size_kb * 1024
        with self.reserve(cap) as reservation:
            response = self.hops.follow()
            try:
                limit = body_limit(response, self.hops.method, cap)
                reservation.shrink(limit)  # the rest goes back before the body is read
                body = read(response, limit, self.hops)
            finally:
                response.close()
            # Given back with the reservation: only the decoded body leaves the call.
            with body, body.contents(cap) as data:
                truncated, size = body.size > cap, len(data)
                content_type = response.headers.get("content-type")
                body_json, body_text = decode(data, content_type, truncated)
        ok = 200 <= response.status_code < 300
        return HttpOutcome(
            ok=ok,
            status_code=response.status_code,
            duration_ms=_ms_since(started),
            final_url=self.hops.url,
            response_headers=kept_headers(response.headers),
            body_json=body_json,
            body_text=body_text,
            body_size_bytes=size,
            truncated=truncated,
            content_type=content_type,
            error_kind=None if ok else ErrorKind.HTTP_STATUS,
            error_message=None if ok else f"{status_line(response)} from {self.hops.host}",
        )

    def reserve(self, cap: int) -> Reservation:
        """Room for a body of `cap` bytes (and the one that shows more) before anything is sent."""
        budget, host, kib = self.budget, self.hops.host, f"{cap // 1024:,} KiB"
        if cap + 1 > budget.limit:
            raise Failure(
                ErrorKind.INVALID_URL,
                f"the {kib} response cap for {host} is larger than this worker's whole response budget "
                f"({_size(budget.limit)}, {BUDGET_SETTING}); not called",
            )
        reservation = budget.reserve(cap + 1, self.hops.scope.deadline)
        if reservation is None:
            message = (
                f"timed out after {self.request.timeout_ms} ms waiting for room for a {kib} response in this "
                f"worker's response budget ({_size(budget.limit)}, {BUDGET_SETTING}); {host} was not called"
            )
            log.warning("%s", message)  # the budget is too small for this worker's load: the operator must know
            raise Failure(ErrorKind.TIMEOUT, message)
        return reservation

    def failed(self, started: float, failure: Failure) -> HttpOutcome:
        return HttpOutcome(
            ok=False,
            status_code=None,
            duration_ms=_ms_since(started),
            final_url=self.hops.url,
            error_kind=failure.kind,
            error_message=failure.message,
        )


def _size(size: int) -> str:
    return f"{size / MIB:g} MiB" if size >= MIB else f"{size:,} bytes"


def _ms_since(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))

"""Redirects followed hop by hop: each hop guarded, signed and in the deadline; credentials stay with their origin."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urljoin

import requests
from requests.structures import CaseInsensitiveDict

from cronicorn.core.model import ErrorKind
from cronicorn.http.deadline import Scope
from cronicorn.http.failures import Failure, classify, timed_out
from cronicorn.http.signing import signature_headers
from cronicorn.http.urls import host_of, parse, same_origin

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_CONNECT_S = 10.0
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class Hops:
    """One call's way through its redirects: the URL, method, body and headers of the next hop."""

    def __init__(
        self,
        *,
        session: requests.Session,
        clock: Callable[[], datetime],
        keys: Sequence[bytes],
        max_redirects: int,
        scope: Scope,
        timeout_ms: int,
        url: str,
        method: str,
        headers: CaseInsensitiveDict[str],
        body: bytes,
    ) -> None:
        self.session = session
        self.clock = clock
        self.keys = keys
        self.max_redirects = max_redirects
        self.scope = scope
        self.timeout_ms = timeout_ms
        self.url = url
        self.host = host_of(url)
        self.method = method
        self.headers = headers
        self.body = body
        self.connect_ms = 0

    def follow(self) -> requests.Response:
        """Send, then follow redirects by hand so the guard, the signature and the deadline cover every hop."""
        max_redirects = self.max_redirects
        for hop in range(max_redirects + 1):
            response = self.send()
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                return response
            response.close()
            target = self.redirect_target(location)
            if hop == max_redirects:
                raise Failure(
                    ErrorKind.TOO_MANY_REDIRECTS,
                    f"too many redirects: {self.host} redirected again after {max_redirects} (to {target})",
                )
            if response.status_code in (301, 302, 303) and self.method != "HEAD":
                self.method, self.body = "GET", b""
                self.headers.pop("Content-Type", None)
            if not same_origin(self.url, target):
                # Credentials meant for one host (or for TLS) are never forwarded elsewhere.
                for name in CREDENTIAL_HEADERS:
                    self.headers.pop(name, None)
            self.url, self.host = target, host_of(target)
        raise AssertionError("unreachable")  # the loop returns or raises on its last hop

    def redirect_target(self, location: str) -> str:
        try:
            # Headers arrive as latin-1; servers usually meant UTF-8 (as requests assumes too).
            location = location.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
        try:
            # Not requoted here: quoting first changes how the URL parses (a backslash in the authority
            # would turn into userinfo). requests quotes it after the one parse, as for an endpoint's URL.
            return urljoin(self.url, location)
        except ValueError as exc:
            raise Failure(
                ErrorKind.INVALID_URL, f"{self.host} redirected to an invalid URL {location!r}: {exc}"
            ) from None

    def send(self) -> requests.Response:
        """One hop: a signed request, a classified failure. The guard runs inside the connection (transport.py)."""
        try:
            parse(self.url)
        except ValueError as exc:
            raise Failure(ErrorKind.INVALID_URL, f"invalid URL {self.url!r}: {exc}") from None
        remaining = self.scope.deadline - time.monotonic()
        if remaining <= 0:
            raise self.timeout()
        headers = dict(self.headers)
        headers.update(signature_headers(self.keys, self.method, self.url, self.body, self.clock()))
        # Read timeout = what is left of the budget; the watchdog covers the rest (drips, redirects).
        timeout = (min(remaining, MAX_CONNECT_S), remaining)
        self.connect_ms = int(timeout[0] * 1000)
        try:
            return self.session.request(
                self.method,
                self.url,
                headers=headers,
                data=self.body or None,
                stream=True,
                allow_redirects=False,
                timeout=timeout,
            )
        except Exception as exc:
            raise self.classify(exc, connecting=True) from None

    def timeout(self) -> Failure:
        return timed_out(self.timeout_ms, self.host)

    def classify(self, exc: BaseException, *, connecting: bool) -> Failure:
        """What went wrong on the current hop, naming its host."""
        return classify(
            exc,
            scope=self.scope,
            url=self.url,
            host=self.host,
            timeout_ms=self.timeout_ms,
            connect_ms=self.connect_ms,
            connecting=connecting,
        )

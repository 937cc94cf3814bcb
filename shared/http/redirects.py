"""Redirects followed hop by hop: each hop guarded, signed and in the deadline; credentials stay with their origin."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

from cronicorn.core.model import ErrorKind
from cronicorn.http.deadline import Scope
from cronicorn.http.failures import Failure, classify, naming, timed_out
from cronicorn.http.signing import signature_headers
from cronicorn.http.ssrf import AddressGuard, BlockedAddress, port_of

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_CONNECT_S = 10.0
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class Hops:
    """One call's way through its redirects: the URL, method, body and headers of the next hop."""

    def __init__(
        self,
        *,
        session: requests.Session,
        guard: AddressGuard,
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
        self.guard = guard
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
            old, new = urlsplit(self.url), urlsplit(target)
            if _origin(old) != _origin(new) or (old.scheme == "https" and new.scheme != "https"):
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
            return requote_uri(urljoin(self.url, location))
        except ValueError as exc:
            raise Failure(
                ErrorKind.INVALID_URL, f"{self.host} redirected to an invalid URL {location!r}: {exc}"
            ) from None

    def send(self) -> requests.Response:
        """One hop: early guard check, signed request, classified failure."""
        parts = self.parse(self.url)
        host = self.host
        remaining = self.scope.deadline - time.monotonic()
        if remaining <= 0:
            raise self.timeout()
        try:
            # Early and with a clear message; the connection itself is checked again at connect time.
            self.guard.check_host(host, port_of(parts))
        except BlockedAddress as exc:
            raise Failure(ErrorKind.BLOCKED, naming(str(exc), host)) from None
        except socket.gaierror as exc:
            raise Failure(
                ErrorKind.DNS, str(exc) if host in str(exc) else f"could not resolve host {host}: {exc}"
            ) from None
        except UnicodeError as exc:
            raise Failure(ErrorKind.INVALID_URL, f"invalid host name {host!r}: {exc}") from None
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

    def parse(self, url: str) -> SplitResult:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: only http and https are allowed")
        if not parts.hostname:
            raise Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: no host")
        return parts

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


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _origin(parts: SplitResult) -> tuple[str | None, int]:
    return parts.hostname, port_of(parts)

"""The HTTP executor: one scheduled call, guarded, signed, bounded in time and size, classified."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError
from urllib3.util.connection import create_connection

from shared.model import BODY_METHODS, ErrorKind
from shared.signing import signature_headers
from shared.ssrf import AddressGuard, BlockedAddress

KEPT_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "retry-after", "location", "etag",
     "last-modified", "cache-control", "date", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}
)
TEXT_TYPES = ("text/", "application/xml", "application/javascript", "application/x-www-form-urlencoded")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "cronicorn/0.1"


@dataclass(frozen=True)
class HttpRequest:
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    timeout_ms: int = 30_000
    max_response_size_kb: int = 100
    idempotency_key: str | None = None
    signing_keys: tuple[bytes, ...] = ()  # the tenant's live keys; empty: the caller's own key


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    status_code: int | None
    duration_ms: int
    final_url: str
    response_headers: dict[str, str] = field(default_factory=dict)
    body_json: Any = None
    body_text: str | None = None
    body_size_bytes: int | None = None
    truncated: bool = False
    content_type: str | None = None
    error_kind: ErrorKind | None = None
    error_message: str | None = None


class _Failure(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _guarded_adapter(guard: AddressGuard) -> HTTPAdapter:
    """An adapter whose connections resolve, check and connect to the checked address only.

    Resolving once and connecting to exactly the address that passed the guard means no
    second DNS answer (rebinding) can send the connection somewhere else.
    """

    def new_conn(self: HTTPConnection) -> socket.socket:
        try:
            addresses = guard.resolve(self._dns_host, self.port or 80)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last: OSError | None = None
        for address in addresses:
            try:
                return create_connection((address, self.port), self.timeout, self.source_address, self.socket_options)
            except OSError as exc:
                last = exc
        assert last is not None
        raise last

    http_conn = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    https_conn = type("GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
    http_pool = type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    return GuardedAdapter(pool_connections=32, pool_maxsize=64, max_retries=0)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HttpCaller:
    """Makes scheduled calls. One per worker process; safe to share across threads and greenlets."""

    def __init__(
        self,
        *,
        guard: AddressGuard,
        signing_key: bytes,
        max_redirects: int = 5,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.signing_key = signing_key
        self.max_redirects = max_redirects
        self.clock = clock
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies from the environment, and much faster
        adapter = _guarded_adapter(guard)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def call(self, request: HttpRequest) -> HttpOutcome:
        """Make the call; target problems come back as a failed outcome, never as an exception."""
        started = time.monotonic()
        deadline = started + request.timeout_ms / 1000
        url = request.url
        try:
            response, url = self._follow(request, deadline)
            try:
                return self._outcome(request, response, url, started, deadline)
            finally:
                response.close()
        except _Failure as failure:
            return self._failed(url, started, failure.kind, failure.message)

    def _follow(self, request: HttpRequest, deadline: float) -> tuple[requests.Response, str]:
        method = request.method.upper()
        body = b""
        if method in BODY_METHODS and request.body is not None:
            body = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"User-Agent": USER_AGENT, **dict(request.headers)}
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        if request.idempotency_key:
            headers["Idempotency-Key"] = request.idempotency_key
        url = request.url
        for hop in range(self.max_redirects + 1):
            response = self._send(method, url, headers, body, deadline, request.signing_keys or (self.signing_key,))
            if response.status_code not in REDIRECTS or "location" not in response.headers:
                return response, url
            response.close()
            if hop == self.max_redirects:
                break
            target = urljoin(url, response.headers["location"])
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, body = "GET", b""
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            if urlsplit(target).netloc != urlsplit(url).netloc:
                # Credentials meant for one host are never forwarded to another.
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            url = target
        raise _Failure(ErrorKind.TOO_MANY_REDIRECTS, f"more than {self.max_redirects} redirects (last: {url})")

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes, deadline: float,
              keys: tuple[bytes, ...]) -> requests.Response:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: only http and https URLs with a host")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Failure(ErrorKind.TIMEOUT, f"timed out before calling {parts.hostname}")
        signed = {**headers, **signature_headers(keys, body, self.clock())}
        host = parts.hostname
        try:
            return self.session.request(
                method, url, headers=signed, data=body or None, stream=True,
                allow_redirects=False, timeout=(min(remaining, 10.0), remaining),
            )
        except BlockedAddress as exc:
            raise _Failure(ErrorKind.BLOCKED, f"{host}: {exc}") from None
        except requests.exceptions.SSLError as exc:
            raise _Failure(ErrorKind.TLS, f"TLS error with {host}: {_root(exc)}") from None
        except requests.exceptions.Timeout:
            raise _Failure(ErrorKind.TIMEOUT, f"{host} did not answer within {self._budget_ms(deadline, remaining)} ms") from None
        except requests.exceptions.ConnectionError as exc:
            if _caused_by(exc, (NameResolutionError, socket.gaierror)):
                raise _Failure(ErrorKind.DNS, f"could not resolve host {host}") from None
            raise _Failure(ErrorKind.CONNECTION, f"could not connect to {host}:{parts.port or ''}: {_root(exc)}".replace(":: ", ": ")) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, UnicodeError) as exc:
            raise _Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: {exc}") from None

    @staticmethod
    def _budget_ms(deadline: float, remaining: float) -> int:
        return int(round(remaining * 1000))

    def _outcome(self, request: HttpRequest, response: requests.Response, url: str, started: float, deadline: float) -> HttpOutcome:
        cap = request.max_response_size_kb * 1024
        data, truncated = self._read_capped(response, cap, deadline, url)
        content_type = response.headers.get("content-type")
        body_json, body_text = _decode(data, content_type, response.encoding, truncated)
        ok = 200 <= response.status_code < 300
        return HttpOutcome(
            ok=ok,
            status_code=response.status_code,
            duration_ms=_ms_since(started),
            final_url=url,
            response_headers={k.lower(): v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
            body_json=body_json,
            body_text=body_text,
            body_size_bytes=len(data),
            truncated=truncated,
            content_type=content_type,
            error_kind=None if ok else ErrorKind.HTTP_STATUS,
            error_message=None if ok else f"HTTP {response.status_code} {response.reason or ''}".strip(),
        )

    @staticmethod
    def _read_capped(response: requests.Response, cap: int, deadline: float, url: str) -> tuple[bytes, bool]:
        """Read at most `cap` bytes before the deadline; a slow drip cannot hold the worker."""
        chunks: list[bytes] = []
        size = 0
        raw = response.raw
        try:
            while size <= cap:
                if time.monotonic() > deadline:
                    raise _Failure(ErrorKind.TIMEOUT, f"{urlsplit(url).hostname} was still sending its body at the timeout")
                # read1 returns what has arrived instead of waiting for a full chunk.
                chunk = raw.read1(min(65536, cap + 1 - size), decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except _Failure:
            raise
        except (requests.exceptions.RequestException, OSError) as exc:
            if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in str(exc).lower():
                raise _Failure(ErrorKind.TIMEOUT, f"{urlsplit(url).hostname} stopped sending its body") from None
            raise _Failure(ErrorKind.CONNECTION, f"connection to {urlsplit(url).hostname} broke while reading: {exc}") from None
        except Exception as exc:  # urllib3 wraps socket timeouts in its own exception types
            if "timed out" in str(exc).lower():
                raise _Failure(ErrorKind.TIMEOUT, f"{urlsplit(url).hostname} stopped sending its body") from None
            raise _Failure(ErrorKind.CONNECTION, f"connection to {urlsplit(url).hostname} broke while reading: {exc}") from None
        data = b"".join(chunks)
        return (data[:cap], True) if len(data) > cap else (data, False)

    @staticmethod
    def _failed(url: str, started: float, kind: ErrorKind, message: str) -> HttpOutcome:
        return HttpOutcome(ok=False, status_code=None, duration_ms=_ms_since(started), final_url=url, error_kind=kind, error_message=message)


def _decode(data: bytes, content_type: str | None, encoding: str | None, truncated: bool) -> tuple[Any, str | None]:
    """JSON as JSON, text as text, binary as nothing (its size and type are still recorded)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    is_json = ctype == "application/json" or ctype.endswith("+json")
    if is_json and not truncated:
        try:
            return json.loads(data), None
        except ValueError:
            pass  # invalid JSON is still text worth keeping
    if is_json or ctype.startswith(TEXT_TYPES) or ctype.endswith("+xml"):
        return None, data.decode(encoding or "utf-8", errors="replace")
    if not ctype:
        try:
            return None, data.decode("utf-8")
        except UnicodeDecodeError:
            return None, None
    return None, None


def _caused_by(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, types):
            return True
        stack.extend([current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]])
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return False


def _root(exc: BaseException) -> str:
    """The innermost, most specific message of a wrapped exception."""
    current: BaseException = exc
    for _ in range(10):
        reason = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(reason, BaseException):
            break
        current = reason
    text = str(current)
    return text.split("] ", 1)[-1] if text.startswith("[") else text


def _ms_since(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))

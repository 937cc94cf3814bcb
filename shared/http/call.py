"""The HTTP executor: one scheduled call, guarded, signed, bounded in time and size, classified."""
from __future__ import annotations

import codecs
import heapq
import itertools
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from http import HTTPStatus
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import DecodeError, NameResolutionError, NewConnectionError, ReadTimeoutError

from cronicorn.core.calls import HttpOutcome, HttpRequest
from cronicorn.core.model import BODY_METHODS, HTTP_METHODS, ErrorKind
from cronicorn.http.signing import signature_headers
from cronicorn.http.ssrf import AddressGuard, BlockedAddress

log = logging.getLogger(__name__)

# Response headers worth keeping on a run: the rest is noise for users and for the planner.
KEPT_HEADERS = frozenset({
    "content-type", "content-length", "content-encoding", "retry-after", "location", "etag", "last-modified",
    "cache-control", "expires", "date", "age", "server", "x-request-id", "x-correlation-id",
    "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-limit", "ratelimit-remaining",
    "ratelimit-reset",
})
TEXT_TYPES = frozenset({
    "application/xml", "application/javascript", "application/ecmascript", "application/x-www-form-urlencoded",
    "application/yaml", "application/x-yaml", "application/x-ndjson", "application/ndjson", "application/graphql",
    "application/csv", "application/sql",
})
BINARY_PREFIXES = ("image/", "audio/", "video/", "font/")
BINARY_TYPES = frozenset({
    "application/octet-stream", "application/pdf", "application/zip", "application/gzip", "application/x-gzip",
    "application/x-tar", "application/x-protobuf", "application/protobuf", "application/wasm", "application/msgpack",
    "application/x-msgpack", "application/cbor",
})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CALL_METHODS = frozenset({*HTTP_METHODS, "HEAD"})
USER_AGENT = "cronicorn/0.1"
MAX_CONNECT_S = 10.0
# Set by HttpCaller, never by the endpoint's own headers: the exact bytes decide these.
MANAGED_HEADERS = frozenset({"content-length", "transfer-encoding", "x-cronicorn-signature", "x-cronicorn-timestamp"})
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
READ_CHUNK = 65_536


class _Failure(Exception):
    """A classified failure; becomes the outcome."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# --- the whole-call deadline ------------------------------------------------------------------
# Socket timeouts bound each recv, not a call: a server dripping a byte a second (in its headers or
# its body) would never trip them. So every call has a scope with its deadline, the connections it
# is using register with it, and one watchdog thread shuts those sockets down when time is up.


class _Scope:
    """One call's deadline, guard and the connections it currently owns."""

    def __init__(self, deadline: float, guard: AddressGuard) -> None:
        self.deadline = deadline
        self.guard = guard
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._conns: set[_GuardedHTTPConnection] = set()

    def admit(self, conn: _GuardedHTTPConnection, peer: str) -> None:
        """Check the connected peer (what DNS answered no longer matters) and take ownership of `conn`."""
        self.guard.check_ip(peer)
        with self._lock:
            if self.expired or self._done:
                raise socket.timeout("the call's deadline passed")
            conn._owner = self
            self._conns.add(conn)

    def release(self, conn: _GuardedHTTPConnection) -> None:
        """`conn` went back to the pool: another call may use it, so this scope must never cut it."""
        with self._lock:
            if conn._owner is self:
                conn._owner = None
            self._conns.discard(conn)

    def expire(self) -> None:
        """Time is up: cut every connection still owned, so blocked reads return at once."""
        with self._lock:
            if self._done or self.expired:
                return
            self.expired = True
            for conn in self._conns:
                if conn._owner is self:
                    conn._cut()

    def finish(self) -> None:
        """The call is over; a late watchdog tick does nothing."""
        with self._lock:
            self._done = True
            for conn in self._conns:
                if conn._owner is self:
                    conn._owner = None
            self._conns.clear()


_SCOPE: ContextVar[_Scope | None] = ContextVar("cronicorn_http_scope", default=None)
_WATCH_LOCK = threading.Lock()  # close() and the watchdog's shutdown() of one duplicate never overlap


def _scope() -> _Scope:
    scope = _SCOPE.get()
    if scope is None:
        # Fail closed: only HttpCaller.call knows which guard applies.
        raise BlockedAddress("refused by SSRF guard: connections are made only inside HttpCaller.call")
    return scope


class _Watchdog:
    """One thread (a greenlet under gevent) per caller that expires scopes at their deadlines."""

    IDLE_EXIT_S = 60.0  # an idle caller holds no thread

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Created when the caller is, i.e. after gevent's monkey-patching in a gevent worker.
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Scope]] = []
        self._seq = itertools.count()
        self._running = False

    def watch(self, scope: _Scope) -> None:
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


# --- guarded connections ----------------------------------------------------------------------


class _GuardedHTTPConnection(HTTPConnection):
    """Checks the address it actually connected to, so DNS rebinding cannot slip past the guard."""

    _owner: _Scope | None = None
    _watch: socket.socket | None = None  # a duplicate of the socket: stays valid when TLS wraps the original

    def _new_conn(self) -> socket.socket:
        scope = _scope()
        sock = super()._new_conn()
        try:
            self._set_watch(sock.dup())
            scope.admit(self, _peer(sock))
        except BaseException:
            sock.close()
            self._set_watch(None)
            raise
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a kept-alive connection: check it again and own it for this call
            try:
                peer = _peer(self.sock)
            except OSError:
                self.close()  # it went stale in the pool; http.client reconnects (and _new_conn checks)
            else:
                _scope().admit(self, peer)
        super().request(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._set_watch(None)

    def _set_watch(self, sock: socket.socket | None) -> None:
        with _WATCH_LOCK:
            old, self._watch = self._watch, sock
            if old is not None:
                old.close()

    def _cut(self) -> None:
        with _WATCH_LOCK:
            if self._watch is not None:
                try:
                    self._watch.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the other side


def _peer(sock: socket.socket) -> str:
    return str(sock.getpeername()[0])


class _GuardedHTTPSConnection(HTTPSConnection, _GuardedHTTPConnection):
    """The TLS flavour: the same checks run before the handshake."""


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _GuardedHTTPConnection) and conn._owner is not None:
            conn._owner.release(conn)
        super()._put_conn(conn)


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _GuardedHTTPConnection) and conn._owner is not None:
            conn._owner.release(conn)
        super()._put_conn(conn)


class _GuardedAdapter(HTTPAdapter):
    """Pools of guarded connections; no proxies (a proxy would be the peer the guard sees)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}

    def proxy_manager_for(self, proxy: Any, **proxy_kwargs: Any) -> Any:
        raise BlockedAddress("refused by SSRF guard: proxies are not supported for scheduled calls")


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
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.guard = guard
        self.signing_key = signing_key
        self.max_redirects = max_redirects
        self.clock = clock
        # Everything is configured here, before any thread uses the session: requests is then safe to share.
        # A session passed in is configured the same way (and its http/https adapters replaced): the guard
        # must hold whoever built the session.
        self.session = session if session is not None else requests.Session()
        self.session.trust_env = False  # no proxies or .netrc from the environment, and much faster
        self.session.proxies = {}
        self.session.headers["User-Agent"] = USER_AGENT
        # One session serves every tenant: a cookie set by one target must never reach another call.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _GuardedAdapter(pool_connections=32, pool_maxsize=64, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._watchdog = _Watchdog()

    def call(self, request: HttpRequest) -> HttpOutcome:
        """Make the call; target problems come back as a failed outcome, never as an exception."""
        started = time.monotonic()
        scope = _Scope(started + request.timeout_ms / 1000, self.guard)
        token = _SCOPE.set(scope)
        call = _Call(self, request, scope)
        try:
            self._watchdog.watch(scope)
            return call.run(started)
        except _Failure as failure:
            return call.failed(started, failure)
        except Exception as exc:  # a bug here must not look like the target's fault, but must not crash the worker
            log.exception("unexpected error calling %s", call.url)
            return call.failed(started, _Failure(ErrorKind.CONNECTION, f"unexpected error calling {call.host}: {exc!r}"))
        finally:
            scope.finish()
            _SCOPE.reset(token)


class _Call:
    """The state of one call as it follows redirects."""

    def __init__(self, caller: HttpCaller, request: HttpRequest, scope: _Scope) -> None:
        self.caller = caller
        self.request = request
        self.scope = scope
        self.url = request.url
        self.host = _host_of(request.url)
        self.method = request.method.upper()
        self.keys = request.signing_keys or (caller.signing_key,)
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in request.headers.items():
            if name.lower() not in MANAGED_HEADERS:
                headers[name] = value
        self.body = b""
        self.invalid: _Failure | None = None
        if self.method in BODY_METHODS and request.body is not None:
            try:
                # Serialized once: these exact bytes are sent and signed on every hop.
                self.body = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False).encode()
            except (TypeError, ValueError) as exc:
                self.invalid = _Failure(ErrorKind.INVALID_URL, f"request body for {self.host} is not JSON: {exc}")
            headers.setdefault("Content-Type", "application/json")
        if request.idempotency_key:
            headers["Idempotency-Key"] = request.idempotency_key
        self.headers = headers
        self.connect_ms = 0

    def run(self, started: float) -> HttpOutcome:
        if self.invalid is not None:
            raise self.invalid
        if self.method not in CALL_METHODS:
            raise _Failure(ErrorKind.INVALID_URL, f"unsupported method {self.method!r} for {self.host} "
                                                  f"(one of {', '.join(sorted(CALL_METHODS))})")
        response = self.follow()
        try:
            data, truncated = self.read(response)
        finally:
            response.close()
        content_type = response.headers.get("content-type")
        body_json, body_text = _decode(data, content_type, truncated)
        ok = 200 <= response.status_code < 300
        return HttpOutcome(
            ok=ok,
            status_code=response.status_code,
            duration_ms=_ms_since(started),
            final_url=self.url,
            response_headers={k.lower(): v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
            body_json=body_json,
            body_text=body_text,
            body_size_bytes=len(data),
            truncated=truncated,
            content_type=content_type,
            error_kind=None if ok else ErrorKind.HTTP_STATUS,
            error_message=None if ok else f"{_status_line(response)} from {self.host}",
        )

    def failed(self, started: float, failure: _Failure) -> HttpOutcome:
        return HttpOutcome(ok=False, status_code=None, duration_ms=_ms_since(started), final_url=self.url,
                           error_kind=failure.kind, error_message=failure.message)

    def follow(self) -> requests.Response:
        """Send, then follow redirects by hand so the guard, the signature and the deadline cover every hop."""
        max_redirects = self.caller.max_redirects
        for hop in range(max_redirects + 1):
            response = self.send()
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                return response
            response.close()
            target = self.redirect_target(location)
            if hop == max_redirects:
                raise _Failure(ErrorKind.TOO_MANY_REDIRECTS,
                               f"too many redirects: {self.host} redirected again after {max_redirects} (to {target})")
            if response.status_code in (301, 302, 303) and self.method != "HEAD":
                self.method, self.body = "GET", b""
                self.headers.pop("Content-Type", None)
            old, new = urlsplit(self.url), urlsplit(target)
            if _origin(old) != _origin(new) or (old.scheme == "https" and new.scheme != "https"):
                # Credentials meant for one host (or for TLS) are never forwarded elsewhere.
                for name in CREDENTIAL_HEADERS:
                    self.headers.pop(name, None)
            self.url, self.host = target, _host_of(target)
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
            raise _Failure(ErrorKind.INVALID_URL, f"{self.host} redirected to an invalid URL {location!r}: {exc}") from None

    def send(self) -> requests.Response:
        """One hop: early guard check, signed request, classified failure."""
        parts = self.parse(self.url)
        host = self.host
        remaining = self.scope.deadline - time.monotonic()
        if remaining <= 0:
            raise self.timeout()
        try:
            # Early and with a clear message; the connection itself is checked again at connect time.
            self.caller.guard.check_host(host, parts.port or (443 if parts.scheme == "https" else 80))
        except BlockedAddress as exc:
            raise _Failure(ErrorKind.BLOCKED, _naming(str(exc), host)) from None
        except socket.gaierror as exc:
            raise _Failure(ErrorKind.DNS, str(exc) if host in str(exc) else f"could not resolve host {host}: {exc}") from None
        except UnicodeError as exc:
            raise _Failure(ErrorKind.INVALID_URL, f"invalid host name {host!r}: {exc}") from None
        headers = dict(self.headers)
        headers.update(signature_headers(self.keys, self.body, self.caller.clock()))
        # Read timeout = what is left of the budget; the watchdog covers the rest (drips, redirects).
        timeout = (min(remaining, MAX_CONNECT_S), remaining)
        self.connect_ms = int(timeout[0] * 1000)
        try:
            return self.caller.session.request(
                self.method, self.url, headers=headers, data=self.body or None, stream=True,
                allow_redirects=False, timeout=timeout,
            )
        except Exception as exc:
            raise self.classify(exc, connecting=True) from None

    def parse(self, url: str) -> SplitResult:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise _Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise _Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: only http and https are allowed")
        if not parts.hostname:
            raise _Failure(ErrorKind.INVALID_URL, f"invalid URL {url!r}: no host")
        return parts

    def read(self, response: requests.Response) -> tuple[bytes, bool]:
        """At most the size cap (+1 byte to notice more), before the deadline."""
        cap = self.request.max_response_size_kb * 1024
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= cap:
                if time.monotonic() >= self.scope.deadline:
                    raise self.timeout()
                # read1 returns what has arrived; iter_content would wait to fill whole chunks.
                chunk = response.raw.read1(min(READ_CHUNK, cap + 1 - size), decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except _Failure:
            raise
        except Exception as exc:
            raise self.classify(exc, connecting=False) from None
        if self.scope.expired:
            raise self.timeout()  # the watchdog cut the connection: what arrived may be partial
        data = b"".join(chunks)
        return (data[:cap], True) if len(data) > cap else (data, False)

    def timeout(self) -> _Failure:
        return _Failure(ErrorKind.TIMEOUT, f"timed out after {self.request.timeout_ms} ms waiting for {self.host}")

    def classify(self, exc: BaseException, *, connecting: bool) -> _Failure:
        """Map what requests/urllib3/socket raised to an error kind with a one-line message naming the host."""
        host = self.host
        blocked = _find(exc, BlockedAddress)
        if blocked is not None:
            return _Failure(ErrorKind.BLOCKED, _naming(f"{blocked}", host, "connecting to"))
        if self.scope.expired or time.monotonic() >= self.scope.deadline:
            return self.timeout()  # whatever broke, it broke because the deadline cut it
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return _Failure(ErrorKind.TIMEOUT, f"timed out after {self.connect_ms} ms connecting to {host}")
        if isinstance(exc, (requests.exceptions.Timeout, ReadTimeoutError, socket.timeout)):
            return self.timeout()
        if isinstance(exc, requests.exceptions.SSLError) or _find(exc, ssl.SSLError) is not None:
            return _Failure(ErrorKind.TLS, f"TLS error with {host}: {_root(exc)}")
        if _find(exc, NameResolutionError) is not None or _find(exc, socket.gaierror) is not None:
            return _Failure(ErrorKind.DNS, f"could not resolve host {host}")
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                            requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader,
                            UnicodeError, ValueError)):
            return _Failure(ErrorKind.INVALID_URL, f"invalid request to {host}: {_one_line(str(exc))}")
        where = _netloc(self.url)
        if isinstance(exc, requests.exceptions.ContentDecodingError) or _find(exc, DecodeError) is not None:
            return _Failure(ErrorKind.CONNECTION, f"could not decode the body from {where}: {_root(exc)}")
        if isinstance(exc, (requests.exceptions.RequestException, Urllib3Error, OSError)):
            if _find(exc, NewConnectionError) is not None:
                action = f"could not connect to {where}"
            elif connecting:
                action = f"connection to {where} failed"
            else:
                action = f"connection to {where} broke while reading the body"
            return _Failure(ErrorKind.CONNECTION, f"{action}: {_root(exc)}")
        raise exc  # not a target problem: call() logs it


def _naming(message: str, host: str, doing: str = "calling") -> str:
    """`message`, with the host added when it does not already say it."""
    return message if host in message else f"{message} ({doing} {host})"


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _netloc(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    except ValueError:
        return url


def _origin(parts: SplitResult) -> tuple[str | None, int]:
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _status_line(response: requests.Response) -> str:
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    return f"HTTP {response.status_code} {_one_line(reason)}".strip()


def _charset(content_type: str | None) -> str:
    """The declared charset if Python knows it, else UTF-8 (not requests' latin-1 guess for text/*)."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip("\"'")).name
            except LookupError:
                break
    return "utf-8"


def _decode(data: bytes, content_type: str | None, truncated: bool) -> tuple[Any, str | None]:
    """JSON as JSON, text as text, binary as nothing (its size and type are still recorded)."""
    if not data:
        return None, None
    mime = (content_type or "").split(";")[0].strip().lower()
    is_json = mime == "application/json" or mime.endswith("+json")
    if is_json and not truncated:
        try:
            return json.loads(data), None
        except ValueError:
            pass  # not valid JSON after all: still text worth keeping
    if is_json or mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith("+xml"):
        return None, data.decode(_charset(content_type), errors="replace")
    if mime in BINARY_TYPES or mime.startswith(BINARY_PREFIXES):
        return None, None
    # Unknown or missing type: keep it if it reads as UTF-8 text, so no text body is dropped silently.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError:
        return None, None
    return (None, text) if "\x00" not in text else (None, None)


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in the wrapping chain (cause, context, args, urllib3's reason)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack.extend(e for e in linked if isinstance(e, BaseException))
    return None


def _root(exc: BaseException) -> str:
    """The innermost, most specific message of a wrapped exception, on one line."""
    current: BaseException = exc
    for _ in range(10):
        inner = getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        current = inner
    text = current.strerror if isinstance(current, OSError) and current.strerror else str(current)
    for marker in ("Failed to establish a new connection: ", "[Errno ", "[SSL: "):
        if marker in text and "] " in text.split(marker, 1)[1]:
            text = text.split(marker, 1)[1].split("] ", 1)[1]
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text)  # CPython's source line helps nobody reading a run
    return _one_line(text.strip("()'\"") or type(current).__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ms_since(started: float) -> int:
    return int(round((time.monotonic() - started) * 1000))

"""A real local HTTP target for tests: records every request and counts per Idempotency-Key."""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

TEXT_BODY = "plain text, not JSON ✓"
BINARY_BODY = bytes(range(256)) * 8


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent callers must not overflow the listen backlog (5 by default)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away (timed out, hung up, spoke TLS): expected in these tests
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class Seen:
    """One request as the target received it."""

    method: str
    path: str  # with the query string
    headers: CaseInsensitiveDict[str]  # names as sent, looked up in any case
    body: bytes  # the exact bytes received
    at: float  # time.monotonic() on arrival


class TargetServer:
    """A ThreadingHTTPServer on `host`, port 0 (a free port); start() serves from a daemon thread.

    Routes:
      /ok                      200 JSON {"status": "healthy", "path": ...}
      /echo                    200 JSON {"method", "path", "headers", "body"} (body parsed as JSON, else text)
      /slow?ms=N               sleeps N ms, then 200 JSON
      /status/N                status N with a JSON error body; ?retry_after=V adds `Retry-After: V`,
                               ?reset=V `RateLimit-Reset: V` (and `RateLimit-Remaining: 0`)
      /redirect?to=URL&code=N&ms=N  redirect (default 302) to URL, after N ms (default 0)
      /huge?kb=N               200 JSON-typed body of about N KiB (default 500)
      /text                    200 text/plain (UTF-8)
      /untyped                 200 UTF-8 text without a Content-Type
      /binary                  200 application/octet-stream, 2048 bytes
      /drip?ms=N&bytes=N       200 text body sent one byte every N ms (default 200 ms, 1000 bytes)
      /slowheaders?ms=N        the header lines themselves dripped, one every N ms (default 200 ms)
      /cookie                  200 JSON with a Set-Cookie header
      /hangup                  closes the connection without answering
      /flaky?every=N           503 except on every Nth request to the same URL (default 2)
      /fixed/<name>            fixed[name] = (status, JSON), editable while serving
      /hostile?kind=K          a response no database column takes as it comes: nul-text, nul-json,
                               nul-header, gzip-zeros (a gzip body of NULs), surrogate-json
    """

    def __init__(self, host: str = "127.0.0.1", *, fixed: Mapping[str, tuple[int, Any]] | None = None) -> None:
        self.host = host
        self.seen: list[Seen] = []  # append-only; read it through the methods below while requests may arrive
        self.fixed: dict[str, tuple[int, Any]] = dict(fixed or {})
        self._lock = threading.Lock()
        self._keys: Counter[str] = Counter()
        self._per_url: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one segment: unbuffered writes on a kept-alive connection meet
            # delayed ACKs and cost ~40 ms a request.
            disable_nagle_algorithm = True
            wbufsize = -1

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key")
                endpoint = (key or "").split(":", 1)[0]
                with target._lock:
                    target.seen.append(
                        Seen(self.command, self.path, CaseInsensitiveDict(self.headers.items()), body, time.monotonic())
                    )
                    if key is not None:
                        target._keys[key] += 1
                    target._per_url[self.path] += 1
                    target._in_flight[endpoint] += 1
                    target._max_in_flight[endpoint] = max(target._max_in_flight[endpoint], target._in_flight[endpoint])
                try:
                    target.route(self, body)
                except OSError:
                    pass  # the client went away (e.g. it timed out): nothing to answer
                finally:
                    with target._lock:
                        target._in_flight[endpoint] -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *_: Any) -> None:
                pass

        self.server: ThreadingHTTPServer = _Server((host, 0), Handler)
        self.port: int = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> TargetServer:
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name=f"target-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> TargetServer:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    # --- what the target saw ---------------------------------------------------------------------
    def requests_to(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path_prefix)]

    def idempotency_keys(self) -> list[str]:
        """The Idempotency-Key of every request in arrival order ("" when absent)."""
        with self._lock:
            return [s.headers.get("Idempotency-Key", "") for s in self.seen]

    def key_counts(self) -> Counter[str]:
        """How many requests arrived with each Idempotency-Key."""
        with self._lock:
            return Counter(self._keys)

    def count_for_key(self, key: str) -> int:
        with self._lock:
            return self._keys[key]

    def max_in_flight(self, key_prefix: str) -> int:
        """The most calls for one endpoint (Idempotency-Key prefix) the target served at once."""
        with self._lock:
            return self._max_in_flight[key_prefix]

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()
            self._keys.clear()
            self._per_url.clear()

    # --- routes ----------------------------------------------------------------------------------
    def route(self, h: BaseHTTPRequestHandler, body: bytes) -> None:  # noqa: C901 - a route table, one branch each
        parts = urlsplit(h.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/ok":
            self.reply(h, 200, {"status": "healthy", "path": h.path})
        elif path.startswith("/fixed/"):
            code, payload = self.fixed.get(path.removeprefix("/fixed/"), (404, {"error": "no such fixture"}))
            self.reply(h, code, payload)
        elif path == "/echo":
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = body.decode(errors="replace")
            self.reply(
                h, 200, {"method": h.command, "path": h.path, "headers": dict(h.headers.items()), "body": parsed}
            )
        elif path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000)
            self.reply(h, 200, {"slept_ms": int(q.get("ms", "1000"))})
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            extra = {"Retry-After": q["retry_after"]} if "retry_after" in q else {}
            if "reset" in q:
                extra.update({"RateLimit-Reset": q["reset"], "RateLimit-Remaining": "0"})
            self.reply(h, code, {"error": f"status {code}"}, extra)
        elif path == "/redirect":
            if "to" not in q:
                self.reply(h, 400, {"error": "redirect needs ?to=URL"})
                return
            time.sleep(int(q.get("ms", "0")) / 1000)
            h.send_response(int(q.get("code", "302")))
            h.send_header("Location", q["to"])
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif path == "/huge":
            self.raw(h, 200, "application/json", b'{"data":"' + b"x" * (int(q.get("kb", "500")) * 1024) + b'"}')
        elif path == "/text":
            self.raw(h, 200, "text/plain; charset=utf-8", TEXT_BODY.encode())
        elif path == "/untyped":
            self.raw(h, 200, None, TEXT_BODY.encode())
        elif path == "/binary":
            self.raw(h, 200, "application/octet-stream", BINARY_BODY)
        elif path == "/drip":
            size, pause = int(q.get("bytes", "1000")), int(q.get("ms", "200")) / 1000
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(size))
            h.end_headers()
            h.wfile.flush()
            for _ in range(size):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(pause)
        elif path == "/slowheaders":
            pause = int(q.get("ms", "200")) / 1000
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(1000):
                h.wfile.write(f"X-Drip-{i}: x\r\n".encode())
                h.wfile.flush()
                time.sleep(pause)
        elif path == "/cookie":
            data = json.dumps({"cookie": "set"}).encode()
            h.send_response(200)
            h.send_header("Set-Cookie", "session=secret-of-one-tenant; Path=/")
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif path == "/hangup":
            h.close_connection = True
        elif path == "/hostile":
            self.hostile(h, q.get("kind", "nul-text"))
        elif path == "/flaky":
            with self._lock:
                count = self._per_url[h.path]
            every = int(q.get("every", "2"))
            self.reply(h, 200 if count % every == 0 else 503, {"request": count, "every": every})
        else:
            self.reply(h, 404, {"error": "not found"})

    @staticmethod
    def hostile(h: BaseHTTPRequestHandler, kind: str) -> None:
        if kind == "nul-text":
            TargetServer.raw(h, 200, "text/plain; charset=utf-8", b"ok\x00tail")
        elif kind == "nul-json":
            TargetServer.raw(h, 200, "application/json", b'{"a": "x\\u0000y", "k\\u0000": [1, "\\u0000"]}')
        elif kind == "surrogate-json":
            TargetServer.raw(h, 200, "application/json", b'{"a": "\\ud800 lone"}')
        elif kind == "nul-header":
            data = b'{"ok": true}'
            h.send_response(200)
            # In headers a run keeps (Content-Type, Retry-After...), not only in ones it drops.
            h.send_header("Retry-After", "12\x00b")
            h.send_header("Content-Type", "application/json; x=\x00")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif kind == "gzip-zeros":
            data = gzip.compress(b"\x00" * 200_000)
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Encoding", "gzip")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        else:
            TargetServer.reply(h, 400, {"error": f"no hostile kind {kind!r}"})

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, code: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        TargetServer.raw(h, code, "application/json", json.dumps(payload).encode(), headers)

    @staticmethod
    def raw(
        h: BaseHTTPRequestHandler,
        code: int,
        content_type: str | None,
        data: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        bodiless = code < 200 or code in (204, 304)  # a body here would corrupt the kept-alive connection
        h.send_response(code)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        if content_type is not None and not bodiless:
            h.send_header("Content-Type", content_type)
        if not bodiless:
            h.send_header("Content-Length", str(len(data)))
        else:
            data = b""
        h.end_headers()
        h.wfile.write(data)

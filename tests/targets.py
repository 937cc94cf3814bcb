"""A real local HTTP target for tests: records every request and counts per Idempotency-Key."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class TargetServer:
    """Routes: /ok, /echo, /slow?ms=N, /status/N, /redirect?to=URL&code=N, /huge?kb=N,
    /text, /binary, /drip?ms=N, /flaky?every=N."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.fixed: dict[str, tuple[int, Any]] = {}  # /fixed/<name> answers fixed[name] = (status, JSON)
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key", "")
                endpoint = key.split(":", 1)[0]
                with target._lock:
                    target.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body, time.monotonic()))
                    target._in_flight[endpoint] += 1
                    target._max_in_flight[endpoint] = max(target._max_in_flight[endpoint], target._in_flight[endpoint])
                try:
                    target.route(self, body)
                finally:
                    with target._lock:
                        target._in_flight[endpoint] -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # --- what the target saw -------------------------------------------------------------
    def requests_to(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path_prefix)]

    def idempotency_keys(self) -> list[str]:
        with self._lock:
            return [s.headers.get("Idempotency-Key", "") for s in self.seen]

    def max_in_flight(self, key_prefix: str) -> int:
        """The most calls for one endpoint (Idempotency-Key prefix) the target served at once."""
        with self._lock:
            return self._max_in_flight[key_prefix]

    # --- routes --------------------------------------------------------------------------
    def route(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
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
            self.reply(h, 200, {"method": h.command, "headers": dict(h.headers.items()), "body": parsed})
        elif path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000)
            self.reply(h, 200, {"slept_ms": int(q.get("ms", "1000"))})
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.reply(h, code, {"error": f"status {code}"})
        elif path == "/redirect":
            h.send_response(int(q.get("code", "302")))
            h.send_header("Location", q["to"])
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif path == "/huge":
            self.raw(h, 200, "application/json", b'{"data":"' + b"x" * (int(q.get("kb", "500")) * 1024) + b'"}')
        elif path == "/text":
            self.raw(h, 200, "text/plain; charset=utf-8", "plain text, not JSON ✓".encode())
        elif path == "/binary":
            self.raw(h, 200, "application/octet-stream", bytes(range(256)) * 8)
        elif path == "/drip":
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", "1000")
            h.end_headers()
            try:
                for _ in range(1000):
                    h.wfile.write(b"x")
                    h.wfile.flush()
                    time.sleep(int(q.get("ms", "200")) / 1000)
            except OSError:
                pass
        else:
            self.reply(h, 404, {"error": "not found"})

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, code: int, payload: Any) -> None:
        TargetServer.raw(h, code, "application/json", json.dumps(payload).encode())

    @staticmethod
    def raw(h: BaseHTTPRequestHandler, code: int, content_type: str, data: bytes) -> None:
        h.send_response(code)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            h.wfile.write(data)
        except OSError:
            pass

"""Stand-ins for your own services, so the examples run on a laptop and in the tests.

`PipelineServices` is a small HTTP server (standard library only) playing the three services of a
data pipeline. None of them knows about the others or keeps a shared status: each answers for its
own stage, and Cronicorn carries the batch id from one to the next.

    POST /ingest    a new batch: {"batch_id": "batch-0001", "status": "done", "records": 120}
    POST /process   processes the batch named in the JSON body ({"batch_id": ...}):
                    {"batch_id": ..., "status": "processed", "rows": ...}; 500 for a batch in `fail`
    POST /report    reports on the batch named in the body: {"batch_id": ..., "report": "ok"}
    POST /extract-orders, /extract-customers   one source each of the ETL cascade; both answer the
                    current batch of the hour: {"batch_id": "...", "source": ..., "status": "done"}
    POST /load      loads the batch named in the body: {"batch_id": ..., "loaded": true}
    GET  /health    {"status": "ok", "error_count": 0}; while `degraded_since` is set, 503 with
                    {"status": "degraded", "error_count": 7, "degraded_since": ...} (one incident)
    POST /recover   restarts the service for the incident named in the body:
                    {"incident": ..., "restarted": true}; 500 while `recovery_fails`
    POST /verify    {"incident": ..., "healthy": ...}
    GET  /traffic   {"visitors_per_min": ..., "load_status": "high"|"normal", "window": ...}
    POST /orders/process, /inventory/sync, /analytics/update   the flash sale's three tiers of work

Every request is kept (`seen`), with its arrival time (UTC), path and JSON body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    at: datetime  # arrival, UTC
    path: str
    body: Any


class PipelineServices:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.seen: list[Request] = []
        self.fail: set[str] = set()  # batch ids the processing service fails on
        self.batches = 0
        self.source_batch: dict[str, str] = {}  # what each ETL source reports now (default: batch-0001)
        self.degraded_since: str | None = None  # the health check fails (503) while this is set
        self.recovery_fails = False
        self.visitors_per_min = 200  # the traffic monitor's reading: above 1000 is "high"
        self.window: str | None = None  # the traffic window reported (default: the current 10 minutes)
        self._services = {
            "/ingest": self._ingest,
            "/process": self._process,
            "/report": self._report,
            "/load": self._load,
            "/health": self._health,
            "/recover": self._recover,
            "/verify": self._verify,
            "/traffic": self._traffic,
            "/orders/process": self._orders,
            "/inventory/sync": self._inventory,
            "/analytics/update": self._analytics,
        }
        self._lock = threading.Lock()
        services = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                status, answer = services.answer(self.path.split("?", 1)[0], body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"

    def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        batch = body.get("batch_id") if isinstance(body, dict) else None
        with self._lock:
            self.seen.append(Request(datetime.now(UTC), path, body))
            if path.startswith("/extract-"):
                source = path.removeprefix("/extract-")
                return 200, {
                    "batch_id": self.source_batch.get(source, "batch-0001"),
                    "source": source,
                    "status": "done",
                }
            service = self._services.get(path)
            if service is None:
                return 404, {"error": f"no such service {path}"}
            if service in (self._process, self._report) and batch is None:
                return 400, {"error": "no batch_id in the body"}
            return service(body if isinstance(body, dict) else {})

    # --- the pipeline and the ETL cascade -------------------------------------------------------
    def _ingest(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.batches += 1
        return 200, {"batch_id": f"batch-{self.batches:04d}", "status": "done", "records": 100 + self.batches}

    def _process(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        batch = body["batch_id"]
        if batch in self.fail:
            return 500, {"batch_id": batch, "status": "error", "error": "processing failed"}
        return 200, {"batch_id": batch, "status": "processed", "rows": 2 * int(body.get("records") or 0)}

    def _report(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"batch_id": body["batch_id"], "report": "ok"}

    def _load(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        batch = body.get("batch_id")
        return 200, {"batch_id": batch, "loaded": batch is not None}

    # --- recovery: a health check, a restart, a verification ------------------------------------
    def _health(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.degraded_since is None:
            return 200, {"status": "ok", "error_count": 0}
        return 503, {"status": "degraded", "error_count": 7, "degraded_since": self.degraded_since}

    def _recover(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        incident = body.get("incident")
        if self.recovery_fails:
            return 500, {"incident": incident, "restarted": False, "error": "restart failed"}
        return 200, {"incident": incident, "restarted": True}

    def _verify(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"incident": body.get("incident"), "healthy": self.degraded_since is None}

    # --- the flash sale: a traffic monitor and three tiers of work ------------------------------
    def _traffic(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = datetime.now(UTC)
        window = self.window or now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0).isoformat()
        status = "high" if self.visitors_per_min > 1000 else "normal"
        return 200, {"visitors_per_min": self.visitors_per_min, "load_status": status, "window": window}

    def _orders(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"processed": 12, "visitors_per_min": body.get("visitors_per_min")}

    def _inventory(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"synced": True}

    def _analytics(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"updated": True, "window": body.get("window")}

    def requests(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.seen if r.path == path]

    def start(self) -> PipelineServices:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

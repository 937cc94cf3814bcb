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
            if path == "/ingest":
                self.batches += 1
                return 200, {"batch_id": f"batch-{self.batches:04d}", "status": "done", "records": 100 + self.batches}
            if path == "/process":
                if batch is None:
                    return 400, {"error": "no batch_id in the body"}
                if batch in self.fail:
                    return 500, {"batch_id": batch, "status": "error", "error": "processing failed"}
                return 200, {"batch_id": batch, "status": "processed", "rows": 2 * int(body.get("records") or 0)}
            if path == "/report":
                if batch is None:
                    return 400, {"error": "no batch_id in the body"}
                return 200, {"batch_id": batch, "report": "ok"}
            if path.startswith("/extract-"):
                source = path.removeprefix("/extract-")
                batch = self.source_batch.get(source, "batch-0001")
                return 200, {"batch_id": batch, "source": source, "status": "done"}
            if path == "/load":
                return 200, {"batch_id": batch, "loaded": batch is not None}
        return 404, {"error": f"no such service {path}"}

    def requests(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.seen if r.path == path]

    def start(self) -> PipelineServices:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

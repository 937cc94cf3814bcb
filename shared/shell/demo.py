"""The demo of `cronicorn up --demo`: a local target and a job that calls it."""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEMO_JOB = {"name": "demo", "description": "Built-in demo: a healthy probe, a slow report and a flaky sync."}


def demo_endpoints(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "health",
            "description": "Health probe. When status is degraded, poll faster.",
            "url": f"{base_url}/health",
            "baseline_interval_ms": 5_000,
            "min_interval_ms": 2_000,
            "max_interval_ms": 60_000,
            "timeout_ms": 5_000,
        },
        {
            "name": "report",
            "description": "Slow report, once every 15 s.",
            "url": f"{base_url}/report",
            "method": "POST",
            "body": {"report": "daily", "format": "json"},
            "baseline_interval_ms": 15_000,
            "timeout_ms": 10_000,
        },
        {
            "name": "flaky-sync",
            "description": "Fails about a third of the time: watch the failure backoff.",
            "url": f"{base_url}/flaky",
            "baseline_interval_ms": 10_000,
            "max_interval_ms": 120_000,
            "timeout_ms": 5_000,
        },
    ]


class _DemoHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    wbufsize = -1

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.startswith("/health"):
            status = random.choice(["healthy"] * 4 + ["degraded"])
            self._json(200, {"status": status, "latency_ms": random.randint(5, 400)})
        elif self.path.startswith("/flaky"):
            if random.random() < 0.33:
                self._json(503, {"error": "upstream unavailable"})
            else:
                self._json(200, {"synced": random.randint(0, 50)})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"null")
        threading.Event().wait(random.uniform(0.2, 1.5))  # a slow report
        self._json(200, {"request": request, "rows": random.randint(100, 1000)})

    def _json(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


def start_demo_target(port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _DemoHandler)
    threading.Thread(target=server.serve_forever, name="demo-target", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

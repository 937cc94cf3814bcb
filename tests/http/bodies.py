"""A target with bodies for the response budget's tests: slow, chunked or declared, plain or gzip."""

from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.targets import TargetServer

PIECES = 10


class BodyServer(TargetServer):
    """TargetServer plus `/body?bytes=N&ms=T&declared=0|1&gzip=0|1`.

    N bytes of text (zeros when gzip-encoded, so they compress well) sent in ten pieces spread
    over T ms; chunked unless `declared` (then with a Content-Length, the compressed one for gzip).
    `finished[key]` is when the body with that Idempotency-Key was all written: a caller cannot
    have read it all before then.
    """

    def __init__(self) -> None:
        super().__init__()
        self.finished: dict[str, float] = {}

    def route(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(h.path)
        if parts.path != "/body":
            super().route(h, body)
            return
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        size, pause = int(q.get("bytes", "1000")), int(q.get("ms", "0")) / 1000 / PIECES
        declared, zipped = q.get("declared") == "1", q.get("gzip") == "1"
        data = gzip.compress(b"\0" * size) if zipped else b"x" * size
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream" if zipped else "text/plain")
        if zipped:
            h.send_header("Content-Encoding", "gzip")
        h.send_header(*(("Content-Length", str(len(data))) if declared else ("Transfer-Encoding", "chunked")))
        h.end_headers()
        step = -(-len(data) // PIECES)
        for start in range(0, len(data), step):
            piece = data[start : start + step]
            h.wfile.write(piece if declared else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            h.wfile.flush()
            time.sleep(pause)
        if not declared:
            h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
        with self._lock:
            self.finished[h.headers.get("Idempotency-Key", "")] = time.monotonic()

"""The benchmark's HTTP target: a uvicorn (httptools) server that counts what it serves.

    python -m bench.target --port 8099

`/ok` answers at once, `/slow` after 200 ms. It keeps, for the benchmark to read at `/stats`:
the number of requests served, the calls in flight (now, peak, and the time-averaged mean since
the last `/reset`), and the dispatch lag of every request that carried an `Idempotency-Key`
(`<endpoint>:<slot>`): arrival time minus the slot, which is exactly "request start minus
scheduled slot" seen from the receiving end, independent of what the scheduler records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

SLOW_S = 0.2
_BODY = json.dumps({"ok": True, "queue_depth": 3}).encode()


class Stats:
    def __init__(self) -> None:
        self.inflight = 0
        self.reset()

    def reset(self) -> None:
        """Start a new measurement window. `inflight` is kept: calls open now will still close."""
        self.served = 0
        self.peak = self.inflight
        self.samples = 0
        self.inflight_sum = 0
        self.lags: list[float] = []
        self.lags_at: list[float] = []  # each lag's arrival (Unix time): when a backlog drained
        self.since = time.monotonic()
        self.cpu_since = time.process_time()

    def snapshot(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "peak_inflight": self.peak,
            "mean_inflight": self.inflight_sum / self.samples if self.samples else 0.0,
            "lags": self.lags,
            "lags_at": self.lags_at,
            "elapsed_s": time.monotonic() - self.since,
            # The target's own CPU: served / cpu_s is what it could answer on one core.
            "cpu_s": time.process_time() - self.cpu_since,
        }


STATS = Stats()


def _lag(key: bytes, arrived: float) -> float | None:
    """`<endpoint uuid>:<slot>`; the uuid has no colon, the slot has several."""
    try:
        slot = key.decode().split(":", 1)[1]
        return arrived - datetime.strptime(slot, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except (ValueError, IndexError):
        return None


async def _sampler() -> None:
    # Time-averaged calls in flight: sampled every 10 ms (a mean over requests would overweight bursts).
    while True:
        await asyncio.sleep(0.01)
        STATS.samples += 1
        STATS.inflight_sum += STATS.inflight


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                asyncio.get_running_loop().create_task(_sampler())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/stats":
        return await answer(send, json.dumps(STATS.snapshot()).encode())
    if path == "/reset":
        STATS.reset()
        return await answer(send, b"{}")
    arrived = time.time()
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            lag = _lag(value, arrived)
            if lag is not None:
                STATS.lags.append(lag)
                STATS.lags_at.append(arrived)
            break
    STATS.inflight += 1
    STATS.peak = max(STATS.peak, STATS.inflight)
    try:
        if path == "/slow":
            await asyncio.sleep(SLOW_S)
        await answer(send, _BODY)
    finally:
        STATS.inflight -= 1
        STATS.served += 1


async def answer(send: Any, body: bytes) -> None:
    """A 200 JSON answer with `body`: the one reply both bench targets give."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(asgi_app: Any, default_port: int) -> None:
    """Run an ASGI target as fast as uvicorn goes, on `--port` (default `default_port`)."""
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args()
    uvicorn.run(
        asgi_app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


def main() -> None:
    serve(app, 8099)


if __name__ == "__main__":
    main()

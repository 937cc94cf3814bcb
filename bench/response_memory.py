"""Response memory: what one execute process holds while a batch of calls reads huge bodies.

    python -m bench.response_memory [--calls 20] [--body-mb 50] [--cap-kb 10240] [--budget-mb N]
        [--type json|text|binary] [--chunked] [--repeat 3] [--baseline REV]

A target process serves a `--body-mb` body (JSON-typed by default, so a cut body is kept as text:
the costliest path) with its Content-Length, or chunked with `--chunked`. A fresh measuring
process, holding nothing but the HTTP executor, makes `--calls` calls side by side with a
`--cap-kb` cap, each from its own thread as the runner's calls pool does, and keeps every outcome
until the batch is done, as the runner does before it stores the batch. It reports its resident
memory before the batch, how much it grew at the peak (VmHWM, reset just before) and what it kept
after, and the text the outcomes hold: `reading_overhead_mib` (peak growth minus that text) is what
reading cost on top of the result, the part the response budget bounds. `--budget-mb` sets the
budget (default: CRONICORN_RESPONSE_BUDGET_MB's); `--baseline REV` measures a git revision's
executor first (e.g. the commit before the budget) for a before/after in one table. Medians of
`--repeat` runs: the peak of one run varies with thread timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
WRITE_CHUNK = MIB


def serve(port: int, body_mb: int, content_type: str, chunked: bool) -> None:
    """The target: one body built once and shared by every request (its memory is not measured)."""
    body = memoryview(b'{"data":"' + b"x" * (body_mb * MIB - 12) + b'"}')

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/ready":
                self.send_response(204)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for start in range(0, len(body), WRITE_CHUNK):
                    piece = body[start : start + WRITE_CHUNK]
                    if chunked:
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    else:
                        self.wfile.write(piece)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the caller stopped at its cap and hung up: expected

        def log_message(self, *_: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # callers hang up mid-body on purpose

    Server(("127.0.0.1", port), Handler).serve_forever()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measure(url: str, calls: int, cap_kb: int, budget_mb: int | None) -> dict[str, Any]:
    """In a fresh process: the executor alone, one batch of calls side by side, resident memory around it."""
    from cronicorn.core.calls import HttpOutcome, HttpRequest
    from cronicorn.http.call import HttpCaller
    from cronicorn.http.ssrf import AddressGuard

    kwargs: dict[str, Any] = {}
    if budget_mb is not None:
        from cronicorn.http.budget import ResponseBudget

        kwargs["response_budget"] = ResponseBudget(budget_mb * MIB)
    caller = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"bench", **kwargs)
    pool = ThreadPoolExecutor(max_workers=calls, thread_name_prefix="call")

    def one(cap: int) -> HttpOutcome:
        return caller.call(HttpRequest(url=url, timeout_ms=120_000, max_response_size_kb=cap))

    list(pool.map(one, [1] * calls))  # warm up: threads, pools and connections exist before the baseline
    time.sleep(0.2)
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak, to the current size
    started = time.monotonic()
    outcomes = list(pool.map(one, [cap_kb] * calls))
    elapsed = time.monotonic() - started
    peak = _status_kib("VmHWM")
    after = _status_kib("VmRSS")
    held = sum(len(o.body_text or "") for o in outcomes)
    kinds: dict[str, int] = {}
    for o in outcomes:
        kind = "truncated" if o.ok and o.truncated else "ok" if o.ok else f"failed: {o.error_kind}"
        kinds[kind] = kinds.get(kind, 0) + 1
    del outcomes
    return {
        "rss_before_mib": round(before / 1024, 1),
        "peak_growth_mib": round((peak - before) / 1024, 1),
        "retained_after_mib": round((after - before) / 1024, 1),
        "held_text_mib": round(held / MIB, 1),
        "reading_overhead_mib": round((peak - before) / 1024 - held / MIB, 1),
        "seconds": round(elapsed, 2),
        "outcomes": kinds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--body-mb", type=int, default=50)
    parser.add_argument("--cap-kb", type=int, default=10_240)
    parser.add_argument("--budget-mb", type=int, help="the executor's response budget (default: the setting's)")
    parser.add_argument("--type", default="json", choices=["json", "text", "binary"])
    parser.add_argument("--chunked", action="store_true", help="no Content-Length: the body's size is unknown")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per row (the median is reported)")
    parser.add_argument("--baseline", metavar="REV", help="also measure the HTTP executor of this git revision")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    content_type = {"json": "application/json", "text": "text/plain", "binary": "application/octet-stream"}[args.type]
    if args.serve:
        serve(args.serve, args.body_mb, content_type, args.chunked)
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.calls, args.cap_kb, args.budget_mb)))
        return

    from bench.harness import Table, free_port, save, wait_until

    port = free_port()
    argv = [sys.executable, "-m", "bench.response_memory", "--body-mb", str(args.body_mb), "--type", args.type]
    target = subprocess.Popen([*argv, *(["--chunked"] if args.chunked else []), "--serve", str(port)], cwd=ROOT)
    rows: list[dict[str, Any]] = []
    outcomes: dict[str, dict[str, int]] = {}
    try:
        import requests

        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).ok, 15, "memory target")
        child = [*argv, "--calls", str(args.calls), "--cap-kb", str(args.cap_kb), "--measure"]
        child.append(f"http://127.0.0.1:{port}/body")
        versions: list[tuple[str, list[str], Path | None]] = []
        if args.baseline:
            versions.append((args.baseline, child, _checkout(args.baseline)))
        budget = ["--budget-mb", str(args.budget_mb)] if args.budget_mb is not None else []
        versions.append(("this tree", [*child, *budget], None))
        for code, command, package_root in versions:
            runs = [_measure_in_child(command, package_root) for _ in range(args.repeat)]
            rows.append(_row(args, code, runs))
            outcomes[code] = runs[-1]["outcomes"]
    finally:
        target.terminate()
        target.wait(10)
    save(Table("response_memory", list(rows[0]), rows), {"outcomes": outcomes})


def _checkout(rev: str) -> Path:
    """`rev`'s shared/ folder as an importable `cronicorn` package in a temporary folder."""
    root = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    archive = subprocess.run(["git", "archive", rev, "shared"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    (root / "cronicorn").symlink_to(root / "shared")
    return root


def _measure_in_child(command: list[str], package_root: Path | None) -> dict[str, Any]:
    # A baseline's package comes first on the path; the installed (editable) one is found only after it.
    path = [str(package_root)] if package_root else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measuring process failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _row(args: argparse.Namespace, code: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in runs))

    return {
        "code": code,
        "calls": args.calls,
        "body_mib": args.body_mb,
        "cap_kib": args.cap_kb,
        "budget_mib": "none" if code != "this tree" else args.budget_mb or "default",
        "type": args.type + (" chunked" if args.chunked else ""),
        "runs": len(runs),
        "rss_before_mib": median("rss_before_mib"),
        "peak_growth_mib": median("peak_growth_mib"),
        "peak_growth_max_mib": max(r["peak_growth_mib"] for r in runs),
        "held_text_mib": median("held_text_mib"),
        "reading_overhead_mib": median("reading_overhead_mib"),
        "retained_after_mib": median("retained_after_mib"),
        "seconds": median("seconds"),
    }


if __name__ == "__main__":
    main()

"""A local OpenAI-compatible server (real HTTP) that replays scripted tool-calling conversations.

A script is a function of the request's messages returning the next assistant turn: a list of
(tool name, arguments) calls, or a `Fault` (delay, HTTP error, garbage). The server answers in
the `/v1/chat/completions` format with `tool_calls` and `usage`, so the real `openai` client
talks to it exactly as to the real service.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Calls = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Fault:
    delay_s: float = 0.0
    status: int | None = None  # answer with this HTTP error
    garbage: bool = False  # answer 200 with a body that is not a completion


Script = Callable[[list[dict[str, Any]]], "Calls | Fault"]


def submit(
    reasoning: str = "stable, no change", actions: list[str] | None = None, next_ms: int = 3_600_000
) -> tuple[str, dict[str, Any]]:
    return (
        "submit_analysis",
        {"reasoning": reasoning, "actions_taken": actions or [], "confidence": "high", "next_analysis_in_ms": next_ms},
    )


def turns(*steps: Calls | Fault) -> Script:
    """A script that plays `steps` in order, counting assistant turns already in the conversation."""

    def script(messages: list[dict[str, Any]]) -> Calls | Fault:
        done = sum(1 for m in messages if m["role"] == "assistant")
        return steps[done] if done < len(steps) else [submit()]

    return script


def endpoint_name(messages: list[dict[str, Any]]) -> str:
    context = next(m["content"] for m in messages if m["role"] == "user")
    return str(json.loads(context[context.index("{") :])["endpoint"]["name"])


class FakeOpenAI:
    def __init__(
        self,
        script: Script | None = None,
        *,
        prompt_tokens: int | None = 900,
        completion_tokens: int = 60,
        delay_s: float = 0.0,
    ) -> None:
        """`prompt_tokens=None` estimates usage from the request's size (about 4 characters a token)."""
        self.script: Script = script or turns()
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            wbufsize = -1

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                fake.answer(self, body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        messages = body["messages"]
        name = endpoint_name(messages)
        with self.lock:
            self.requests.append(body)
            self.in_flight[name] = self.in_flight.get(name, 0) + 1
            self.max_in_flight[name] = max(self.max_in_flight.get(name, 0), self.in_flight[name])
        try:
            time.sleep(self.delay_s)
            forced = body.get("tool_choice")
            step = self.script(messages)
            if isinstance(forced, dict):  # the client forces submit_analysis on the last step
                step = [submit("step budget used up")]
            if isinstance(step, Fault):
                time.sleep(step.delay_s)
                if step.status is not None:
                    return self._send(
                        h, step.status, {"error": {"message": "scripted failure", "type": "server_error"}}
                    )
                if step.garbage:
                    return self._send_raw(h, 200, b"<html>definitely not a completion</html>", "text/html")
            calls = [] if isinstance(step, Fault) else step
            self._send(h, 200, self._completion(body, calls))
        finally:
            with self.lock:
                self.in_flight[name] -= 1

    def _completion(self, body: dict[str, Any], calls: Calls) -> dict[str, Any]:
        n = len(self.requests)
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{n}_{i}",
                                "type": "function",
                                "function": {
                                    "name": name,
                                    "arguments": json.dumps(args) if not isinstance(args, str) else args,
                                },
                            }
                            for i, (name, args) in enumerate(calls)
                        ],
                    }
                    if calls
                    else {"role": "assistant", "content": "I think everything is fine."},
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": self._usage(body, calls),
        }

    def _usage(self, body: dict[str, Any], calls: Calls) -> dict[str, int]:
        prompt = self.prompt_tokens
        completion = self.completion_tokens
        if prompt is None:
            prompt = (len(json.dumps(body["messages"])) + len(json.dumps(body.get("tools", [])))) // 4
            completion = max(1, len(json.dumps(calls)) // 4)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, payload: Any) -> None:
        FakeOpenAI._send_raw(h, code, json.dumps(payload).encode(), "application/json")

    @staticmethod
    def _send_raw(h: BaseHTTPRequestHandler, code: int, data: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): exactly what a timeout test provokes

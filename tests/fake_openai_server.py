"""A tiny scripted OpenAI-compatible server for tests and benchmarks (stdlib only, 127.0.0.1).

It answers ``POST /v1/chat/completions`` (plain and streaming, with usage) after a fixed latency:

* a question containing ``A + B`` gets ``Final Answer: <A+B>``, anything else ``Final Answer: 42``;
* ``[fail]`` in the question: HTTP 500 every time (a permanent failure after retries);
* ``[flaky]`` in the question: HTTP 503 on the first request for that question, then normal;
* ``[429]`` in the question: HTTP 429 (rate limited) on the first two requests for that question, then normal;
* ``[bad]`` in the question: HTTP 400 (a permanent error, never retried).

With ``tool_calls=True`` it is a scripted teacher that uses native tool calls: a request that offers tools
for an ``A + B`` question, before any tool result, is answered with the thought ``I add A and B with the
calculator.`` and a ``calculator`` call of ``A + B`` (``[silent]`` in the question: the call without any
text); once a tool result is in the messages, with ``The calculator says R.\nFinal Answer: R``.

``retry_after_ms``: the scripted 429 and 5xx answers carry ``retry-after-ms`` (the OpenAI client then waits
that long instead of its own backoff, which keeps tests fast). Every completion's usage is tallied
(``prompt_tokens``, ``completion_tokens``) and so is the most requests ever in flight at once (``max_in_flight``).

``GET /v1/models`` lists one model; ``GET /stats`` returns the request counts. Run it as a script
(``python tests/fake_openai_server.py --latency 0.2``): it prints its port, then serves until killed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAIServer", "reply_for", "start_server", "tool_reply"]

_SUM = re.compile(r"(-?\d+)\s*\+\s*(-?\d+)")


def reply_for(question: str) -> str:
    """The scripted answer to a question."""
    found = _SUM.search(question)
    return f"Final Answer: {int(found[1]) + int(found[2])}" if found else "Final Answer: 42"


def tool_reply(body: dict[str, Any], question: str) -> tuple[str, list[dict[str, Any]]]:
    """The scripted teacher's turn when tools are offered: (text, tool calls)."""
    messages = body.get("messages") or []
    results = [str(m.get("content") or "") for m in messages if m.get("role") == "tool"]
    if results:
        return f"The calculator says {results[-1].strip()}.\nFinal Answer: {results[-1].strip()}", []
    found = _SUM.search(question)
    if not found or not body.get("tools"):
        return reply_for(question), []
    call = {"id": f"call_{found[1]}_{found[2]}", "type": "function",
            "function": {"name": "calculator", "arguments": json.dumps({"expression": f"{found[1]} + {found[2]}"})}}
    text = "" if "[silent]" in question else f"I add {found[1]} and {found[2]} with the calculator."
    return text, [call]


def _question(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content") or ""
            if isinstance(content, list):
                content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content)
    return ""


class FakeOpenAIServer(ThreadingHTTPServer):
    """The server: ``latency_s`` per completion; counts requests per question."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, port: int = 0, latency_s: float = 0.0, *, tool_calls: bool = False,
                 retry_after_ms: int | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.latency_s = latency_s
        self.tool_calls = tool_calls
        self.retry_after_ms = retry_after_ms
        self.counts: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-stream (a killed batch job) is normal here."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """The ``/v1`` base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "tests"}]})
        elif self.path == "/stats":
            with self.server.lock:
                self._json(200, {"requests": sum(self.server.counts.values()), "by_question": dict(self.server.counts),
                                 "usage": dict(self.server.usage), "max_in_flight": self.server.max_in_flight})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        question = _question(body)
        with self.server.lock:
            self.server.counts[question] += 1
            seen = self.server.counts[question]
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            self._complete(body, question, seen)
        finally:
            with self.server.lock:
                self.server.in_flight -= 1

    def _complete(self, body: dict[str, Any], question: str, seen: int) -> None:
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        wait = {"retry-after-ms": str(self.server.retry_after_ms)} if self.server.retry_after_ms is not None else {}
        if "[fail]" in question or ("[flaky]" in question and seen == 1):
            status = 500 if "[fail]" in question else 503
            self._json(status, {"error": {"message": "scripted failure", "type": "server_error"}}, wait)
            return
        if "[429]" in question and seen <= 2:
            self._json(429, {"error": {"message": "scripted rate limit", "type": "rate_limit_error"}}, wait)
            return
        if "[bad]" in question:
            self._json(400, {"error": {"message": "scripted bad request", "type": "invalid_request_error"}})
            return
        text, calls = tool_reply(body, question) if self.server.tool_calls else (reply_for(question), [])
        out = len(text.split()) + 5 * len(calls)
        usage = {"prompt_tokens": 10, "completion_tokens": out, "total_tokens": 10 + out}
        with self.server.lock:
            self.server.usage.update({"prompt_tokens": 10, "completion_tokens": out})
        if body.get("stream"):
            self._stream(body, text, usage, calls)
            return
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        self._json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage,
        })

    def _stream(self, body: dict[str, Any], text: str, usage: dict[str, int],
                calls: list[dict[str, Any]] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "fake")}
        deltas = [{"role": "assistant", "content": ""}, *({"content": w} for w in re.findall(r"\S+\s*", text))]
        for index, call in enumerate(calls or []):  # the name first, then the arguments in two pieces
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            deltas += [{"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                        "function": {"name": call["function"]["name"], "arguments": ""}}]},
                       *({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                         for piece in (arguments[:half], arguments[half:]))]
        events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        finish = "tool_calls" if calls else "stop"
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def start_server(latency_s: float = 0.0, port: int = 0, *, tool_calls: bool = False,
                 retry_after_ms: int | None = None) -> FakeOpenAIServer:
    """Start a server in a daemon thread; call ``.shutdown()`` when done."""
    server = FakeOpenAIServer(port, latency_s, tool_calls=tool_calls, retry_after_ms=retry_after_ms)
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-openai").start()
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground; the first line printed is the port."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion")
    parser.add_argument("--tool-calls", action="store_true", help="answer A + B questions with a calculator call")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(args.port, args.latency, tool_calls=args.tool_calls)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()

"""A fake OpenAI-compatible server on 127.0.0.1: real HTTP, answers as a test scripts them.

`POST /v1/chat/completions` gets, by default, the first sentence of the article it was sent
(faithful by construction); a test can script replies per call (statuses, Retry-After,
delays, garbage) or answer from the request. It records every request and the most requests
it ever had in flight at once.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def answer(text: str, **reply: Any) -> Reply:
    """A well-formed chat-completions answer carrying `text`."""
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    return Reply(body=json.dumps(payload).encode(), **reply)


def article_of(body: dict[str, Any]) -> str:
    """The article text a request carried (title, blank line, lead)."""
    return str(body["messages"][-1]["content"])


def first_sentence(body: dict[str, Any]) -> Reply:
    """The default answer: the lead's first sentence, which names nothing new."""
    lead = article_of(body).split("\n\n", 1)[-1]
    return answer(re.split(r"(?<=[.!?])\s", lead, maxsplit=1)[0])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that closed its kept-alive connection: not worth a traceback
        super().handle_error(request, client_address)


@dataclass
class FakeChat:
    """Start with `start()`, stop with `stop()`; `base_url` is the API root (…/v1)."""

    respond: Callable[[dict[str, Any]], Reply] = first_sentence
    requests: list[dict[str, Any]] = field(default_factory=list)
    max_in_flight: int = 0
    base_url: str = ""
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def script(self, *replies: Reply) -> None:
        """Answer the next calls with these replies in turn (the last one repeats)."""
        queue = list(replies)

        def respond(body: dict[str, Any]) -> Reply:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.respond = respond

    @property
    def calls(self) -> int:
        return len(self.requests)

    def start(self) -> FakeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(
                        {"path": self.path, "auth": self.headers.get("Authorization"), **body}
                    )
                    fake._in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
                    reply = fake.respond(body)
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout tests)
                finally:
                    with fake._lock:
                        fake._in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

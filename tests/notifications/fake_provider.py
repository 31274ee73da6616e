"""A fake SMS gateway and WeChat API on loopback that records what it received and answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeProvider:
    """Behaviours are consumed in order per path ("ok", "timeout", "500", "reject"); then "ok"."""

    url: str = ""
    script: dict[str, list[str]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)  # what reached a person: once per key
    delay_seconds: float = 1.5
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_behaviour(self, path: str) -> str:
        with self._lock:
            queue = self.script.get(path) or []
            return queue.pop(0) if queue else "ok"

    def sends(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            provider.received.append({"path": parsed.path, "query": parse_qs(parsed.query), "body": None})
            if parsed.path == "/cgi-bin/token":
                self._answer(200, {"access_token": "fake-token", "expires_in": 7200})
            else:
                self._answer(404, {})

        def do_POST(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            record = {
                "path": parsed.path,
                "query": parse_qs(parsed.query),
                "body": body,
                "authorization": self.headers.get("Authorization"),
            }
            provider.received.append(record)
            behaviour = provider.next_behaviour(parsed.path)
            if behaviour == "timeout":
                time.sleep(provider.delay_seconds)  # the client has given up by now
                return self._answer(200, {"code": "OK", "message_id": "late"})
            if behaviour == "500":
                return self._answer(503, {"code": "ServiceUnavailable"})
            if parsed.path == "/sms/send":
                if behaviour == "reject":
                    return self._answer(
                        400, {"code": "isv.SMS_TEMPLATE_ILLEGAL", "message": "template not approved"}
                    )
                # Like real gateways: a resend with a known out_id is acknowledged, not delivered again.
                key = body.get("out_id")
                if all(d["body"].get("out_id") != key for d in provider.delivered):
                    provider.delivered.append(record)
                return self._answer(200, {"code": "OK", "message_id": f"sms-{key}"})
            if parsed.path == "/cgi-bin/message/subscribe/send":
                if behaviour == "reject":
                    return self._answer(200, {"errcode": 40037, "errmsg": "invalid template_id"})
                provider.delivered.append(record)
                return self._answer(200, {"errcode": 0, "errmsg": "ok", "msgid": len(provider.delivered)})
            return self._answer(404, {})

    return Handler


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    """Serve a FakeProvider on 127.0.0.1 (a free port) for the duration of the block."""
    provider = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()

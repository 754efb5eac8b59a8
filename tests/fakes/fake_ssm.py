"""A tiny SSM endpoint (JSON 1.1 protocol) answering StartSession and TerminateSession.

moto has no Session Manager; boto3 reaches this one through `AWS_ENDPOINT_URL_SSM`.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSsm:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.terminated: list[str] = []
        self.refuse_terminate = False  # answer TerminateSession with an error
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeSsm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.started.clear()
        self.terminated.clear()
        self.refuse_terminate = False

    @property
    def open_sessions(self) -> list[str]:
        return [s["SessionId"] for s in self.started if s["SessionId"] not in self.terminated]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                if target == "AmazonSSM.StartSession":
                    if not body.get("Target", "").startswith("i-"):
                        return self._error(400, "InvalidTarget", "Target is not an instance id")
                    session_id = f"tester-{uuid.uuid4().hex[:17]}"
                    session = {
                        "SessionId": session_id,
                        "TokenValue": uuid.uuid4().hex,
                        "StreamUrl": f"wss://ssmmessages.example/v1/data-channel/{session_id}",
                    }
                    fake.started.append({**session, "Request": body})
                    return self._reply(session)
                if target == "AmazonSSM.TerminateSession" and fake.refuse_terminate:
                    return self._error(400, "AccessDeniedException", "not allowed")
                if target == "AmazonSSM.TerminateSession":
                    fake.terminated.append(body.get("SessionId", ""))
                    return self._reply({"SessionId": body.get("SessionId", "")})
                return self._error(400, "UnknownOperationException", target)

            def _reply(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                data = json.dumps({"__type": code, "message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

"""The agent endpoint the target calls back during phase 2 (GET {endpoint}/health).

One small loopback HTTP server per session; it answers healthy only for agent ids the suite created.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AgentEndpoint:
    def __init__(self, public_host: str = "127.0.0.1", bind_host: str | None = None, port: int = 0):
        self.public_host = public_host
        self.agent_ids: set[str] = set()
        self.calls: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                endpoint.calls.append(self.path)
                if len(parts) == 2 and parts[1] == "health" and parts[0] in endpoint.agent_ids:
                    self._reply(200, {"status": "healthy", "agent_id": parts[0]})
                else:
                    self._reply(404, {"status": "unknown agent"})

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((bind_host or public_host, port), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for serve_forever to look at its flag, every poll_interval (default
        # 0.5 s: a quarter of a second at the end of every run, on average, for nothing)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="arcp-agent-endpoint", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url_for(self, agent_id: str) -> str:
        self.agent_ids.add(agent_id)
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"http://{host}:{self.port}/{agent_id}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

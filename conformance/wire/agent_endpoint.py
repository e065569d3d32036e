"""The agent endpoint the target calls back during phase 2 (GET {endpoint}/health), and the key
URLs a proof may name instead of its jwk (jku, x5u: profile §5).

One small loopback HTTP server per session (or on the address given with --agent-endpoint-host);
it answers healthy only for agent ids the suite created. Each key URL is made for one situation,
unguessable (/keys/<random>.json), and every request to it is recorded with its time: a target
that requests the URL named in a proof dereferences proof key URLs (RFC 8725 §3.10).
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KEY_PREFIX = "/keys/"


@dataclass(frozen=True)
class KeyFetch:
    """One request the target (or anyone) made to a key URL."""

    method: str
    path: str
    client: str  # the peer's address
    at: float  # epoch seconds when it arrived
    user_agent: str | None = None


class AgentEndpoint:
    def __init__(self, public_host: str = "127.0.0.1", bind_host: str | None = None, port: int = 0):
        self.public_host = public_host
        self.agent_ids: set[str] = set()
        self.calls: list[str] = []
        self._documents: dict[str, tuple[bytes, str]] = {}  # key URL path -> (body, content type)
        self._fetches: dict[str, list[KeyFetch]] = {}  # key URL path -> the requests to it
        self._fetched = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                path = self.path.split("?", 1)[0]
                endpoint.calls.append(self.path)
                if path.startswith(KEY_PREFIX):
                    self._key(path)
                    return
                parts = path.strip("/").split("/")
                if len(parts) == 2 and parts[1] == "health" and parts[0] in endpoint.agent_ids:
                    self._reply(200, {"status": "healthy", "agent_id": parts[0]})
                else:
                    self._reply(404, {"status": "unknown agent"})

            def do_HEAD(self) -> None:  # noqa: N802 - any request to a key URL is a fetch attempt
                self._key_only()

            def do_POST(self) -> None:  # noqa: N802
                self._key_only()

            def _key_only(self) -> None:
                path = self.path.split("?", 1)[0]
                if path.startswith(KEY_PREFIX):
                    self._key(path)
                else:
                    self.send_error(501)  # as before key URLs: the agent endpoint answers GET only

            def _key(self, path: str) -> None:
                endpoint._record(KeyFetch(self.command, path, self.client_address[0], time.time(), self.headers.get("User-Agent")))
                document = endpoint._documents.get(path)
                if document is None:
                    self._reply(404, {"status": "unknown key"})
                else:
                    self._send(200, *document)

            def _reply(self, status: int, body: dict) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
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

    @property
    def base_url(self) -> str:
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"http://{host}:{self.port}"

    def url_for(self, agent_id: str) -> str:
        self.agent_ids.add(agent_id)
        return f"{self.base_url}/{agent_id}"

    # --- key URLs

    def key_url(self, body: bytes, content_type: str, suffix: str = ".json") -> str:
        """A new, unguessable URL on this endpoint that serves `body`; requests to it are recorded."""
        path = f"{KEY_PREFIX}{secrets.token_urlsafe(18)}{suffix}"
        with self._fetched:
            self._documents[path] = (body, content_type)
            self._fetches[path] = []
        return self.base_url + path

    def _record(self, fetch: KeyFetch) -> None:
        with self._fetched:
            self._fetches.setdefault(fetch.path, []).append(fetch)
            self._fetched.notify_all()

    def key_fetches(self, url: str, *, until: float | None = None) -> tuple[KeyFetch, ...]:
        """The requests made to the key URL `url` so far; with `until` (epoch seconds), waiting
        until then for the first one when there is none yet (never past `until`)."""
        path = urlsplit(url).path
        with self._fetched:
            while until is not None and not self._fetches.get(path):
                left = until - time.time()
                if left <= 0:
                    break
                self._fetched.wait(left)
            return tuple(self._fetches.get(path, ()))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Faulty ARCP targets for the project's own tests (issue 6): all on 127.0.0.1, on free ports.

- `closed_port()`: a port nothing listens on (connection refused).
- `RawTarget(behaviour)`: a bare TCP server that answers every connection the same broken way:
  `hang` (accepts, never answers), `trickle` (an endless status line, one byte per second),
  `reset` (half a response, then a TCP reset), `garbage` (bytes that are not HTTP). `trickle`
  sends TRICKLE_BYTES bytes, then closes.
- `FaultyTarget(mode, faults)`: the embedded model server (conformance.model_target) behind
  an ASGI layer that injects `Fault`s on the requests they match (method and path), so the suite
  gets as far as the faults allow: `hang`, `trickle` (a body byte a second, for TRICKLE_BYTES), `reset` (half a
  body, then the connection closes), `status` (e.g. 429 or 503 with a Retry-After that may grow
  with each hit, or a lockout), `delay`, `redirect` and `replace` (a response of our own).
  It records every request it gets (`requests`), with its arrival time.
- Hostile bodies for `replace` faults: `deep_json()` (an array nested 30,000 levels),
  `gzip_bomb()` (a gigabyte of zeros gzipped, a MB on the wire), `stacked_gzip_bomb()` (that
  gzipped again, a few KB);
  `answer(...)` replaces any response, `deepen(status)` the body of every response with that status,
  `with_temp_token(change)` phase 1's temp token (`padded_token`, `nested_token`: 40 KB ones).
- `Recorder()`: a server that answers 200 to anything and records what it got, as a trap: a
  suite that keeps to the target's origin never sends it anything.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import uvicorn

from conformance.model_target.app import create_app
from conformance.model_target.config import ModelConfig

PROBLEM_BASE = "https://arcp.0x001.tech/docs/problems/"
# A trickle sends this many bytes, one a second, then closes: long enough to outlast the tests'
# request timeouts, short enough that a client without a deadline fails in seconds, not hours.
TRICKLE_BYTES = 8


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


# --- hostile bodies ---------------------------------------------------------------------------------

DEEP_LEVELS = 30_000  # json.loads recurses once a level: far past Python's recursion limit


def deep_json(levels: int = DEEP_LEVELS) -> bytes:
    return b"[" * levels + b"]" * levels


def gzip_bomb(decoded_mb: int = 1024) -> bytes:
    """`decoded_mb` MB of zeros gzipped (about a MB on the wire per GB): one fully flushed block of a
    MB of zeros repeated (after a full flush deflate starts afresh, so the same bytes encode the
    next MB too): built in a fraction of a second."""
    mb = bytes(1 << 20)
    block = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    one_mb = block.compress(mb) + block.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(decoded_mb):
        crc = zlib.crc32(mb, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty final block
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + one_mb * decoded_mb + end
            + struct.pack("<II", crc, (decoded_mb << 20) & 0xFFFFFFFF))


def stacked_gzip_bomb(decoded_mb: int = 1024) -> bytes:
    """gzip_bomb(decoded_mb) gzipped again (a few KB on the wire): send with `Content-Encoding: gzip, gzip`."""
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return outer.compress(gzip_bomb(decoded_mb)) + outer.flush()


def answer(status: int, body: bytes, content_type: str = "application/json", content_encoding: str | None = None) -> Callable:
    """A `replace` for Fault: this response instead of the model's."""
    headers = [(b"content-type", content_type.encode())]
    if content_encoding is not None:
        headers.append((b"content-encoding", content_encoding.encode()))
    return lambda path, downstream_status, downstream_headers, downstream_body: (status, headers, body)


def deepen(status: int, body: bytes | None = None) -> Callable:
    """A `replace` for Fault: every response with `status` keeps its status and headers, its body
    becomes `body` (deep_json() by default); other responses pass unchanged."""
    body = deep_json() if body is None else body
    return lambda path, s, headers, original: (s, headers, body if s == status else original)


def with_temp_token(change: Callable[[str], str]) -> "Fault":
    """A `replace` Fault: phase 1's answer with its temp token changed by `change(token) -> token`."""
    def replace(path, status, headers, body):
        doc = json.loads(body)
        if "temp_token" in doc:
            doc["temp_token"] = change(doc["temp_token"])
        return status, [(k, v) for k, v in headers if k.lower() != b"content-length"], json.dumps(doc).encode()
    return Fault("replace", "^/auth/agent/request_temp_token$", ("POST",), replace=replace)


def _with_claims(token: str, claims: bytes) -> str:
    """`token` with these claims (its signature no longer fits: such tokens are never sent anyway)."""
    head, _, sig = token.split(".")
    return ".".join((head, base64.urlsafe_b64encode(claims).decode().rstrip("="), sig))


def padded_token(token: str) -> str:
    """The token with 40 KB more claims."""
    head, claims, sig = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    doc["padding"] = "x" * 40_000
    return _with_claims(token, json.dumps(doc).encode())


def nested_token(token: str) -> str:
    """The token with a claim nested 20,000 levels deep (40 KB)."""
    return _with_claims(token, b'{"sub":"a","nest":' + deep_json(20_000) + b"}")


# --- a bare TCP server with one broken behaviour ------------------------------------------------

class RawTarget:
    BEHAVIOURS = ("hang", "trickle", "reset", "garbage")

    def __init__(self, behaviour: str):
        if behaviour not in self.BEHAVIOURS:
            raise ValueError(behaviour)
        self.behaviour = behaviour
        self._sock = _listening_socket()
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.5)
            try:
                conn.recv(65536)  # the request (or a TLS ClientHello)
            except socket.timeout:
                pass
            if self.behaviour == "hang":
                self._stop.wait()
            elif self.behaviour == "trickle":
                for byte in b"HTTP/1.1 200 OK\r\n"[:TRICKLE_BYTES]:
                    if self._stop.wait(1.0):
                        break
                    conn.sendall(bytes([byte]))
            elif self.behaviour == "reset":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":")
                time.sleep(0.05)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            elif self.behaviour == "garbage":
                conn.sendall(b"\x16\x03\x01 this is not HTTP \x00\xff\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(2)


# --- the model behind fault injection -------------------------------------------------------------

@dataclass
class Fault:
    """A fault on the requests whose method is in `methods` (empty: any) and whose path matches
    `path` (a regular expression, searched), from the `after`-th such request on (1 = the first),
    and then on every `every`-th; with `until`, only up to that request.

    kind: hang | trickle | reset | status | delay | redirect | replace. For `status`: `status`,
    `retry_after` (None, a number, or a function of the hit number, 1-based) and `body` (None
    gives a problem+json body). For `delay`: `seconds`. For `redirect`: `location`. For `replace`:
    `replace(path, downstream_status, headers, body) -> (status, headers, body)`, applied to the
    model's response.
    """

    kind: str
    path: str = ""
    methods: tuple[str, ...] = ()
    after: int = 1
    every: int = 1
    until: int | None = None
    status: int = 429
    retry_after: float | Callable[[int], float] | None = None
    content_type: str = "application/problem+json"
    seconds: float = 0.0
    location: str = ""
    replace: Callable | None = None
    hits: int = 0  # requests matched so far (counted from 1)

    def due(self) -> bool:
        return self.hits >= self.after and (self.hits - self.after) % self.every == 0 and (self.until is None or self.hits <= self.until)

    def matches(self, method: str, path: str) -> bool:
        return (not self.methods or method in self.methods) and re.search(self.path, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    at: float  # time.monotonic() on arrival
    host: str


class _FaultLayer:
    def __init__(self, app, target: "FaultyTarget"):
        self.app = app
        self.target = target

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        host = dict(scope["headers"]).get(b"host", b"").decode()
        self.target.requests.append(Seen(method, path, time.monotonic(), host))
        fault = None
        for f in self.target.faults:  # every matching fault counts the request; the first due applies
            if f.matches(method, path):
                f.hits += 1
                if fault is None and f.due():
                    fault = f
        if fault is None:
            return await self.app(scope, receive, send)
        kind = fault.kind
        if kind == "hang":
            while not self.target.stopping.is_set():
                await asyncio.sleep(0.1)
            return
        if kind == "delay":
            await asyncio.sleep(fault.seconds)
            return await self.app(scope, receive, send)
        if kind == "trickle":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000")]})
            for _ in range(TRICKLE_BYTES):
                if self.target.stopping.is_set():
                    break
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                await asyncio.sleep(1.0)
            raise _Cut()
        if kind == "reset":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
            raise _Cut()  # uvicorn closes the connection with the body incomplete
        if kind == "redirect":
            return await _respond(send, 302, [(b"location", fault.location.encode())], b"")
        if kind == "status":
            retry = fault.retry_after(fault.hits) if callable(fault.retry_after) else fault.retry_after
            headers = [(b"content-type", fault.content_type.encode())]
            body = {"type": PROBLEM_BASE + ("rate-limit-exceeded" if fault.status == 429 else "forbidden"),
                    "title": "Rate Limit Exceeded" if fault.status == 429 else "Unavailable",
                    "status": fault.status, "detail": "injected by the faulty test target"}
            if retry is not None:
                headers.append((b"retry-after", str(int(retry)).encode()))
                body["retry_after"] = int(retry)
            return await _respond(send, fault.status, headers, json.dumps(body).encode())
        if kind == "replace":
            status, headers, body = await _capture(self.app, scope, receive)
            status, headers, body = fault.replace(path, status, headers, body)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            return await _respond(send, status, headers, body)
        raise ValueError(f"unknown fault kind {kind!r}")


class _Cut(Exception):
    pass


async def _respond(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _capture(app, scope, receive) -> tuple[int, list, bytes]:
    got: dict = {"status": 500, "headers": [], "body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            got["status"], got["headers"] = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            got["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return got["status"], got["headers"], got["body"]


class _Server:
    """An ASGI app under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app):
        self._socket = _listening_socket()
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"test server did not start at {self.url}")
            time.sleep(0.01)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
        self._socket.close()


class FaultyTarget(_Server):
    """The model target (`mode`) with `faults` injected; the first matching fault applies."""

    def __init__(self, mode: str = "required", faults: list[Fault] = ()):
        self.config = ModelConfig(mode=mode)
        self.faults = list(faults)
        self.requests: list[Seen] = []
        self.stopping = threading.Event()  # set at close: hanging and trickling responses end
        # the model's public URL (the proofs' htu) is this server's: it reads `self.url`
        super().__init__(_FaultLayer(create_app(self.config, self), self))

    def env(self) -> dict[str, str]:
        """The variables that give the suite this target's registration key and signing secret."""
        return {"ARCP_CONFORMANCE_AGENT_KEY": self.config.agent_key, "ARCP_CONFORMANCE_JWT_SECRET": self.config.jwt_secret}

    def close(self) -> None:
        self.stopping.set()
        super().close()


class Recorder(_Server):
    """Answers 200 `{}` to anything and records it: a trap for requests that leave the target."""

    def __init__(self):
        self.requests: list[Seen] = []

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            self.requests.append(Seen(scope["method"], scope["path"], time.monotonic(), ""))
            await _respond(send, 200, [(b"content-type", b"application/json")], b"{}")

        super().__init__(app)

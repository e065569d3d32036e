"""Target I/O: every request the suite sends goes through TargetClient, and comes back as an Exchange.

Requests are described by a builder that is called again for each attempt, because a DPoP
proof cannot be re-sent (fresh jti, iat): a 429/503 retry rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

import httpx

MAX_BODY_BYTES = 1 << 20  # responses are read up to this many bytes, then marked truncated
MAX_REQUEST_HEADER_BYTES = 8000  # upstream answers 413 from 8192 bytes on, before any DPoP check

HeaderList = list[tuple[str, str]]


@dataclass
class Exchange:
    """One request and its response (or the transport error), as recorded."""

    method: str
    url: str
    request_headers: HeaderList
    request_json: object = None
    status: int | None = None
    response_headers: HeaderList = field(default_factory=list)
    body_text: str = ""
    truncated: bool = False
    error: str | None = None
    received_at: float = 0.0  # epoch seconds when the response arrived
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status >= 400

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return ", ".join(values) if values else None

    def headers(self, name: str) -> list[str]:
        return [v for k, v in self.response_headers if k.lower() == name.lower()]

    def json(self) -> object:
        try:
            return json.loads(self.body_text)
        except ValueError:
            return None

    def json_member(self, name: str) -> object:
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def summary(self) -> str:
        """A short, secret-free line: method, path, status and the problem type if any."""
        path = urlsplit(self.url).path
        if self.error:
            return f"{self.method} {path} -> no response ({self.error})"
        ptype = self.json_member("type")
        extra = f" type={ptype}" if isinstance(ptype, str) else ""
        return f"{self.method} {path} -> {self.status}{extra}"

    def describe(self) -> str:
        """Request and response for a failure message, with tokens and proofs reduced to fingerprints."""
        lines = [f"> {self.method} {self.url}"]
        for k, v in self.request_headers:
            lines.append(f"> {k}: {redact_header(k, v)}")
        if self.error:
            lines.append(f"< (no response: {self.error})")
            return "\n".join(lines)
        lines.append(f"< {self.status}")
        for k, v in self.response_headers:
            if k.lower() in ("content-type", "www-authenticate", "cache-control", "pragma", "retry-after", "location", "dpop-nonce"):
                lines.append(f"< {k}: {v}")
        body = self.body_text[:800] + (" …(cut)" if len(self.body_text) > 800 or self.truncated else "")
        lines.append(f"< {redact_tokens(body)}")
        return "\n".join(lines)


def fingerprint(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname == "authorization":
        scheme, _, token = value.partition(" ")
        return f"{scheme} <token {fingerprint(token)}>" if token else "<credentials>"
    if lname == "dpop":
        return f"<proof {fingerprint(value)}>"
    return value


_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def redact_tokens(text: str) -> str:
    """Replace anything shaped like a JWT in `text` by its fingerprint."""
    return _JWT.sub(lambda m: f"<jwt {fingerprint(m.group(0))}>", text)


class TargetError(RuntimeError):
    """The target could not be used at all (unreachable, not ARCP)."""


class TargetClient:
    """httpx client bound to the one target the user named."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, retry_cap: float = 30.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TargetError(f"--target-url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.retry_cap = retry_cap
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.exchanges: list[Exchange] = []

    def close(self) -> None:
        self._http.close()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def same_origin(self, url: str) -> bool:
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def send(
        self,
        method: str,
        path: str,
        build_headers: Callable[[str], HeaderList] = lambda url: [],
        json_body: object = None,
    ) -> Exchange:
        """Send once; on 429/503 with Retry-After, wait (up to retry_cap in all) and rebuild the request."""
        url = self.url(path)
        if not self.same_origin(url):
            raise TargetError(f"refusing to send to {url}: not the target {self.base_url}")
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            headers = build_headers(url)
            exchange = self._send_once(method, url, headers, json_body)
            exchange.attempts = attempt
            delay = _retry_after(exchange)
            if exchange.status in (429, 503) and delay is not None and waited + delay <= self.retry_cap:
                time.sleep(delay)
                waited += delay
                continue
            self.exchanges.append(exchange)
            return exchange

    def _send_once(self, method: str, url: str, headers: HeaderList, json_body: object) -> Exchange:
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        if size > MAX_REQUEST_HEADER_BYTES:
            raise ValueError(f"request headers would be {size} bytes; the suite keeps them under {MAX_REQUEST_HEADER_BYTES}")
        exchange = Exchange(method, url, list(headers), json_body)
        content = None
        send_headers = list(headers)
        if json_body is not None:
            content = json.dumps(json_body).encode()
            send_headers.append(("Content-Type", "application/json"))
        try:
            request = self._http.build_request(method, url, headers=send_headers, content=content)
            response = self._http.send(request, stream=True)
            try:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        exchange.truncated = True
                        break
                raw = b"".join(chunks)[:MAX_BODY_BYTES]
            finally:
                response.close()
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            exchange.received_at = time.time()
            return exchange
        exchange.status = response.status_code
        exchange.response_headers = [(k, v) for k, v in response.headers.multi_items()]
        exchange.body_text = raw.decode("utf-8", errors="replace")
        exchange.received_at = time.time()
        return exchange


def _retry_after(exchange: Exchange) -> float | None:
    value = exchange.header("retry-after")
    if value is None:
        body_value = exchange.json_member("retry_after")  # ARCP puts it in the body too
        value = str(body_value) if isinstance(body_value, (int, float)) else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

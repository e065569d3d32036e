"""Target I/O: every request the suite sends goes through TargetClient, and comes back as an Exchange
(conformance.wire.exchange).

Requests are described by a builder that is called again for each attempt, because a DPoP
proof cannot be re-sent (fresh jti, iat): a 429/503 retry rebuilds it.

Where the target gives DPoP-Nonce values (RFC 9449 §8, §9), the client keeps the newest and hands
it to each attempt's proofs (wire.nonces), and retries once, with the fresh nonce, a request
whose proof followed it and was refused for it: a client that cannot would see every request to
such a target refused. A target that gives no nonce sees exactly what it saw before.

The client is also the run's safety net: each request completes within `timeout` seconds of
wall-clock time (connection, headers and body together), the run sends at most `max_requests`
requests and none after its `deadline`, a path that keeps timing out (or stays rate limited
after Retry-After was honoured up to `retry_cap`) gets no more requests, and nothing goes
anywhere but the target's own origin (redirects are not followed). A request the
client declines to send comes back as an Exchange with `sent` False and the reason in `error`:
the checks that needed it are inconclusive, never failed.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Callable
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ..dpop.keys import AccessTokenNotAscii
from ..dpop.malformed import RawBody
from . import nonces
from .decoding import BoundedBody
from .exchange import Exchange, HeaderList

# Responses are read up to this many bytes, then marked truncated: ARCP's answers are small, and
# every exchange is kept for the report, so a server sending megabytes must not make the run grow.
MAX_BODY_BYTES = 64 << 10
MAX_REQUEST_HEADER_BYTES = 8000  # upstream answers 413 from 8192 bytes on, before any DPoP check
MAX_REQUEST_BODY_BYTES = 64 << 10  # the largest body the suite sends (an oversized value): far below any server's limit
DEFAULT_REQUEST_TIMEOUT = 10.0  # seconds per request, connection to last byte
DEFAULT_RETRY_CAP = 30.0  # seconds of Retry-After honoured per request
DEFAULT_MAX_REQUESTS = 10_000  # a full run against the model sends about 500 (the nightly fuzz profile about 7000)
DEFAULT_RUN_TIMEOUT = 3600.0  # seconds for the whole run (the nightly fuzz profile alone takes 1800)
DEFAULT_CONCURRENCY = 4  # requests in flight at once: a polite default for a server under test
HTTPX_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's own defaults
SPARE_CONNECTIONS = 8  # connections beyond the concurrency: the batches sent at once (phase 1's) never wait for one
# A request is unusable when it timed out, or was still rate limited after honouring Retry-After.
PATH_FAILURES_TO_GIVE_UP = 3  # unusable in a row on one method and path: send nothing more there
FAILURES_TO_STOP = 6  # unusable in a row on any paths: send nothing more at all


class UnsendableRequest(ValueError):
    """A request no HTTP client could send as the suite built it: its headers too large in all
    (MAX_REQUEST_HEADER_BYTES), or a header value that is not ASCII. Where a target's token made it
    so (a 40 KB token, one with non-ASCII bytes), it is what the target gave: the client returns
    the request unsent with this reason, and the checks that needed it are inconclusive."""


class TargetError(RuntimeError):
    """The target could not be used at all (unreachable, not ARCP)."""


class TargetClient:
    """httpx client bound to the one target the user named, within the run's limits."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_REQUEST_TIMEOUT,
        retry_cap: float = DEFAULT_RETRY_CAP,
        max_requests: int | None = DEFAULT_MAX_REQUESTS,
        run_timeout: float | None = DEFAULT_RUN_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        keep_exchanges: bool = False,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TargetError(f"--target-url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_cap = retry_cap
        self.max_requests = max_requests
        self.run_timeout = run_timeout
        self.deadline = time.monotonic() + run_timeout if run_timeout else None
        # A transport of our own: every read, write and connect is cut at the request's deadline
        # (httpx's timeouts are per operation, encode/httpx#1450; httpcore takes a network backend,
        # which httpx does not expose: tests/e2e/test_robustness.py notices if that attribute moves).
        # It also means HTTP(S)_PROXY are not used: the suite talks to the target directly.
        # One client for every thread: httpx.Client is thread-safe over its connection pool, which
        # keeps httpx's limits (the main flow's phase-1 calls go out at once) or more for a large N.
        connections = concurrency + SPARE_CONNECTIONS
        limits = httpx.Limits(max_connections=max(connections, HTTPX_LIMITS.max_connections),
                              max_keepalive_connections=max(connections, HTTPX_LIMITS.max_keepalive_connections))
        transport = httpx.HTTPTransport(trust_env=True, limits=limits)
        transport._pool._network_backend = _DeadlineBackend(transport._pool._network_backend)
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport)
        # Every thread's exchanges, in the order they completed: kept only when asked (a reproducer's
        # transcript); a run keeps what its situations' results hold, and no more (a hostile target's
        # 64 KB bodies, thousands of them, would otherwise all stay in memory to the end).
        self.keep_exchanges = keep_exchanges
        self.exchanges: list[Exchange] = []
        self._threads = threading.local()  # .exchanges: the calling thread's own, once it watches (own_exchanges)
        self.requests = 0  # requests sent, each retry included
        self.unanswered = 0  # requests that got no (complete) response
        self.still_throttled = 0  # exchanges returned still rate limited or unavailable (after waiting up to retry_cap)
        self.stopped: str | None = None  # why the client sends nothing more (budget, deadline, target silent)
        self.given_up: dict[str, str] = {}  # "METHOD /path" -> why no more requests go there
        self._given_up_after: dict[str, Exchange] = {}  # "METHOD /path" -> the last answer before giving up
        self._unusable_in_a_row: dict[str, int] = {}
        self._unusable_overall = 0
        self._allowance = 0  # requests allowed after a budget is spent, for cleaning up (see allow)
        self._silent = False  # stopped because the target stopped answering usefully: no allowance then
        self.nonce: str | None = None  # the newest DPoP-Nonce the target gave: the next proofs carry it (§8.2)
        self.nonce_retries = 0  # requests sent again with a fresh nonce after a use_dpop_nonce refusal
        self._paused_until = 0.0  # monotonic: a Retry-After pauses every sender of the run until then
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url + "/", path_or_url.lstrip("/"))

    def same_origin(self, url: str) -> bool:
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def own_exchanges(self) -> list[Exchange]:
        """The exchanges sent by the calling thread since it first asked, in order: the state
        machine reads its own steps' here while other threads send situations ahead (a thread's
        list grows only on it, and only once it has asked)."""
        mine = getattr(self._threads, "exchanges", None)
        if mine is None:
            mine = self._threads.exchanges = []
        return mine

    def _record(self, exchange: Exchange) -> Exchange:
        if self.keep_exchanges:
            self.exchanges.append(exchange)
        mine = getattr(self._threads, "exchanges", None)
        if mine is not None:
            mine.append(exchange)
        return exchange

    def allow(self, requests: int) -> None:
        """Let `requests` more through even after the budget or the deadline is spent: for
        unregistering the suite's own agents at the end, which leaves the target as it was."""
        with self._lock:
            self._allowance = requests

    def send(
        self,
        method: str,
        path: str,
        build_headers: Callable[[str], HeaderList] = lambda url: [],
        json_body: object = None,
        raw_body: RawBody | None = None,
    ) -> Exchange:
        """Send once; on 429/503 with Retry-After, wait (up to retry_cap in all) and rebuild the
        request; refused for its DPoP nonce, rebuild it once with the fresh nonce. The body is
        `json_body` as JSON, or `raw_body`'s bytes as they are (a malformed request)."""
        url = self.url(path)
        if not self.same_origin(url):
            raise TargetError(f"refusing to send to {url}: not the target {self.base_url}")
        waited, attempt = 0.0, 0
        refused_for_nonce: Exchange | None = None
        while True:
            self._wait_for_pause()
            why_not = self._reserve(method, url)
            if why_not:
                exchange = Exchange(method, url, [], json_body, error=why_not, sent=False, received_at=time.time(), attempts=attempt,
                                    request_raw=raw_body)
                exchange.retried_after = refused_for_nonce
                return self._record(exchange)
            attempt += 1
            with self._lock:
                nonce = self.nonce
            try:
                with nonces.handing(nonce) as slot:
                    headers = build_headers(url)
                exchange = self._send_once(method, url, headers, json_body, raw_body)
            except (UnsendableRequest, AccessTokenNotAscii) as exc:
                with self._lock:
                    self.requests -= 1  # reserved, not sent
                exchange = Exchange(method, url, [], json_body, error=f"cannot be sent: {exc}", sent=False,
                                    received_at=time.time(), attempts=attempt, request_raw=raw_body)
                exchange.retried_after = refused_for_nonce
                return self._record(exchange)
            exchange.attempts = attempt
            exchange.retried_after = refused_for_nonce
            self._keep_nonce(exchange)
            delay = _retry_after(exchange)
            if exchange.status in (429, 503) and delay is not None and waited + delay <= self.retry_cap and self._can_wait(delay):
                self._pause(delay)
                waited += delay
                continue
            if refused_for_nonce is None and slot.taken and self._wants_nonce_retry(exchange, slot.value):
                refused_for_nonce = exchange
                continue
            self._note(method, url, exchange)
            return self._record(exchange)

    def _keep_nonce(self, exchange: Exchange) -> None:
        """Remember the DPoP-Nonce a response carries: the newest is the one to use (§8.2)."""
        fresh = nonces.nonce_of(exchange)
        if fresh is not None:
            with self._lock:
                self.nonce = fresh

    def _wants_nonce_retry(self, exchange: Exchange, sent: str | None) -> bool:
        """Was a request whose proof carried the nonce `sent` (None: the client had none) refused
        for its nonce, with a fresher one now known? A refusal that says use_dpop_nonce is; so is
        any 400 or 401 that brings a first nonce to a proof that had none, for a target whose
        refusal forgets to say why (CHALLENGE-nonce reports that, where it is judged)."""
        if exchange.status not in nonces.REFUSALS:
            return False
        with self._lock:
            newest = self.nonce
        if newest is None or newest == sent:
            return False
        if not (nonces.asks_for_nonce(exchange) or sent is None):
            return False
        with self._lock:
            self.nonce_retries += 1
        return True

    def _reserve(self, method: str, url: str) -> str | None:
        """Why this request must not be sent, or None (then it is counted as sent)."""
        with self._lock:
            if not self.stopped:
                if self.max_requests is not None and self.requests >= self.max_requests:
                    self.stopped = f"the request budget is spent ({self.max_requests} requests, --max-requests)"
                elif self.deadline is not None and time.monotonic() >= self.deadline:
                    self.stopped = f"the run's time budget is spent ({self.run_timeout:g} s, --run-timeout)"
            why = self.stopped or self.given_up.get(_where(method, url))
            if why and why == self.stopped and not self._silent and self._allowance > 0:
                self._allowance -= 1
                why = None
            if why is None:
                self.requests += 1
            return why

    def answer_before_giving_up(self, method: str, url: str) -> Exchange | None:
        """The last answer on the path the client gave up (a 429 with its Retry-After, a timeout),
        or None: what a request that was then not sent there would most likely have got."""
        with self._lock:
            return self._given_up_after.get(_where(method, url))

    def _pause(self, delay: float) -> None:
        """Honour a Retry-After for the whole run: a target that asks one sender to wait is busy
        for all of them, so every sender waits before its next attempt (see _wait_for_pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + delay)

    def _wait_for_pause(self) -> None:
        """Wait out the run's pause, never past its deadline (a pause is at most retry_cap long:
        only a Retry-After the asking request may honour sets it)."""
        while True:
            with self._lock:
                until = self._paused_until
            if self.deadline is not None:
                until = min(until, self.deadline)
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)

    def _can_wait(self, delay: float) -> bool:
        return self.deadline is None or time.monotonic() + delay < self.deadline

    def _note(self, method: str, url: str, exchange: Exchange) -> None:
        """Count what the target did; give up on a path (or the target) that keeps timing out or
        stays rate limited: waiting for it again and again would only stretch the run."""
        where = _where(method, url)
        if exchange.timed_out:
            cause = f"got no complete response within {self.timeout:g} s (--request-timeout)"
        elif exchange.throttled:
            cause = f"was still refused with {exchange.status} after honouring Retry-After up to {self.retry_cap:g} s (--retry-after-cap)"
        else:
            cause = None
        with self._lock:
            self.unanswered += exchange.error is not None
            self.still_throttled += exchange.throttled
            if cause is None:
                self._unusable_in_a_row[where] = 0
                self._unusable_overall = 0
                return
            self._unusable_in_a_row[where] = self._unusable_in_a_row.get(where, 0) + 1
            self._unusable_overall += 1
            if self._unusable_in_a_row[where] >= PATH_FAILURES_TO_GIVE_UP and where not in self.given_up:
                self.given_up[where] = f"{where} {cause} {PATH_FAILURES_TO_GIVE_UP} times in a row: the suite sends nothing more there"
                self._given_up_after[where] = exchange
            if self._unusable_overall >= FAILURES_TO_STOP and not self.stopped:
                self._silent = True
                self.stopped = f"the target stopped answering usefully: {FAILURES_TO_STOP} requests in a row failed, the last {cause}"

    def _send_once(self, method: str, url: str, headers: HeaderList, json_body: object, raw_body: RawBody | None = None) -> Exchange:
        if raw_body is not None and raw_body.content_type is not None:
            headers = [*headers, ("Content-Type", raw_body.content_type)]  # recorded: it may be what is malformed
        size = sum(len(k) + len(v) + 4 for k, v in headers)
        if size > MAX_REQUEST_HEADER_BYTES:
            raise UnsendableRequest(f"its headers would be {size} bytes; the suite keeps them under {MAX_REQUEST_HEADER_BYTES}")
        odd = next((k for k, v in headers if not v.isascii()), None)
        if odd is not None:
            raise UnsendableRequest(f"its {odd} header would carry characters that are not ASCII, which HTTP headers cannot")
        exchange = Exchange(method, url, list(headers), json_body, request_raw=raw_body)
        content = None
        send_headers = list(headers)
        if raw_body is not None:
            content = raw_body.content
        elif json_body is not None:
            content = json.dumps(json_body).encode()
            send_headers.append(("Content-Type", "application/json"))
        if content is not None and len(content) > MAX_REQUEST_BODY_BYTES:
            raise ValueError(f"the request body would be {len(content)} bytes; the suite keeps it under {MAX_REQUEST_BODY_BYTES}")
        _DEADLINE.at = time.monotonic() + self.timeout  # the whole request, read by _DeadlineStream
        try:
            request = self._http.build_request(method, url, headers=send_headers, content=content)
            response = self._http.send(request, stream=True)
            try:
                # raw bytes, decoded here: the limit holds on the decoded bytes (wire.decoding)
                body = BoundedBody(response.headers.get("content-encoding"), MAX_BODY_BYTES)
                for chunk in response.iter_raw():
                    body.feed(chunk)
                    if body.done:
                        break
                else:
                    body.finish()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            exchange.error = transport_error(exc, self.timeout)
            exchange.timed_out = isinstance(exc, httpx.TimeoutException)
            exchange.received_at = time.time()
            return exchange
        finally:
            _DEADLINE.at = None
        exchange.status = response.status_code
        exchange.response_headers = [(k, v) for k, v in response.headers.multi_items()]
        exchange.body_text = body.body.decode("utf-8", errors="replace")
        exchange.truncated, exchange.body_note = body.truncated, body.note
        exchange.received_at = time.time()
        return exchange


def _where(method: str, url: str) -> str:
    return f"{method} {urlsplit(url).path}"


def transport_error(exc: httpx.HTTPError, timeout: float) -> str:
    """One line naming the cause of a failed request in plain words, then httpx's own message."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = str(exc).lower()
    if isinstance(exc, httpx.TimeoutException):
        cause = f"no complete response within {timeout:g} s (--request-timeout)"
    elif "ssl" in text or "certificate" in text or "tls" in text:
        cause = "TLS handshake failed"
    elif any(s in text for s in ("name or service not known", "nodename nor servname", "name resolution", "errno -2]", "errno -3]")):
        cause = "unknown host (the name does not resolve)"
    elif "connection refused" in text:
        cause = "connection refused (nothing listens there)"
    elif isinstance(exc, httpx.ReadError) or "reset" in text or "peer closed" in text or "disconnected" in text:
        cause = "the connection was closed or reset before the response was complete"
    elif isinstance(exc, httpx.RemoteProtocolError):
        cause = "the answer is not valid HTTP"
    elif isinstance(exc, httpx.ConnectError):
        cause = "cannot connect"
    else:
        cause = "no valid HTTP response"
    return f"{cause}: {detail}"


# --- the wall-clock deadline of one request, enforced on every network operation

_DEADLINE = threading.local()  # .at: monotonic deadline of the request this thread is sending


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = getattr(_DEADLINE, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's time is up")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the current request's deadline, so a target that
    trickles its status line, headers or body a byte at a time is still cut off."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, _remaining(timeout, httpcore.ConnectTimeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _remaining(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _retry_after(exchange: Exchange) -> float | None:
    value = exchange.header("retry-after")
    if value is None:
        body_value = exchange.json_member("retry_after")  # ARCP puts it in the body too
        value = str(body_value) if isinstance(body_value, (int, float)) else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

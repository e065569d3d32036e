"""Faults only: the ways a careless server finds a proof's key other than in its jwk (profile §5).

The strict model never calls this module: a proof without jwk is refused. With `kid-lookup-accepted`
it looks a kid up among keys it saw in valid proofs; with `jku-fetched` it requests the jku or x5u
URL and takes the key from a jku's JWK Set. Even the fault fetches only loopback http URLs, with a
short timeout and a size limit: the model must never become the request forgery it stands for.
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import threading
from collections import OrderedDict
from urllib.parse import urlsplit

FETCH_TIMEOUT = 1.0  # seconds
FETCH_LIMIT = 64 * 1024  # bytes read of a key document
SEEN_KEYS = 256  # the keys remembered for kid look-ups


class SeenKeys:
    """The jwk of the last SEEN_KEYS keys that signed a valid proof, by RFC 7638 thumbprint."""

    def __init__(self, size: int = SEEN_KEYS):
        self._keys: OrderedDict[str, dict] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, thumbprint: str, jwk: dict) -> None:
        with self._lock:
            self._keys[thumbprint] = jwk
            self._keys.move_to_end(thumbprint)
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)

    def get(self, kid: object) -> dict | None:
        with self._lock:
            return self._keys.get(kid) if isinstance(kid, str) else None


def is_loopback_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
    return parts.scheme == "http" and loopback


def fetch_loopback(url: str) -> bytes | None:
    """The body of a 200 answer to GET `url` (at most FETCH_LIMIT bytes), when `url` is a loopback
    http URL that answers within FETCH_TIMEOUT; None otherwise. Redirects are not followed."""
    if not is_loopback_http(url):
        return None
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=FETCH_TIMEOUT)
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           headers={"User-Agent": "arcp-model-target (jku-fetched fault)"})
        response = connection.getresponse()
        body = response.read(FETCH_LIMIT + 1)
        return body if response.status == 200 and len(body) <= FETCH_LIMIT else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def key_from_set(document: bytes | None, kid: object, kty: str, crv: str | None) -> dict | None:
    """The JWK of a JWK Set (RFC 7517 §5) that fits: the one whose kid is `kid`, else the first of
    kty and crv."""
    try:
        keys = json.loads(document)["keys"] if document else None
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(keys, list):
        return None
    fitting = [k for k in keys if isinstance(k, dict) and k.get("kty") == kty and k.get("crv") == crv]
    by_kid = [k for k in fitting if kid is not None and k.get("kid") == kid]
    chosen = (by_kid or fitting or [None])[0]
    return None if chosen is None else {name: value for name, value in chosen.items() if name not in ("kid", "alg", "use", "key_ops")}

"""Tokens as the outputs show them: decoded header and claims plus a short hash, never the whole
token; and secrets of a request (its agent key) never echoed back through a response.

A token is recognised by its shape, not by its first characters: three base64url segments whose
first decodes to a JSON object (a header written with a space, `{ "alg"`, does not start with
`eyJ`). Its view keeps what a reader needs (alg, typ, kid, cnf.jkt, aud, token_type, exp, ...),
drops the signature, blanks private JWK members (a proof's `jwk` with `d` is a named defect), and
reduces any token nested in a claim to its hash. Every view is cut to VIEW_LIMIT characters: a
hostile server chooses what its tokens hold.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from ..dpop.json_text import read_segment

VIEW_LIMIT = 600  # characters of one token's decoded header and claims
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth", "r", "t"})
SECRET_MEMBER = re.compile(r"key|secret|password|token|credential", re.IGNORECASE)
MIN_SECRET = 6  # shorter request values are not searched for in responses (too many false hits)
# a run of dot-separated base64url segments: a token is any three consecutive ones of it whose
# first decodes to a JSON object (so "host.name.<token>" does not hide the token). It starts where
# a run starts and never gives back what it took: linear in the text, where the plain pattern took
# quadratic time on a long run without dots (a 40 KB value of a malformed body took seconds).
_DOTTED = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]++(?:\.[A-Za-z0-9_-]*+){2,}")


def fingerprint(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _segment(segment: str) -> object:
    try:
        return read_segment(segment)
    except ValueError:
        return None


def decode(token: str) -> tuple[dict, object] | None:
    """(header, claims) of a JWS compact serialization, unverified; None when `token` is not one.
    The claims are None when the payload is not JSON."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header = _segment(parts[0])
    if not isinstance(header, dict):
        return None
    return header, _segment(parts[1])


def _scrub(value: Any, depth: int = 0) -> Any:
    """A decoded header or claims set fit for display: private JWK members blanked, nested tokens hashed."""
    if depth > 8:
        return "…"
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and k in PRIVATE_JWK_MEMBERS and isinstance(v, str) and isinstance(value.get("kty"), str):
                out[k] = "<private key member removed>"
            else:
                out[k] = _scrub(v, depth + 1)
        return out
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _tokens_in(value, lambda token: f"<jwt {fingerprint(token)}>")
    return value


def _tokens_in(text: str, show) -> str:
    """`text` with every token in it replaced by show(token)."""
    def run(match: re.Match) -> str:
        segments, out, i = match.group(0).split("."), [], 0
        while i < len(segments):
            candidate = ".".join(segments[i:i + 3])
            if i + 3 <= len(segments) and decode(candidate):
                out.append(show(candidate))
                i += 3
            else:
                out.append(segments[i])
                i += 1
        return ".".join(out)

    return _DOTTED.sub(run, text)


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return text if len(text) <= VIEW_LIMIT else text[: VIEW_LIMIT - 1] + "…"


def token_parts(token: str) -> tuple[str, dict | None, object]:
    """(fingerprint, header, claims) of a token, its header and claims fit for display (private
    JWK members blanked, nested tokens hashed); header None when `token` is not a JWS."""
    decoded = decode(token)
    if decoded is None:
        return fingerprint(token), None, None
    header, claims = decoded
    return fingerprint(token), _scrub(header), _scrub(claims) if claims is not None else None


@functools.lru_cache(maxsize=512)  # pure; a run shows its few tokens in hundreds of exchanges
def token_view(token: str, kind: str = "jwt") -> str:
    """`<jwt sha256:… header={…} claims={…}>` for a JWS, `<kind sha256:…>` for anything else."""
    decoded = decode(token)
    if decoded is None:
        return f"<{kind} {fingerprint(token)}>"
    header, claims = decoded
    shown = _compact(_scrub(claims)) if claims is not None else "(not JSON)"
    return f"<{kind} {fingerprint(token)} header={_compact(_scrub(header))} claims={shown}>"


def request_secrets(body: object) -> list[str]:
    """String values of the members of a request body that name a key, secret, password or token."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if SECRET_MEMBER.search(str(k)) and isinstance(v, str) and len(v) >= MIN_SECRET:
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(body)
    return sorted(set(found), key=len, reverse=True)


def redact_body(value: object) -> object:
    """A request body with every member that names a key, secret or token blanked."""
    if isinstance(value, dict):
        return {k: "<redacted>" if SECRET_MEMBER.search(str(k)) else redact_body(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_body(v) for v in value]
    return value


def raw_text(content: bytes, secrets: list[str] | tuple[str, ...] = (), limit: int = 2000) -> str:
    """A raw request body as text: bytes that are not UTF-8 as \\xNN, secrets blanked and tokens
    shown as views, all before the cut at `limit` characters (a cut secret would not be recognised;
    the suite sends at most 64 KB)."""
    text = redact_text(content.decode("utf-8", "backslashreplace"), secrets)
    return text if len(text) <= limit else text[:limit] + f" …(cut: {len(content)} bytes)"


def redact_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """`text` with each of `secrets` blanked and every token shown as its view (`token_view`)."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            text = text.replace(secret, f"<redacted {fingerprint(secret)}>")
            escaped = json.dumps(secret)[1:-1]  # as it appears inside a JSON string
            if escaped != secret:
                text = text.replace(escaped, f"<redacted {fingerprint(secret)}>")
    return _tokens_in(text, token_view)


_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 9110 §11.4: what credentials of Bearer and DPoP are made of


def split_credentials(value: str) -> tuple[str, str, str]:
    """(scheme, token, odd) of an Authorization value: the token is the token68 run after the
    scheme; `odd` the characters after it that no token68 has (a junk header's, the suite's own),
    anything else of the value left out, so that no part of a token shows."""
    scheme, _, credentials = value.partition(" ")
    credentials = credentials.strip()
    match = _TOKEN68.match(credentials)
    token = match.group(0) if match else ""
    odd = "".join(ch for ch in credentials[len(token):] if not _TOKEN68.fullmatch(ch))
    return scheme, token, odd


def redact_header(name: str, value: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """A request header as the outputs show it: credentials as token views, never whole."""
    lname = name.lower()
    if lname == "authorization":
        if not value:
            return "(empty)"
        scheme, token, odd = split_credentials(value)
        if not (token or odd):
            return "<credentials>"
        shown = f"{scheme} {token_view(token, 'token')}" if token else scheme
        return shown + (f" followed by {json.dumps(odd)}" if odd else "")
    if lname == "dpop":
        return token_view(value.strip(), "proof")
    return redact_text(value, secrets)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters (terminal escapes, NUL, C1) shown as \\xNN: a hostile server
    must not clear the console or retitle the window through a failure message."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)

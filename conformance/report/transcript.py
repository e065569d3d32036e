"""A readable, redacted transcript of exchanges, for a person at a terminal: every request (method,
URL, headers, body) and its response (status, headers, body), with each token and proof shown as
its fingerprint and its decoded header and claims on lines of their own, never whole."""
from __future__ import annotations

import json

from ..wire import redact
from ..wire.exchange import Exchange

BODY_LIMIT = 2000  # characters of a body shown
HEADER_LIMIT = 300  # characters of one header value shown
HEADERS_SHOWN = 40  # response header fields shown


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " …(cut)"


def _credential(name: str, value: str) -> list[str]:
    """An Authorization or DPoP header: the scheme and fingerprint, then what the token says."""
    scheme, token, odd = ("", value.strip(), "") if name.lower() == "dpop" else redact.split_credentials(value)
    odd = f" followed by {_json(odd)}" if odd else ""  # a junk header's odd characters (never part of a token)
    if not token:
        return [f"> {name}: {scheme or '<empty>'}{odd}"]
    fingerprint, header, claims = redact.token_parts(token)
    kind = "proof" if name.lower() == "dpop" else "token"
    lines = [f"> {name}: {scheme + ' ' if scheme else ''}<{kind} {fingerprint}>{odd}"]
    if header is not None:
        lines.append(f">     header {_cut(_json(header), 1000)}")
        lines.append(f">     claims {_cut(_json(claims), 1000) if claims is not None else '(not JSON)'}")
    return lines


def render(ex: Exchange, title: str) -> str:
    if ex.retried_after is not None:  # both attempts: the one refused for its DPoP nonce, then the retry
        first = render(ex.retried_after, f"{title}, first attempt: refused for its DPoP nonce")
        return first + "\n" + _render(ex, f"{title}, sent again with the target's fresh DPoP-Nonce")
    return _render(ex, title)


def _render(ex: Exchange, title: str) -> str:
    secrets = ex.request_secrets()
    lines = [f"--- {title}", f"> {ex.method} {ex.url}"]
    for name, value in ex.request_headers:
        if name.lower() in ("authorization", "dpop"):
            lines += _credential(name, value)
        else:
            lines.append(f"> {name}: {_cut(redact.redact_text(value, secrets), HEADER_LIMIT)}")
    if ex.request_raw is not None:
        lines.append(f"> {redact.raw_text(ex.request_raw.content, secrets, BODY_LIMIT) or '(empty body)'}")
    elif ex.request_json is not None:
        lines.append(f"> {_cut(_json(redact.redact_body(ex.request_json)), BODY_LIMIT)}")
    if ex.error:
        lines.append(f"< ({'no response' if ex.sent else 'not sent'}: {ex.error})")
    else:
        lines.append(f"< {ex.status}")
        for name, value in ex.response_headers[:HEADERS_SHOWN]:
            lines.append(f"< {name}: {_cut(redact.redact_text(value[:HEADER_LIMIT * 2], secrets), HEADER_LIMIT)}")
        body = redact.redact_text(ex.body_text[:BODY_LIMIT * 2], secrets)  # before the cut: a cut token is not recognised
        if body:
            lines.append(f"< {_cut(body, BODY_LIMIT)}" + (" …(cut)" if ex.truncated and len(body) <= BODY_LIMIT else ""))
    return redact.printable("\n".join(lines))


def summary_line(ex: Exchange, title: str) -> str:
    retried = f" (after {ex.retried_after.summary()}, sent again with the target's fresh DPoP-Nonce)" if ex.retried_after else ""
    return redact.printable(f"--- {title}: {ex.summary()}{retried}")

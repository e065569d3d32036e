"""One exchange as the reports show it: the request, then the response, as plain text (whoever
shows it escapes it)."""
from __future__ import annotations

import json

REQUEST_BODY_SHOWN = 600  # characters of a request body in an exchange


def exchange_text(ex: dict) -> str:
    first = ex.get("retried_after")
    if first:  # both attempts: the one refused for its DPoP nonce, then the retry with the fresh nonce
        return (f"(first attempt, refused for its DPoP nonce)\n{exchange_text(first)}\n\n"
                f"(sent again with the target's fresh DPoP-Nonce)\n{_plain_exchange(ex)}")
    return _plain_exchange(ex)


def _plain_exchange(ex: dict) -> str:
    lines = [f"> {ex['method']} {ex['url']}"]
    lines += [f"> {k}: {v}" for k, v in ex["request_headers"]]
    body = ex.get("request_body")
    if body is not None:  # a raw (malformed) body is its text already; a JSON body is shown as JSON
        text = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)) or "(empty body)"
        lines.append(f"> {text[:REQUEST_BODY_SHOWN]}" + (" …(cut)" if len(text) > REQUEST_BODY_SHOWN else ""))
    if ex["error"]:
        lines.append(f"< (no response: {ex['error']})")
    else:
        lines.append(f"< {ex['status']}")
        lines += [f"< {k}: {v}" for k, v in ex["response_headers"]]
        lines.append(f"< {ex['body']}" + (" …(cut)" if ex["body_truncated"] else ""))
        if ex.get("body_note"):
            lines.append(f"< ({ex['body_note']})")
    return "\n".join(lines)

"""Malformed requests (profile §7), built without I/O: a valid JSON body changed in one way (its
text broken, not UTF-8, a member of the wrong type or missing, another Content-Type), and junk
Authorization header values.

The spec names the fixed variants (spec.requests), the wire sends the bytes (wire.client), and the
fuzz strategies draw changes of their own (dpop.malformed_strategies): all through `BodyChange`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON_MEDIA_TYPE = "application/json"
# Appended to a string member's value and encoded with surrogateescape: the bytes FF FE, which no
# UTF-8 text contains (RFC 3629 §1), inside an otherwise valid JSON string.
NOT_UTF8 = "\udcff\udcfe"


@dataclass(frozen=True)
class RawBody:
    """A request body as sent: the bytes, the Content-Type (None: no such header) and the valid
    JSON body it was made from, whose secrets (the agent key) are blanked wherever it is shown."""

    content: bytes
    content_type: str | None = JSON_MEDIA_TYPE
    source: Any = None


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()  # a member value that removes the member


@dataclass(frozen=True)
class BodyChange:
    """How a malformed body differs from the endpoint's valid one, applied in this order: members
    set (or removed with DROP), the whole body replaced by another JSON value (`replace`, a
    1-tuple so that null can be the value), bytes that are not UTF-8 in a member's string value,
    the text (`json`, `truncated`: without its last character, `empty`: no bytes at all), and
    the Content-Type sent."""

    members: tuple[tuple[str, Any], ...] = ()
    replace: tuple[Any] | None = None
    not_utf8: str | None = None  # the member whose string value gets NOT_UTF8 appended
    text: str = "json"  # json | truncated | empty
    content_type: str | None = JSON_MEDIA_TYPE

    def apply(self, body: dict) -> RawBody:
        changed: Any = dict(body)
        for name, value in self.members:
            if value is DROP:
                changed.pop(name, None)
            else:
                changed[name] = value
        if self.replace is not None:
            changed = self.replace[0]
        if self.not_utf8 is not None and isinstance(changed, dict):
            value = changed.get(self.not_utf8)
            changed[self.not_utf8] = (value if isinstance(value, str) else "") + NOT_UTF8
        text = json.dumps(changed, ensure_ascii=False)
        content = text.encode("utf-8", "surrogateescape")  # NOT_UTF8 becomes the raw bytes FF FE
        if self.text == "truncated":
            content = content[:-1]
        elif self.text == "empty":
            content = b""
        return RawBody(content, self.content_type, body)

    def describe(self) -> str:
        """One line: what is malformed about the body."""
        parts = []
        for name, value in self.members:
            parts.append(f"{name} removed" if value is DROP else f"{name}={_short(value)}")
        if self.replace is not None:
            parts.append(f"the body is {_short(self.replace[0])}")
        if self.not_utf8 is not None:
            parts.append(f"bytes FF FE (not UTF-8) in {self.not_utf8}")
        if self.text != "json":
            parts.append({"truncated": "the JSON text without its last character", "empty": "no body bytes"}[self.text])
        if self.content_type != JSON_MEDIA_TYPE:
            parts.append(f"Content-Type {self.content_type!r}" if self.content_type is not None else "no Content-Type")
        return "; ".join(parts) or "(valid)"

    def size(self) -> int:
        """For shrinking: the bytes the changes bring."""
        return sum(len(name) + len(json.dumps(value, default=repr)) for name, value in self.members) + len(
            json.dumps(self.replace, default=repr)) + len(self.content_type or "")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} characters)"


# --- junk Authorization header values (profile §6: refused with 401 authentication-failed) -----

# What the suite's one client can send (wire.client, httpx over h11): header values are ASCII text;
# h11 refuses NUL, CR and LF anywhere and whitespace at either end, and httpx refuses characters
# beyond ASCII in a text value (obs-text bytes would need a bytes value, which the client's
# header lists do not carry). The other C0 controls (U+0001, U+001F, ...), DEL and the visible
# characters a token68 cannot have go through; the odd-characters value uses those.
ODD_CHARACTERS = '\x01\x7f"<>'
AUTH_JUNK = {
    "auth-unknown-scheme": "Token {token}",  # a scheme ARCP does not take, with the valid token
    "auth-empty": "",  # the header present with an empty value
    "auth-odd-chars": "Bearer {token}" + ODD_CHARACTERS,  # characters no token68 or JWT has
}


def junk_authorization(variant: str, token: str | None) -> str:
    """The Authorization value of a junk-header variant, made around the request's valid `token`."""
    return AUTH_JUNK[variant].format(token=token or "")

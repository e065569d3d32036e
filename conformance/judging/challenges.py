"""WWW-Authenticate challenges (RFC 9110 §11.6.1): no dependency parses them, so a small parser here."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN68 = r"[A-Za-z0-9\-._~+/]+=*"
_QUOTED = r'"(?:[^"\\]|\\.)*"'


@dataclass
class Challenge:
    scheme: str
    params: dict[str, str] = field(default_factory=dict)
    token68: str | None = None


_SEPARATORS = re.compile(r"[\s,]*")
_PARAM = re.compile(rf"({_TOKEN})\s*=\s*({_TOKEN}|{_QUOTED})")
_SCHEME = re.compile(rf"({_TOKEN})(?:\s+({_TOKEN68})(?=\s*(?:,|$)))?")


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse every WWW-Authenticate field value into challenges. Unparseable tails are dropped."""
    out: list[Challenge] = []
    for text in values:
        pos = 0
        current: Challenge | None = None
        while pos < len(text):
            pos = _SEPARATORS.match(text, pos).end()
            if pos >= len(text):
                break
            param = _PARAM.match(text, pos)
            if current is not None and param:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current.params[param.group(1).lower()] = raw
                pos = param.end()
                continue
            scheme = _SCHEME.match(text, pos)
            if not scheme:
                break
            current = Challenge(scheme.group(1), token68=scheme.group(2))
            out.append(current)
            pos = scheme.end()
    return out


def challenges_of(headers: list[tuple[str, str]]) -> list[Challenge]:
    return parse_challenges([v for k, v in headers if k.lower() == "www-authenticate"])

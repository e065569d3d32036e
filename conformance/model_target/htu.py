"""RFC 3986 §6.2.2 / §6.2.3 normalization of the URIs a DPoP proof's htu is compared with."""
from __future__ import annotations

import re
import string
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def normalize_uri(url: str, *, keep_query: bool = False) -> str:
    """Scheme and host lower-cased, default port dropped, percent-encoding normalized, dot
    segments removed, empty path "/". Query and fragment are dropped unless `keep_query`.
    Raises ValueError for what is not an absolute http(s) URI."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URI: {url!r}")
    port = parts.port  # ValueError when not a number in range
    host = parts.hostname  # lower-cased, IPv6 brackets removed
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        netloc = f"{_percent(userinfo)}@{netloc}"
    path = remove_dot_segments(_percent(parts.path)) or "/"
    query, fragment = (_percent(parts.query), _percent(parts.fragment)) if keep_query else ("", "")
    return urlunsplit((scheme, netloc, path, query, fragment))


def _percent(text: str) -> str:
    """Decode percent-encoded unreserved characters, upper-case the hex of the rest (§6.2.2.2)."""

    def fix(match: re.Match) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(fix, text)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for the absolute paths of http(s) URIs."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." names the directory "/a/"
    return "/".join(out)

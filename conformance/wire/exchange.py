"""One request and its response, as recorded: what every judge reads and every report shows."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..dpop.json_text import read_json
from ..dpop.malformed import RawBody
from . import redact

DESCRIBED_BODY = 800  # characters of a body in a failure message
# Responses that decline to serve the request for now: they say nothing about the rule under test.
THROTTLE_STATUSES = (429, 503, 423)

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
    body_note: str | None = None  # what the suite could not decode of the body (wire.decoding), in words
    error: str | None = None
    received_at: float = 0.0  # epoch seconds when the response arrived
    attempts: int = 1
    sent: bool = True  # False: the client declined to send it (budget, deadline, a path given up); `error` says why
    timed_out: bool = False  # no complete response within the request timeout
    # The attempt before this one, refused for its DPoP nonce and so retried once with the target's
    # fresh DPoP-Nonce (wire.client): kept, so that the report shows both. None: not retried.
    retried_after: "Exchange | None" = None
    # A body sent as bytes (a malformed request): its Content-Type is among request_headers, and
    # request_json is None. Its `source`, the valid body it was made from, names its secrets.
    request_raw: RawBody | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status >= 400

    @property
    def throttled(self) -> bool:
        """Rate limited, locked out or unavailable (429, 503, 423, or a 403 with Retry-After, as a
        lockout may be): the target declined to judge the request, so it says nothing about a rule."""
        if self.status in THROTTLE_STATUSES:
            return True
        return self.status == 403 and self.header("retry-after") is not None

    def header(self, name: str) -> str | None:
        values = self.headers(name)
        return ", ".join(values) if values else None

    def headers(self, name: str) -> list[str]:
        return [v for k, v in self.response_headers if k.lower() == name.lower()]

    def json(self) -> object:
        try:
            return read_json(self.body_text)
        except ValueError:  # invalid, too deep or too long: not JSON the suite reads
            return None

    def json_member(self, name: str) -> object:
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def request_secrets(self) -> list[str]:
        """The request body's secret values (the agent key), to be blanked wherever they show."""
        return redact.request_secrets(self.request_raw.source if self.request_raw is not None else self.request_json)

    @property
    def path(self) -> str:
        """The request URL's path (no query: the suite sends none)."""
        return urlsplit(self.url).path

    def summary(self) -> str:
        """A short, secret-free line: method, path, status and the problem type if any."""
        if self.error:
            return f"{self.method} {self.path} -> {'no response' if self.sent else 'not sent'} ({self.error})"
        ptype = self.json_member("type")
        extra = f" type={ptype}" if isinstance(ptype, str) else ""
        return f"{self.method} {self.path} -> {self.status}{extra}"

    def describe(self) -> str:
        """Request and response for a failure message: tokens and proofs as their views (decoded
        header and claims plus a hash), request secrets blanked, control characters visible."""
        secrets = self.request_secrets()
        lines = [f"(retried once with the target's fresh DPoP-Nonce after {self.retried_after.summary()})"] if self.retried_after else []
        lines.append(f"> {self.method} {self.url}")
        for k, v in self.request_headers:
            lines.append(f"> {k}: {redact.redact_header(k, v, secrets)}")
        if self.error:
            lines.append(f"< ({'no response' if self.sent else 'not sent'}: {self.error})")
            return "\n".join(lines)
        lines.append(f"< {self.status}")
        for k, v in self.response_headers:
            if k.lower() in ("content-type", "www-authenticate", "cache-control", "pragma", "retry-after", "location", "dpop-nonce"):
                lines.append(f"< {k}: {redact.redact_text(v, secrets)}")
        body = redact.redact_text(self.body_text, secrets)  # before the cut: a cut token would not be recognised
        cut = len(body) > DESCRIBED_BODY or self.truncated
        lines.append(f"< {body[:DESCRIBED_BODY]}" + (" …(cut)" if cut else ""))
        if self.body_note:
            lines.append(f"< ({redact.redact_text(self.body_note, secrets)})")
        return redact.printable("\n".join(lines))


def redact_tokens(text: str) -> str:
    """`text` as the console may show it: tokens as their views (decoded header and claims plus a
    hash, conformance.wire.redact), control characters made visible."""
    return redact.printable(redact.redact_text(text))

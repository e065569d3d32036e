"""Malformed requests at the endpoints of profile §3, and what profile §6 and §7 expect of them.

Pure data: a MalformedCase names an endpoint and a variant; everything else of its request is
valid (the token and proof the mode needs, the path), so the variant is its only defect. Body
variants go to the endpoints that take a body, junk Authorization headers to those that take a
token. Nothing here sends a request.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dpop.malformed import AUTH_JUNK, DROP, BodyChange
from .cases import OPERATIONS, REFRESH, Case, Expectation, expect

MALFORMED = "malformed"  # the first word of a malformed situation's id: malformed:validate:not-json
PHASE1 = "phase1"  # POST the temp-token request (no token: the agent key is in the body)
POLL = "poll"  # GET phase 2's validation status (bearer only)
# Far beyond any documented limit of an ARCP member (agent_id: 64 at phase 2, 100 at phases 1 and
# 3), and a body of about 40 KB: well under upstream's 10 MB and the suite's 64 KB.
OVERSIZED = 40_000

# Members a conformant target cannot do without (upstream 2.1.2's request models: phase 2's
# communication_mode and version are optional there; a metrics report is any JSON object).
REQUIRED_MEMBERS = {
    PHASE1: ("agent_id", "agent_type", "agent_key"),
    "validate": ("agent_id", "agent_type", "endpoint", "capabilities"),
    "register": ("name", "agent_id", "agent_type", "endpoint", "context_brief", "capabilities", "owner",
                 "public_key", "metadata", "version", "communication_mode"),
    "metrics-post": (),
}


def _body_variants(wrong_type: BodyChange, missing: BodyChange | None, text_member: str | None, oversized: str | None) -> dict[str, BodyChange]:
    variants = {
        "not-json": BodyChange(text="truncated"),
        "text-plain": BodyChange(content_type="text/plain"),  # the valid JSON text, as another media type
        "form-urlencoded": BodyChange(content_type="application/x-www-form-urlencoded"),
        "wrong-type": wrong_type,
        "missing-member": missing,
        "empty-body": BodyChange(text="empty"),
        "not-utf8": BodyChange(not_utf8=text_member) if text_member else BodyChange(members=(("unit", "ms"),), not_utf8="unit"),
        "oversized": BodyChange(members=((oversized, "a" * OVERSIZED),)) if oversized else None,
    }
    return {name: change for name, change in variants.items() if change is not None}


# endpoint -> variant -> how its body is malformed. The agent key is never changed at phase 1 (a
# wrong one counts three failed attempts on upstream); a metrics report has no required member
# and no documented limit, so it has no missing-member or oversized variant.
BODY_VARIANTS: dict[str, dict[str, BodyChange]] = {
    PHASE1: _body_variants(BodyChange(members=(("agent_id", ["arcp-conformance"]),)), BodyChange(members=(("agent_type", DROP),)),
                           "agent_id", "agent_id"),
    "validate": _body_variants(BodyChange(members=(("capabilities", "conformance-check"),)), BodyChange(members=(("endpoint", DROP),)),
                               "version", "agent_id"),
    "register": _body_variants(BodyChange(members=(("metadata", "created by arcp-conformance"),)), BodyChange(members=(("capabilities", DROP),)),
                               "context_brief", "agent_id"),
    "metrics-post": _body_variants(BodyChange(replace=([{"avg_response_time": 0.05}],)), None, None, None),
}
# Phase 1 is slow and counts failed attempts per client IP on upstream: four variants, sent at once.
PHASE1_VARIANTS = ("not-json", "text-plain", "wrong-type", "missing-member")
BODY_VARIANTS[PHASE1] = {name: BODY_VARIANTS[PHASE1][name] for name in PHASE1_VARIANTS}

# The endpoints that take a token, in the order their situations run (unregister last: it ends the agent).
TOKEN_ENDPOINTS = ("validate", POLL, "register", *OPERATIONS[:-1], REFRESH, OPERATIONS[-1])
ENDPOINT_TEXT = {
    PHASE1: "POST phase 1 (request_temp_token)",
    "validate": "POST phase 2 (validate_compliance)",
    POLL: "GET phase 2's validation status",
    "register": "POST phase 3 (register)",
    "heartbeat": "POST the agent's heartbeat",
    "metrics-post": "POST the agent's metrics",
    "metrics-get": "GET the agent's metrics",
    "agent-info": "GET the agent's record",
    "unregister": "DELETE the agent (unregister)",
    REFRESH: "POST /tokens/refresh",
}
AUTH_TEXT = {
    "auth-unknown-scheme": "Authorization: Token <the valid token> (a scheme ARCP does not take)",
    "auth-empty": "an Authorization header with an empty value",
    "auth-odd-chars": "Authorization: Bearer <the valid token> followed by characters no token has (U+0001, DEL, \", <, >)",
}


@dataclass(frozen=True)
class MalformedCase:
    endpoint: str  # PHASE1, POLL or an endpoint of spec.cases.ENDPOINTS
    variant: str  # a body variant (BODY_VARIANTS) or a junk Authorization header (dpop.malformed.AUTH_JUNK)

    @property
    def id(self) -> str:
        return f"{MALFORMED}:{self.endpoint}:{self.variant}"

    @property
    def junk_auth(self) -> bool:
        return self.variant in AUTH_JUNK

    @property
    def body_change(self) -> BodyChange:
        return BODY_VARIANTS[self.endpoint][self.variant]

    def describe(self) -> str:
        """In words: the request and what is malformed about it."""
        what = AUTH_TEXT[self.variant] if self.junk_auth else f"a body with {self.body_change.describe()}"
        rest = {PHASE1: "the agent key and a DPoP proof by key A", POLL: "the path of the main flow's validation"}.get(
            self.endpoint, "the token and DPoP proof the mode needs")
        return f"{ENDPOINT_TEXT[self.endpoint]} with {what}; everything else valid ({rest})"


def malformed_cases() -> list[MalformedCase]:
    """Every malformed situation: the bodies at the endpoints that take one, then the junk
    Authorization headers at those that take a token (the same in every mode)."""
    bodies = [MalformedCase(endpoint, variant) for endpoint, variants in BODY_VARIANTS.items() for variant in variants]
    return bodies + [MalformedCase(endpoint, variant) for endpoint in TOKEN_ENDPOINTS for variant in AUTH_JUNK]


def expect_malformed(case: MalformedCase) -> Expectation:
    if case.junk_auth:
        # Odd characters after the token may be read as a malformed token (token-invalid, §6) as
        # well as a malformed header (authentication-failed): both name the failure.
        types = ("authentication-failed", "token-invalid") if case.variant == "auth-odd-chars" else ("authentication-failed",)
        return Expectation("TOKEN-malformed-auth", False, (401,), types, "BIND-problem-type")
    return Expectation("PROBLEM-malformed-refused", False, ())  # any 4xx: the catalogue has several fitting types


def expectation(case: Case | MalformedCase, mode: str) -> Expectation:
    """What `mode` expects of a situation, a token × proof one or a malformed request."""
    return expect_malformed(case) if isinstance(case, MalformedCase) else expect(case, mode)


def situation_of(subject: str) -> Case | MalformedCase:
    """The situation a check's subject names: malformed:ENDPOINT:VARIANT or ENDPOINT:TOKEN:PROOF."""
    first, _, rest = subject.partition(":")
    if first == MALFORMED:
        return MalformedCase(*rest.split(":", 1))
    return Case(*subject.split(":"))

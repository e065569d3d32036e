"""The situations the suite puts a target in, and what profile §6 expects of each, per DPoP mode.

Pure data and logic: a Case names an endpoint, a token kind and a proof variant; `expect`
gives the Expectation for a mode. Nothing here sends a request.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dpop.proofs import CONTROLS, DEFECTS
from .catalogue import requirement
from .vocabulary import MODES

PHASES = ("validate", "register")  # phase 2 with a temp token, phase 3 with a validated token
# The agent operations of profile §3, where access tokens are used (RFC 9449 §7): unregister last,
# since it ends the agent.
OPERATIONS = ("heartbeat", "metrics-post", "metrics-get", "agent-info", "unregister")
REFRESH = "refresh"  # POST /tokens/refresh with an access token: a few situations, not the whole matrix
ENDPOINTS = (*PHASES, *OPERATIONS, REFRESH)
# Endpoints a conformant target may lack (profile §3): their checks are then not applicable.
OPTIONAL_ENDPOINTS = (*OPERATIONS, REFRESH)
# Where a proof's first use consumes nothing, so a replay can be judged: a validated token is
# single use, and an accepted unregister ends the agent the replay would need.
REPLAYABLE = ("validate", *OPERATIONS[:-1])

DPOP_ERROR = "invalid_dpop_proof"
TOKEN_ERROR = "invalid_token"
NONCE_ERROR = "use_dpop_nonce"  # RFC 9449 §8, §9: the proof lacks the nonce the target gave
EITHER_ERROR = (DPOP_ERROR, TOKEN_ERROR)
NO_ERROR = ()  # no credentials were sent: the challenge carries no error


# Which requirement each named proof defect breaks when a target accepts it (dpop.proofs.DEFECTS),
# and which requirement says each positive control (an odd but valid proof, dpop.proofs.CONTROLS) is accepted.
DEFECT_REQUIREMENTS = {
    "two-headers": "PROOF-single-header",
    "jti-missing": "PROOF-claims-missing",
    "htm-missing": "PROOF-claims-missing",
    "htu-missing": "PROOF-claims-missing",
    "iat-missing": "PROOF-claims-missing",
    "typ-missing": "PROOF-typ",
    "typ-wrong": "PROOF-typ",
    "alg-none": "PROOF-alg",
    "alg-hs256": "PROOF-alg",
    "signature-bad": "PROOF-signature",
    "signature-other-key": "PROOF-signature",
    "jwk-private": "PROOF-jwk-private",
    "htm-wrong": "PROOF-htm-mismatch",
    "htm-lowercase": "PROOF-htm-mismatch",
    "htu-path": "PROOF-htu-mismatch",
    "htu-path-case": "PROOF-htu-mismatch",
    "htu-host": "PROOF-htu-mismatch",
    "htu-scheme": "PROOF-htu-mismatch",
    "htu-port": "PROOF-htu-mismatch",
    "iat-old": "PROOF-iat-old",
    "iat-future": "PROOF-iat-future",
    "ath-wrong": "PROOF-ath-wrong",
    "ath-missing": "PROOF-ath-missing",
    "crit-unknown": "PROOF-crit-unknown",
    "kid-instead": "PROOF-key-reference",
    "jku-instead": "PROOF-key-reference",
    "x5u-instead": "PROOF-key-reference",
    "x5c-instead": "PROOF-key-reference",
    "exp-past": "PROOF-exp-past",
    "nbf-future": "PROOF-nbf-future",
    "jwk-x25519": "PROOF-jwk-fit",
    "jwk-x448": "PROOF-jwk-fit",
    "jwk-crv-unknown": "PROOF-jwk-fit",
    "jwk-curve-mismatch": "PROOF-jwk-fit",
    "jwk-rsa-for-ec": "PROOF-jwk-fit",
    "jwk-rsa-short": "PROOF-jwk-rsa-short",
}
# The proofs that name a key URL (jku, x5u) on the suite's agent endpoint: whether the target
# requests it is judged too (profile §5, RFC 8725 §3.10).
KEY_URL_PROOFS = tuple(name for name, defect in DEFECTS.items() if defect.key_url_serves)
KEY_URL_REQUIREMENT = "PROOF-key-url-not-fetched"
CONTROL_REQUIREMENTS = {
    "htu-with-query": "PROOF-htu-query-ignored",
    "unknown-header": "PROOF-unknown-header-ignored",
    "htu-unnormalized": "PROOF-htu-normalized",
}


# Proofs that ignore the target's DPoP-Nonce (RFC 9449 §4.3 (10)), judged only where the target
# gives nonces: not proofs.DEFECTS, which are defects on any target (the fuzzers combine those).
# name -> (requirement, what the proof carries)
NONCE_PROOFS = {
    "nonce-missing": ("PROOF-nonce-missing", "no nonce claim, although the target gave a DPoP-Nonce"),
    "nonce-unknown": ("PROOF-nonce-unknown", "a nonce claim the target never gave (made up by the suite)"),
}


# Phase 2 with a body naming key B's thumbprint (profile §6: a token is bound to the key of the
# proof the server verified, and to nothing a request says): variant -> (the body member that
# names B, whether the request carries a valid proof by key A). dpop_jkt is upstream's member.
BODY_BINDINGS = {
    "dpop_jkt": ("dpop_jkt", True),
    "cnf": ("cnf", True),
    "jkt": ("jkt", True),
    "dpop_jkt-noproof": ("dpop_jkt", False),
}


def body_members(variant: str, jkt: str) -> dict:
    """The phase-2 body members of a BODY_BINDINGS variant, naming the thumbprint `jkt`."""
    member = BODY_BINDINGS[variant][0]
    return {"cnf": {"jkt": jkt}} if member == "cnf" else {member: jkt}


# Tokens that are not what the target signed (profile §6), each refused with 401 token-invalid at
# every endpoint that takes a token. All but `expired` (forged with the signing secret) and
# `malformed` (a fixed string) are made without the secret from a token the target issued for the
# endpoint (dpop.tokens): its signature altered; its header saying alg none with the signature
# removed; its header naming another HMAC size; its contents with another issued token's signature.
TAMPERED_TOKENS = ("bad-signature", "alg-none", "alg-hmac-other", "signature-other")
INVALID_TOKENS = ("expired", *TAMPERED_TOKENS, "malformed")
# The requirement an invalid token's refusal is judged under (TOKEN-invalid for the others).
INVALID_TOKEN_REQUIREMENTS = {"alg-none": "TOKEN-alg-none"}


def defect_requirements() -> dict[str, str]:
    """Defect or control name -> its requirement."""
    return {**DEFECT_REQUIREMENTS, **CONTROL_REQUIREMENTS}


@dataclass(frozen=True)
class Case:
    endpoint: str
    token: str  # bound | unbound | legacy | mismatched | missing | wrong-phase | one of INVALID_TOKENS
    proof: str  # valid | none | replay | dpop-scheme | a defect or control name

    @property
    def id(self) -> str:
        return f"{self.endpoint}:{self.token}:{self.proof}"


@dataclass(frozen=True)
class Expectation:
    requirement: str  # the requirement the status outcome is judged under
    accept: bool  # 2xx expected; otherwise a refusal
    statuses: tuple[int, ...] = (401,)  # for refusals; () = any 4xx
    types: tuple[str, ...] = ()  # problem type slugs allowed for the refusal
    type_requirement: str | None = None
    challenge_errors: tuple[str, ...] | None = None  # allowed `error` values; NO_ERROR = none; None = not judged
    dpop_failure: bool = False  # a DPoP failure: the 401 should carry a DPoP challenge with algs
    nonce_refusal: bool = False  # refused for its nonce: the refusal asks for one (use_dpop_nonce, DPoP-Nonce)


# The refresh situations per mode: the defect-free refresh first (the claims it keeps, the
# refreshed token at work), in required mode the two a bound token must be refused in, and in
# every mode the invalid tokens (refresh takes a token like any other endpoint).
_INVALID_AT_REFRESH = tuple((token, "valid") for token in INVALID_TOKENS)
REFRESH_CASES = {
    "required": (("bound", "valid"), ("bound", "none"), ("mismatched", "valid"), *_INVALID_AT_REFRESH),
    "optional": (("bound", "valid"), *_INVALID_AT_REFRESH),
    "disabled": (("unbound", "none"), *_INVALID_AT_REFRESH),
}


def cases_for(mode: str) -> list[Case]:
    out: list[Case] = []
    for endpoint in (*PHASES, *OPERATIONS):
        if mode != "disabled":
            proofs = ["valid", "none", *DEFECTS, *CONTROLS, "dpop-scheme", *NONCE_PROOFS]
            if endpoint in REPLAYABLE:
                proofs.append("replay")
            out += [Case(endpoint, "bound", p) for p in proofs]
            out.append(Case(endpoint, "mismatched", "valid"))
        for token in ("unbound", "legacy"):
            out += [Case(endpoint, token, p) for p in ("valid", "none", "htm-wrong")]
        out += [Case(endpoint, t, "valid") for t in (*INVALID_TOKENS, "wrong-phase")]
        out.append(Case(endpoint, "missing", "none"))
    out += [Case(REFRESH, token, proof) for token, proof in REFRESH_CASES[mode]]
    return out


def expect(case: Case, mode: str) -> Expectation:
    if mode not in MODES:
        raise ValueError(f"unknown DPoP mode {mode!r}")
    token, proof = case.token, case.proof
    if case.endpoint == REFRESH and (token, proof) in (("bound", "none"), ("mismatched", "valid")):
        slug = "dpop-required" if proof == "none" else "dpop-binding-mismatch"
        errors = EITHER_ERROR if proof == "none" else (TOKEN_ERROR,)
        return Expectation("ISSUE-refresh-proof-required", False, (401,), (slug,), "BIND-problem-type", errors, True)
    if token in INVALID_TOKENS:
        types = ("token-invalid", "authentication-failed") if token == "expired" else ("token-invalid",)
        req = INVALID_TOKEN_REQUIREMENTS.get(token, "TOKEN-invalid")
        return Expectation(req, False, (401,), types, "BIND-problem-type", (TOKEN_ERROR,))
    if token == "missing":
        return Expectation("TOKEN-missing-auth", False, (401,), ("authentication-failed",), "BIND-problem-type", NO_ERROR)
    if token == "wrong-phase":
        return Expectation("TOKEN-wrong-phase-refused", False, (), ("token-invalid",), None, None)
    if mode == "disabled":
        return Expectation("BIND-disabled-ignored", True)
    if token in ("unbound", "legacy"):
        return _unbound(proof, mode)
    if token == "mismatched":
        return Expectation("BIND-mismatch", False, (401,), ("dpop-binding-mismatch",), "BIND-problem-type", (TOKEN_ERROR,), True)
    return _bound(proof, mode)


def _bound(proof: str, mode: str) -> Expectation:
    if proof == "valid":
        return Expectation("BIND-bound-valid", True)
    if proof == "dpop-scheme":
        return Expectation("BIND-dpop-scheme", True)
    if proof == "none":
        if mode == "required":
            return Expectation("BIND-bound-noproof", False, (401,), ("dpop-required",), "BIND-problem-type", EITHER_ERROR, True)
        # optional mode: the refusal is a MUST (RFC 9449 §7.2), its 401 dpop-required a SHOULD
        return Expectation("BIND-bound-noproof", False, (), ("dpop-required",), "BIND-advisory-type", EITHER_ERROR, True)
    if proof == "replay":
        # a target whose nonces are single use may refuse the replay for its nonce
        return Expectation("PROOF-replay", False, (401,), ("dpop-invalid",), "BIND-problem-type", (DPOP_ERROR, NONCE_ERROR), True)
    if proof in NONCE_PROOFS:
        # the catalogue has no nonce type: dpop-invalid is the closest (profile §7; the proof is invalid for this target)
        return Expectation(NONCE_PROOFS[proof][0], False, (401,), ("dpop-invalid",), "BIND-problem-type", (NONCE_ERROR,), True, True)
    req = defect_requirements()[proof]
    if proof in CONTROLS:
        return Expectation(req, True)
    type_req = "BIND-problem-type" if requirement(req).level == "MUST" else "BIND-advisory-type"
    return Expectation(req, False, (401,), ("dpop-invalid",), type_req, (DPOP_ERROR,), True)


def _unbound(proof: str, mode: str) -> Expectation:
    required = mode == "required"
    if proof == "valid":
        if required:
            return Expectation("BIND-unbound-proof-required", False, (401,), ("token-not-dpop-bound",), "BIND-problem-type", (TOKEN_ERROR,), True)
        return Expectation("BIND-unbound-proof-optional", True)
    if proof == "none":
        if required:
            return Expectation("BIND-unbound-noproof-required", False, (401,), ("dpop-required", "token-not-dpop-bound"), "BIND-problem-type", EITHER_ERROR, True)
        return Expectation("BIND-unbound-noproof-optional", True)
    if required:
        return Expectation("BIND-unbound-defect-required", False, (401,), ("dpop-invalid", "token-not-dpop-bound"), "BIND-problem-type", EITHER_ERROR, True)
    return Expectation("BIND-unbound-defect-optional", False, (401,), ("dpop-invalid",), "BIND-advisory-type", (DPOP_ERROR,), True)

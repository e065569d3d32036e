"""The situations the suite puts a target in, and what profile §6 expects of each, per DPoP mode.

Pure data and logic: a Case names an endpoint, a token kind and a proof variant; `expect`
gives the Expectation for a mode. Nothing here sends a request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from ..dpop.proofs import CONTROLS, DEFECTS
from .catalogue import VECTORS, requirement
from .vocabulary import MODES
ENDPOINTS = ("validate", "register")  # phase 2 with a temp token, phase 3 with a validated token

DPOP_ERROR = "invalid_dpop_proof"
TOKEN_ERROR = "invalid_token"
EITHER_ERROR = (DPOP_ERROR, TOKEN_ERROR)
NO_ERROR = ()  # no credentials were sent: the challenge carries no error


@lru_cache(maxsize=None)
def defect_requirements() -> dict[str, str]:
    data = json.loads((VECTORS / "defect-requirements.json").read_text(encoding="utf-8"))
    return {**data["defects"], **data["controls"]}


@dataclass(frozen=True)
class Case:
    endpoint: str
    token: str  # bound | unbound | legacy | mismatched | expired | bad-signature | malformed | missing | wrong-phase
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


def cases_for(mode: str) -> list[Case]:
    out: list[Case] = []
    for endpoint in ENDPOINTS:
        if mode != "disabled":
            proofs = ["valid", "none", *DEFECTS, *CONTROLS, "dpop-scheme"]
            if endpoint == "validate":
                proofs.append("replay")  # temp tokens are reusable; a validated token is single use
            out += [Case(endpoint, "bound", p) for p in proofs]
            out.append(Case(endpoint, "mismatched", "valid"))
        for token in ("unbound", "legacy"):
            out += [Case(endpoint, token, p) for p in ("valid", "none", "htm-wrong")]
        out += [Case(endpoint, t, "valid") for t in ("expired", "bad-signature", "malformed", "wrong-phase")]
        out.append(Case(endpoint, "missing", "none"))
    return out


def expect(case: Case, mode: str) -> Expectation:
    if mode not in MODES:
        raise ValueError(f"unknown DPoP mode {mode!r}")
    token, proof = case.token, case.proof
    if token in ("expired", "bad-signature", "malformed"):
        types = ("token-invalid", "authentication-failed") if token == "expired" else ("token-invalid",)
        return Expectation("TOKEN-6-invalid", False, (401,), types, "BIND-6-type", (TOKEN_ERROR,))
    if token == "missing":
        return Expectation("TOKEN-6-missing-auth", False, (401,), ("authentication-failed",), "BIND-6-type", NO_ERROR)
    if token == "wrong-phase":
        return Expectation("TOKEN-6-wrong-phase", False, (), ("token-invalid",), None, None)
    if mode == "disabled":
        return Expectation("BIND-6-disabled-ignored", True)
    if token in ("unbound", "legacy"):
        return _unbound(proof, mode)
    if token == "mismatched":
        return Expectation("BIND-6-mismatch", False, (401,), ("dpop-binding-mismatch",), "BIND-6-type", (TOKEN_ERROR,), True)
    return _bound(proof, mode)


def _bound(proof: str, mode: str) -> Expectation:
    if proof == "valid":
        return Expectation("BIND-6-bound-valid", True)
    if proof == "dpop-scheme":
        return Expectation("BIND-7.1-dpop-scheme", True)
    if proof == "none":
        if mode == "required":
            return Expectation("BIND-6-bound-noproof", False, (401,), ("dpop-required",), "BIND-6-type", EITHER_ERROR, True)
        # optional mode: the refusal is a MUST (RFC 9449 §7.2), its 401 dpop-required a SHOULD
        return Expectation("BIND-6-bound-noproof", False, (), ("dpop-required",), "BIND-6-type-advisory", EITHER_ERROR, True)
    if proof == "replay":
        return Expectation("DPOP-11.1-replay", False, (401,), ("dpop-invalid",), "BIND-6-type", (DPOP_ERROR,), True)
    req = defect_requirements()[proof]
    if proof in CONTROLS:
        return Expectation(req, True)
    type_req = "BIND-6-type" if requirement(req).level == "MUST" else "BIND-6-type-advisory"
    return Expectation(req, False, (401,), ("dpop-invalid",), type_req, (DPOP_ERROR,), True)


def _unbound(proof: str, mode: str) -> Expectation:
    required = mode == "required"
    if proof == "valid":
        if required:
            return Expectation("BIND-6-unbound-proof-required", False, (401,), ("token-not-dpop-bound",), "BIND-6-type", (TOKEN_ERROR,), True)
        return Expectation("BIND-6-unbound-proof-optional", True)
    if proof == "none":
        if required:
            return Expectation("BIND-6-unbound-noproof-required", False, (401,), ("dpop-required", "token-not-dpop-bound"), "BIND-6-type", EITHER_ERROR, True)
        return Expectation("BIND-6-unbound-noproof-optional", True)
    if required:
        return Expectation("BIND-6-unbound-defect-required", False, (401,), ("dpop-invalid", "token-not-dpop-bound"), "BIND-6-type", EITHER_ERROR, True)
    return Expectation("BIND-6-unbound-defect-optional", False, (401,), ("dpop-invalid",), "BIND-6-type-advisory", (DPOP_ERROR,), True)

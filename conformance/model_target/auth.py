"""Who may call a protected endpoint: the token, then the DPoP proof (profile §6 decision order).

Order: Authorization header -> token (signature, expiry, shape) -> token phase -> (disabled
mode stops here: bearer semantics) -> number of DPoP fields -> proof -> binding.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from .config import ModelConfig
from .dpop import ProofChecker, ProofError
from .problems import NONCE_ERROR, PROOF_ERROR, TOKEN_ERROR, MalformedRequest, Problem
from .tokens import Tokens

SCHEMES = ("bearer", "dpop")
TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 9110 §11.4: the credentials of both schemes


def nonce_error(config: ModelConfig) -> str:
    """The error of a refusal for the proof's nonce (the catalogue has no nonce type: it is a dpop-invalid)."""
    return PROOF_ERROR if config.has("nonce-refusal-bare") else NONCE_ERROR


@dataclass(frozen=True)
class Caller:
    claims: dict
    token: str
    jkt: str | None  # the key the token is bound to, if any

    @property
    def agent_id(self) -> str:
        return self.claims["agent_id"]


def presented_token(config: ModelConfig, request: Request) -> str:
    """The token of `Authorization: Bearer|DPoP <token>`; 401 authentication-failed otherwise."""
    value = request.headers.get("authorization")
    if value is None:
        status = 403 if config.has("missing-auth-403") else 401
        raise Problem("authentication-failed", "no Authorization header", status=status)
    scheme, _, token = value.strip().partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if config.has("any-auth-scheme") and token:
        scheme = "bearer"  # the fault: whatever the scheme says, the rest is taken for the token
    if scheme not in SCHEMES or not TOKEN68.fullmatch(token):
        raise MalformedRequest("authorization", "authentication-failed", "Authorization must be 'Bearer <token>' or 'DPoP <token>'",
                               error=TOKEN_ERROR)
    if scheme == "dpop" and config.has("refuse-dpop-scheme"):
        raise Problem("authentication-failed", "the DPoP authorization scheme is not supported", error=TOKEN_ERROR)
    return token


class Guard:
    def __init__(self, config: ModelConfig, tokens: Tokens, proofs: ProofChecker, public_url):
        self.config = config
        self.tokens = tokens
        self.proofs = proofs
        self.public_url = public_url  # callable: the server's own URL, never taken from the request

    def request_url(self, request: Request) -> str:
        """The URI a proof's htu must name: the configured public URL plus the request path."""
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        return self.public_url().rstrip("/") + raw_path.decode("latin-1").split("?", 1)[0]

    def bearer_only(self, request: Request, kind: str) -> Caller:
        """The phase-2 poll: the token alone decides; a DPoP header there is ignored in every mode."""
        token = presented_token(self.config, request)
        claims, jkt = self.tokens.verify(token, kind)
        return Caller(claims, token, jkt)

    def protected(self, request: Request, kind: str, *, operation: bool = False, proof_checked: bool = True) -> Caller:
        """The caller of a DPoP-protected endpoint taking a `kind` token; `operation`: an agent
        operation (some faults apply there only); `proof_checked` False: a fault skips DPoP here."""
        caller = self.bearer_only(request, kind)
        proofs = request.headers.getlist("dpop")
        if operation and self.config.has("operations-skip-dpop") or not proof_checked:
            return caller  # the fault: the token alone decides (as at upstream 2.1.2's operations)
        if self.config.dpop:
            self._check_dpop(request, caller, proofs, kind, operation)
        elif proofs and self.config.has("disabled-checks-proofs"):
            self._checked(request, proofs[0], caller.token)
        return caller

    def _checked(self, request: Request, proof: str, token: str | None, operation: bool = False) -> str:
        """The proof's key thumbprint; 401 dpop-invalid if any §5 check fails."""
        try:
            return self.proofs.check(proof, request.method, self.request_url(request), token, operation=operation)
        except ProofError as exc:
            if exc.rule == "nonce":  # RFC 9449 §9: 401 with error=use_dpop_nonce; the app adds the fresh DPoP-Nonce
                raise Problem("dpop-invalid", str(exc), error=nonce_error(self.config)) from None
            slug = "authentication-failed" if exc.rule == "iat-future" and self.config.has("future-iat-type") else "dpop-invalid"
            raise Problem(slug, str(exc), error=PROOF_ERROR) from None

    def _check_dpop(self, request: Request, caller: Caller, proofs: list[str], kind: str, operation: bool) -> None:
        cfg = self.config
        if len(proofs) > 1 and not cfg.has("accept-two-headers"):
            raise Problem("dpop-invalid", "more than one DPoP header field", error=PROOF_ERROR)
        if caller.jkt is None:
            self._check_unbound(request, caller, proofs[0] if proofs else None, operation)
        else:
            self._check_bound(request, caller, proofs[0] if proofs else None, kind, operation)

    def _check_bound(self, request: Request, caller: Caller, proof: str | None, kind: str, operation: bool) -> None:
        cfg = self.config
        if proof is None:
            if cfg.has("bound-noproof-accepted"):
                return
            if cfg.mode == "optional" and cfg.has("optional-noproof-type"):
                raise Problem("token-invalid", "a DPoP-bound token needs a proof", error=TOKEN_ERROR)
            raise Problem("dpop-required", "a DPoP-bound token needs a DPoP proof", error=TOKEN_ERROR)
        jkt = self._checked(request, proof, caller.token, operation)
        if kind == "validated" and cfg.has("bound-refused-at-register"):
            raise Problem("dpop-binding-mismatch", "phase 3 refuses every bound token", error=TOKEN_ERROR)
        compared = not cfg.has("skip-binding-compare") and not (operation and cfg.has("operations-skip-binding"))
        if jkt != caller.jkt and compared:
            raise Problem("dpop-binding-mismatch", "the proof's key is not the key the token is bound to", error=TOKEN_ERROR)

    def _check_unbound(self, request: Request, caller: Caller, proof: str | None, operation: bool) -> None:
        cfg = self.config
        required = cfg.mode == "required"
        if proof is None:
            if required and not cfg.has("accept-unbound-noproof-required"):
                raise Problem("dpop-required", "DPoP is required: send a DPoP-bound token and a proof", error=TOKEN_ERROR)
            if not required and cfg.has("refuse-unbound-noproof-optional"):
                raise Problem("dpop-required", "a DPoP proof is required", error=TOKEN_ERROR)
            return
        try:
            self._checked(request, proof, caller.token, operation)
        except Problem:
            if cfg.has("accept-unbound-defect-required" if required else "ignore-defects-unbound-optional"):
                return
            raise
        if required and not cfg.has("accept-unbound-required"):
            raise Problem("token-not-dpop-bound", "DPoP is required, and this token is not DPoP-bound", error=TOKEN_ERROR)
        if not required and cfg.has("refuse-unbound-optional"):
            raise Problem("token-not-dpop-bound", "this token is not DPoP-bound", error=TOKEN_ERROR)

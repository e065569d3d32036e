"""The model's three tokens (profile §4): HS256 JWTs, the binding carried in cnf.jkt.

The suite forges variants of these tokens with the same secret, so a token is accepted on its
signature and claims alone; the server keeps no record of token ids (only of consumed
validation ids, at phase 3).
"""
from __future__ import annotations

import json
import time
import uuid

import jwt
from jwt.utils import base64url_decode, base64url_encode

from .config import ModelConfig
from .problems import TOKEN_ERROR, Problem

AUDIENCES = {"temp": "arcp:validate", "validated": "arcp:register", "access": "arcp:operations"}
# Where a fault drops cnf from an issued token, the model still carries the binding in this
# private JWS header parameter, so that the fault breaks issuance only and not the flow. A
# forged copy (the suite re-signs claims with a fresh header) loses it, as a real unbound token would.
PRIVATE_BINDING_HEADER = "x-model-jkt"
NO_CNF_FAULT = {"temp": "temp-no-cnf", "validated": "validated-no-cnf", "access": "access-no-cnf"}


class Tokens:
    def __init__(self, config: ModelConfig):
        self.config = config
        self._issued_signatures: set[str] = set()  # kept for the token-issued-signature-trusted fault only

    def ttl(self, kind: str) -> int:
        return {"temp": self.config.temp_ttl, "validated": self.config.validated_ttl, "access": self.config.access_ttl}[kind]

    def issue(self, kind: str, agent_id: str, agent_type: str, jkt: str | None, *, foreign: bool = False,
              phase_claims: bool = True, **extra: object) -> str:
        """A `kind` token; `foreign`: signed with a secret this server does not verify with, and
        `phase_claims` False: without aud and token_type (faults' both)."""
        now = int(time.time())
        claims: dict = {
            "sub": agent_id,
            "agent_id": agent_id,
            "agent_type": agent_type,
            "role": "agent",
            "aud": AUDIENCES[kind],
            "token_type": kind,
            "iat": now,
            "exp": now + self.ttl(kind),
            "jti": str(uuid.uuid4()),
            **extra,
        }
        headers = {}
        if jkt is not None:
            if self.config.has(NO_CNF_FAULT[kind]):
                headers[PRIVATE_BINDING_HEADER] = jkt
            else:
                claims["cnf"] = {"jkt": jkt}
        if not phase_claims:
            del claims["aud"], claims["token_type"]
        if kind == "access" and self.config.has("access-no-aud"):
            del claims["aud"]
        if kind == "access" and self.config.has("access-no-token-type"):
            del claims["token_type"]
        secret = self.config.jwt_secret + ("-foreign" if foreign else "")
        token = jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)
        if self.config.has("token-issued-signature-trusted"):
            self._issued_signatures.add(token.rpartition(".")[2])
        return token

    def expires_in(self, kind: str) -> int:
        """The expires_in of a token response: the TTL, as the token's exp is iat + TTL."""
        return self.ttl(kind) + (600 if self.config.has("expires-in-wrong") else 0)

    def verify(self, token: str, kind: str) -> tuple[dict, str | None]:
        """(claims, bound jkt) of a token valid for the `kind` phase; else a 401 token-invalid."""
        header, claims = self._decode(token)
        self._check_phase(claims, kind)
        return claims, self._binding(header, claims)

    def _decode(self, token: str) -> tuple[dict, dict]:
        cfg = self.config
        options = {"verify_aud": False, "require": ["exp", "iat"], "verify_exp": not cfg.has("accept-expired")}
        try:
            header = jwt.get_unverified_header(token)
            claims = self._verified_claims(token, header, options)
        except jwt.ExpiredSignatureError:
            raise Problem("token-invalid", "the token has expired", error=TOKEN_ERROR) from None
        except jwt.InvalidSignatureError:
            raise self._invalid("the token's signature does not verify") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            if cfg.has("500-on-garbage-token"):
                raise Problem("internal-error", f"token parsing crashed: {type(exc).__name__}") from None
            raise self._invalid(f"the token is not a valid JWT ({type(exc).__name__})") from None
        if not isinstance(claims.get("agent_id"), str):
            raise self._invalid("the token names no agent")
        return header, claims

    def _verified_claims(self, token: str, header: dict, options: dict) -> dict:
        """The claims of a token signed HS256 with the model's secret, its header saying so; the
        token faults each trust a token without that check, as broken JWT code did."""
        cfg = self.config
        unverified = {**options, "verify_signature": False}
        if cfg.has("token-signature-unchecked"):
            return jwt.decode(token, options=unverified, leeway=cfg.clock_skew)
        if cfg.has("alg-none-token-accepted") and str(header.get("alg")).lower() == "none":
            return jwt.decode(token, options=unverified, leeway=cfg.clock_skew)  # an unsecured JWS, taken as it is
        if cfg.has("token-issued-signature-trusted") and token.rpartition(".")[2] in self._issued_signatures:
            return jwt.decode(token, options=unverified, leeway=cfg.clock_skew)  # a signature it knows, whatever it signs
        if cfg.has("token-header-alg-ignored"):
            token = _alg_overwritten(token, "HS256")  # its one algorithm, whatever the header says
        return jwt.decode(token, cfg.jwt_secret, algorithms=["HS256"], options=options, leeway=cfg.clock_skew)

    def _invalid(self, detail: str) -> Problem:
        slug = "authentication-failed" if self.config.has("wrong-problem-type") else "token-invalid"
        return Problem(slug, detail, error=TOKEN_ERROR)

    def _check_phase(self, claims: dict, kind: str) -> None:
        cfg = self.config
        if cfg.has("accept-wrong-phase"):
            return
        wanted = {"aud": AUDIENCES[kind], "token_type": kind}
        for name, value in wanted.items():
            if name not in claims and self._dropped_by_fault(kind, name):
                continue  # the fault drops the claim at issuance, not the model's own check
            if claims.get(name) != value:
                status = 403 if cfg.has("wrong-phase-403") else 401
                raise Problem("token-invalid", f"not a {kind} token ({name} {claims.get(name)!r})", status=status, error=TOKEN_ERROR)

    def _dropped_by_fault(self, kind: str, claim: str) -> bool:
        return kind == "access" and self.config.has(f"access-no-{claim.replace('_', '-')}")


    def _binding(self, header: dict, claims: dict) -> str | None:
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if jkt is None and any(self.config.has(fault) for fault in NO_CNF_FAULT.values()):
            jkt = header.get(PRIVATE_BINDING_HEADER)
        return jkt if isinstance(jkt, str) else None


def _alg_overwritten(token: str, alg: str) -> str:
    """The token with its header's alg set to `alg`, re-encoded compactly in the order it came."""
    head, _, rest = token.partition(".")
    header = json.loads(base64url_decode(head))
    if not isinstance(header, dict):
        raise ValueError("the token's header is not a JSON object")
    header["alg"] = alg
    return base64url_encode(json.dumps(header, separators=(",", ":")).encode()).decode() + "." + rest

"""ModelConfig: the model target's DPoP mode, its fault flags, secrets and lifetimes."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from ..spec.vocabulary import MODES
from .faults import FAULTS


# What each proof algorithm the model can accept needs of the proof's jwk (RFC 7518 §3.1-§3.5,
# RFC 8037 §3.1): alg -> (kty, crv); None: the kty has no crv. The model's own copy.
ALG_KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "EdDSA": ("OKP", "Ed25519"),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    **{f"{family}{bits}": ("RSA", None) for family in ("RS", "PS") for bits in (256, 384, 512)},
}


@dataclass(frozen=True)
class ModelConfig:
    mode: str
    faults: frozenset[str] = frozenset()
    agent_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    agent_types: tuple[str, ...] = ("testing", "automation")
    temp_ttl: int = 900
    validated_ttl: int = 300
    access_ttl: int = 3600
    proof_ttl: int = 120
    clock_skew: int = 60
    algs: tuple[str, ...] = ("EdDSA", "ES256")  # the proof algorithms listed and accepted
    nonce: bool = False  # issue DPoP-Nonce values and require the newest in proofs
    isolated: bool = False  # no agent endpoint is reachable: every phase-2 health check fails unsent
    latency_ms: int = 0  # every HTTP answer waits this long, as a network would (concurrent ones overlap)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown DPoP mode {self.mode!r}: expected one of {', '.join(MODES)}")
        object.__setattr__(self, "faults", frozenset(self.faults))
        object.__setattr__(self, "algs", tuple(self.algs))
        if self.latency_ms < 0:
            raise ValueError(f"the model's latency cannot be negative ({self.latency_ms} ms)")
        if not self.algs:
            raise ValueError("the model needs at least one proof algorithm")
        unknown = [alg for alg in self.algs if alg not in ALG_KEY_TYPES]
        if unknown:
            raise ValueError(f"the model cannot check proofs signed {', '.join(unknown)}: it knows {', '.join(ALG_KEY_TYPES)}")
        for name in sorted(self.faults):
            if name not in FAULTS:
                raise ValueError(f"unknown model fault {name!r}")
            if self.mode not in FAULTS[name].modes:
                raise ValueError(f"model fault {name!r} does not apply in {self.mode} mode (only {', '.join(FAULTS[name].modes)})")
            for option, value in FAULTS[name].options.items():
                if getattr(self, option) != value:
                    raise ValueError(f"model fault {name!r} needs the model option {option}={value}")

    def has(self, fault: str) -> bool:
        if fault not in FAULTS:  # a misspelt name in the model's code would never trigger
            raise KeyError(f"no model fault {fault!r} in the catalogue")
        return fault in self.faults

    @property
    def dpop(self) -> bool:
        return self.mode != "disabled"

    @property
    def issues_nonces(self) -> bool:
        """Does the model give DPoP-Nonce values and require them? Only where proofs are checked."""
        return self.nonce and self.dpop

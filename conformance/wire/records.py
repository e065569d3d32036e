"""What the session obtained for the judges: one situation's exchange, and the main flow's."""
from __future__ import annotations

from dataclasses import dataclass, field

from .exchange import Exchange


@dataclass
class CaseResult:
    exchange: Exchange | None = None
    reason: str = ""  # why there is no exchange (inconclusive)
    control_ok: bool = True  # the same endpoint accepted a defect-free request in this run
    forged: bool = False  # its token was forged with the target's signing secret
    presented: str | None = None  # the token the request presented (a refresh's judge compares it with the new one)
    follow_up: Exchange | None = None  # a refresh: the refreshed token at work (a heartbeat)


@dataclass
class Issuance:
    """What the main flow obtained: phase 1..3 with proofs by key A (thumbprint `jkt`)."""

    jkt: str
    phase1: Exchange | None = None
    phase1_defective: Exchange | None = None
    phase1_noproof: Exchange | None = None
    poll: Exchange | None = None
    register: Exchange | None = None
    reregister: Exchange | None = None
    unregistered: bool = False
    reasons: dict[str, str] = field(default_factory=dict)
    nonce_issued: bool = False  # the target gave a DPoP-Nonce during the flow: the nonce checks apply
    phase1_nonce: dict[str, Exchange] = field(default_factory=dict)  # nonce proof variant (spec.cases.NONCE_PROOFS) -> phase 1 with it

    def token(self, subject: str) -> str | None:
        source = {"temp": (self.phase1, "temp_token"), "validated": (self.poll, "validated_token"), "access": (self.register, "access_token")}[subject]
        ex, member = source
        value = ex.json_member(member) if ex is not None and ex.ok else None
        return value if isinstance(value, str) else None

    def exchange(self, subject: str) -> Exchange | None:
        if subject.startswith("phase1:"):  # phase1:nonce-missing, ...
            return self.phase1_nonce.get(subject.partition(":")[2])
        return {"phase1": self.phase1, "temp": self.phase1, "poll": self.poll, "validated": self.poll, "register": self.register, "access": self.register}[subject]

"""What the session obtained for the judges: one situation's exchange, and the main flow's."""
from __future__ import annotations

from dataclasses import dataclass, field

from .agent_endpoint import KeyFetch
from .exchange import Exchange


class NotApplicable(Exception):
    """A conformant target cannot be put in the situation: its checks are not applicable, not inconclusive."""


@dataclass
class CaseResult:
    exchange: Exchange | None = None
    reason: str = ""  # why there is no exchange (inconclusive, or not applicable where not_applicable)
    control_ok: bool = True  # the same endpoint accepted a defect-free request in this run
    forged: bool = False  # its token was forged with the target's signing secret
    presented: str | None = None  # the token the request presented (a refresh's judge compares it with the new one)
    follow_up: Exchange | None = None  # a refresh: the refreshed token at work (a heartbeat)
    not_applicable: bool = False  # no exchange because a conformant target cannot be put in the situation
    key_url: str | None = None  # the key URL its proof named (jku-instead, x5u-instead), on the agent endpoint
    key_fetches: tuple[KeyFetch, ...] | None = None  # the requests to key_url, once observed (None: not looked at)


@dataclass
class Issuance:
    """What the main flow obtained: phase 1..3 with proofs by key A (thumbprint `jkt`)."""

    jkt: str
    phase1: Exchange | None = None
    phase1_defective: Exchange | None = None
    phase1_noproof: Exchange | None = None
    validate: Exchange | None = None  # phase 2 (the poll follows)
    poll: Exchange | None = None
    register: Exchange | None = None
    reregister: Exchange | None = None
    unregistered: bool = False
    reasons: dict[str, str] = field(default_factory=dict)
    algs: dict[str, "AlgFlow"] = field(default_factory=dict)  # per proof algorithm, once the alg flows ran
    nonce_issued: bool = False  # the target gave a DPoP-Nonce during the flow: the nonce checks apply
    nonce_unknown: str = ""  # why the run cannot tell whether the target gives DPoP-Nonce values (nothing answered)
    phase1_nonce: dict[str, Exchange] = field(default_factory=dict)  # nonce proof variant (spec.cases.NONCE_PROOFS) -> phase 1 with it
    body_bindings: dict[str, "BodyBinding"] = field(default_factory=dict)  # spec.cases.BODY_BINDINGS variant -> its flow, once sent

    def token(self, subject: str) -> str | None:
        source = {"temp": (self.phase1, "temp_token"), "validated": (self.poll, "validated_token"), "access": (self.register, "access_token")}[subject]
        ex, member = source
        value = ex.json_member(member) if ex is not None and ex.ok else None
        return value if isinstance(value, str) else None

    def exchange(self, subject: str) -> Exchange | None:
        if subject.startswith("phase1:"):  # phase1:nonce-missing, ...
            return self.phase1_nonce.get(subject.partition(":")[2])
        return {"phase1": self.phase1, "temp": self.phase1, "poll": self.poll, "validated": self.poll, "register": self.register, "access": self.register}[subject]


# The steps of an algorithm's flow, in order, and the token each step issues.
ALG_STEPS = ("phase 1", "phase 2 validate", "phase 2 poll", "phase 3 register", "unregister")
STEP_TOKENS = {"phase 1": ("temp", "temp_token"), "phase 2 poll": ("validated", "validated_token"), "phase 3 register": ("access", "access_token")}


@dataclass
class AlgFlow:
    """One registration flow end to end (phase 1, 2, 3, unregister) with proofs by a fresh key
    of `alg` (thumbprint `jkt`), or why there is none. For the run's own proof algorithm, the
    main flow stands for it (`main`: no second flow is sent)."""

    alg: str
    listed: bool = True  # the target lists it (dpop_signing_alg_values_supported, else ARCP's default)
    main: bool = False
    jkt: str | None = None
    steps: list[tuple[str, Exchange]] = field(default_factory=list)  # as sent; the last may be the refused one
    reason: str = ""  # why the flow was not sent: nothing to do with the algorithm

    def exchange(self, step: str) -> Exchange | None:
        return next((ex for name, ex in self.steps if name == step), None)

    def token(self, step: str) -> str | None:
        ex = self.exchange(step)
        value = ex.json_member(STEP_TOKENS[step][1]) if ex is not None and ex.ok else None
        return value if isinstance(value, str) else None

    @property
    def exchanges(self) -> list[Exchange]:
        return [ex for _, ex in self.steps]


@dataclass
class BodyBinding:
    """Phase 2 with a body naming key B's thumbprint (spec.cases.BODY_BINDINGS), then, where it
    gave a validated token, phase 3 with a plain body: the tokens are judged for their cnf.jkt."""

    variant: str
    key_jkt: str  # the proving key A's thumbprint (what the tokens may be bound to)
    body_jkt: str  # key B's thumbprint, named by the body (what they must never be bound to)
    validate: Exchange | None = None
    poll: Exchange | None = None
    register: Exchange | None = None
    reason: str = ""  # why nothing was sent

    @property
    def exchanges(self) -> list[Exchange]:
        return [ex for ex in (self.validate, self.poll, self.register) if ex is not None]

    def tokens(self) -> dict[str, str]:
        """The tokens the flow was issued: {"validated": ..., "access": ...}, as far as it got."""
        out = {}
        for name, ex, member in (("validated", self.poll, "validated_token"), ("access", self.register, "access_token")):
            value = ex.json_member(member) if ex is not None and ex.ok else None
            if isinstance(value, str):
                out[name] = value
        return out

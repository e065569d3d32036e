"""The agents of the operation situations (profile §6 "Resource access", §3): the matrix at each
agent operation and the refresh act on agents the suite registers for them, one set that lives
through the run and one that an accepted unregister may end. A mixin of ConformanceSession: it
uses the session's flows, keys, forger and situations."""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..dpop.tokens import jkt_of
from ..spec.cases import OPTIONAL_ENDPOINTS, TAMPERED_TOKENS, Case
from .exchange import Exchange
from .flows import NO_PROOF, Identity, Proof
from .records import CaseResult

PROVEN_SLOTS = ("ops", "gone")  # the operations' agents that prove key A (OperationAgents.SLOTS)
NO_VALIDATED_TOKEN = "phase 2 gave the operations' agent no validated token"
KEEP_ALIVE = 30.0  # seconds: an agent idle this long gets a heartbeat before use (upstream drops agents silent for ~60 s)
Sourced = tuple[Identity | None, str | None, str]  # (identity the token names, token, why there is none)


@dataclass
class AgentSlot:
    """A registered agent the operation situations act on: its identity, the temp token and the
    proof of its flow, and its current access token. Registered lazily (phase 2 and 3 with the
    flow's proof), and again after a situation unregistered it."""

    who: Identity
    temp: str
    proof: Proof  # by key A, or none
    access: str | None = None
    last_used: float = 0.0


def _absent(exchanges: list[Exchange | None]) -> bool:
    seen = [ex for ex in exchanges if ex is not None and not ex.error]
    return bool(seen) and all(ex.status in (404, 405) for ex in seen)



class OperationAgents:
    # slot name -> (label, proof by key A?). A situation that may end its agent (unregister) gets
    # agents of its own, so that the other operations always find theirs registered.
    SLOTS = {"ops": ("o", True), "ops-unbound": ("v", False), "gone": ("x", True), "gone-unbound": ("w", False)}

    def _slot(self, name: str) -> tuple[AgentSlot | None, str]:
        """The slot's agent, registered; or why there is none. One thread at a time registers it,
        under the slot's own lock: the others wait, then use the agent it registered."""
        self.issuance()  # which makes the proven slots' phase-1 calls
        with self._once.lock(("slot", name)):
            if name not in self._slots:
                self._slots[name] = self._new_slot(name)
            slot = self._slots[name]
            if isinstance(slot, str):
                return None, slot
            why = self._register_slot(slot)
            if why.startswith(NO_VALIDATED_TOKEN):
                # phase 2 with the slot's temp token failed: it would again, once per situation
                # (hundreds of validations to a target that cannot give one), so it is not retried
                self._slots[name] = f"{why}; not tried again for each situation"
            return (None, why) if why else (slot, "")

    def _new_slot(self, name: str) -> AgentSlot | str:
        label, proven = self.SLOTS[name]
        if not proven and self.state.temp_u is None:
            return "phase 1 without a proof issued no token"
        who = self.identity(label)
        proof = Proof(key=self.key_a) if proven else NO_PROOF
        return self._slot_from(who, proof, *self.flows.phase1(who, proof))

    @staticmethod
    def _slot_from(who: Identity, proof: Proof, ex: Exchange, temp: str | None) -> AgentSlot | str:
        if temp is None:
            return f"phase 1 for the operations' agent failed ({ex.summary()})"
        return AgentSlot(who, temp, proof)

    def _register_slot(self, slot: AgentSlot) -> str:
        """Register the slot's agent if it is not; a heartbeat first if it sat idle. '' or why not."""
        if slot.access is not None:
            if time.monotonic() - slot.last_used > KEEP_ALIVE:
                self.flows.operation("heartbeat", slot.who, slot.access, self._proof_for_access(slot))
            slot.last_used = time.monotonic()
            return ""
        accepted, last, validated = self.flows.validate(slot.who, slot.temp, slot.proof)
        if validated is None:
            return f"{NO_VALIDATED_TOKEN} ({(last or accepted).summary()})"
        ex = self.flows.phase3(slot.who, validated, slot.proof)
        access = ex.json_member("access_token") if ex.ok else None
        if not isinstance(access, str):
            return f"phase 3 did not register the operations' agent ({ex.summary()})"
        slot.access, slot.last_used = access, time.monotonic()
        return ""

    def _proof_for_access(self, slot: AgentSlot) -> Proof:
        return Proof(key=self.key_a) if jkt_of(slot.access) == self.key_a.thumbprint else slot.proof

    def _unbound_slot(self, consumes: bool) -> tuple[AgentSlot | None, str]:
        """An agent whose access token the target issued without cnf: a proof-less flow's, else the
        proven flow's when the target binds nothing."""
        slot, why = self._slot("gone-unbound" if consumes else "ops-unbound")
        if slot is not None and jkt_of(slot.access) is None:
            return slot, ""
        proven, why_proven = self._slot("gone" if consumes else "ops")
        if proven is not None and jkt_of(proven.access) is None:
            return proven, ""
        if proven is None:  # the proven flow failed too: that says nothing about what the target binds
            return None, why or why_proven
        self._not_applicable_unless_issued((None, None, ""))  # the session's: raises where no unbound token can exist
        return None, why or "the target issues only bound access tokens"

    def _operation_token(self, case: Case) -> Sourced:
        """The token of an operation situation, from a registered agent of the suite's own."""
        kind, consumes = case.token, case.endpoint == "unregister"
        if self.state.temp_a is None:  # no agent key, or the target issues nothing: no agent to act on
            return None, None, self._issuance.reasons.get("phase1") or "phase 1 issued no temp token"
        if kind == "unbound":
            slot, why = self._unbound_slot(consumes)
        else:
            slot, why = self._slot("gone" if consumes else "ops")
        if slot is None:
            return None, None, why
        who, access = slot.who, slot.access
        if kind in ("bound", "mismatched"):
            return self._bound(who, access, "access")
        if kind == "unbound":
            return who, access, ""
        if kind == "wrong-phase":
            return who, slot.temp, ""
        if kind == "missing":
            return who, None, ""
        if kind == "malformed":
            return who, "not-a-jwt", ""
        if kind in TAMPERED_TOKENS:  # TamperedTokens, the session's other mixin
            return self._tampered(who, kind, access, lambda: self._second_access(consumes), "access")
        if kind == "expired":
            return self._forge(who, lambda f: f.expired(access), "an expired token can only be forged")
        if kind == "legacy":
            return self._forge(who, lambda f: f.legacy(access), "a legacy token can only be forged")
        raise ValueError(f"unknown token kind {kind!r}")

    def _agent_gone(self, who: Identity) -> None:
        """A situation unregistered `who`: its slot registers again when next needed."""
        for name, slot in list(self._slots.items()):
            if isinstance(slot, AgentSlot) and slot.who.agent_id == who.agent_id:
                with self._once.lock(("slot", name)):
                    slot.access = None
        self.flows.forget(who)

    def operation_absent(self, endpoint: str) -> bool:
        """Did the target answer every defect-free request at this operation, for a registered
        agent's own id, with 404 or 405: it does not have the operation (not applicable)."""
        if endpoint not in OPTIONAL_ENDPOINTS:
            return False
        return _absent([self.result(c).exchange for c in self.control_cases(endpoint)])

    def operations_seen(self) -> dict[str, str]:
        """Each agent operation: "present", "absent" (not applicable) or "untested", from what the
        run recorded (sends nothing)."""
        if self.mode is None:
            return {name: "untested" for name in OPTIONAL_ENDPOINTS}
        out = {}
        for name in OPTIONAL_ENDPOINTS:
            results = [self.recorded(c) for c in self.control_cases(name)]
            exchanges = [r.exchange for r in results if r is not None]
            out[name] = "absent" if _absent(exchanges) else "present" if any(ex is not None and ex.ok for ex in exchanges) else "untested"
        return out

    def _send_operation(self, case: Case, who: Identity, token: str | None, proof: Proof, scheme: str) -> CaseResult:
        if case.proof == "replay":
            method, path = self.flows.operation_target(case.endpoint, who)
            # the target's newest nonce, fixed: a replay is the same proof, and is not retried
            values = tuple(proof.with_nonce(self.client.nonce).headers(method, self.client.url(path), token))
            first = self.flows.operation(case.endpoint, who, token, Proof(replay=values))
            if not first.ok:
                return CaseResult(None, f"the first use of the proof was refused ({first.summary()})")
            return CaseResult(self.flows.operation(case.endpoint, who, token, Proof(replay=values)))
        ex = self.flows.operation(case.endpoint, who, token, proof, scheme)
        if case.endpoint == "unregister" and ex.ok:
            self._agent_gone(who)
        return CaseResult(ex)

    def _send_refresh(self, who: Identity, token: str | None, proof: Proof, scheme: str) -> CaseResult:
        """The refresh, then the refreshed token at work: a heartbeat with a proof by the key it is bound to."""
        ex = self.flows.refresh(token, proof, scheme)
        result = CaseResult(ex, presented=token)
        new = ex.json_member("access_token") if ex.ok else None
        if not isinstance(new, str):
            return result
        if self.operation_absent("heartbeat"):
            result.reason = "the target has no heartbeat operation to present the refreshed token at"
            return result
        bound_to_a = jkt_of(new) == self.key_a.thumbprint
        result.follow_up = self.flows.operation("heartbeat", who, new, Proof(key=self.key_a) if bound_to_a else NO_PROOF)
        return result

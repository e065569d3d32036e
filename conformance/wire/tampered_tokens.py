"""The tampered tokens of the situations (spec.cases.TAMPERED_TOKENS): tokens the target did not
sign as presented, made without its secret from a token it issued for the situation's endpoint
(dpop.tokens). A mixin of ConformanceSession: it takes the second token a `signature-other` needs
from the session's main flow and the operations' agents."""
from __future__ import annotations

from collections.abc import Callable

from ..dpop.tokens import alg_hmac_other, alg_none, bad_signature, header_of, with_signature_of
from .flows import Identity
from .operation_agents import PROVEN_SLOTS, AgentSlot, Sourced
from .records import NotApplicable


class TamperedTokens:
    def _tampered(self, who: Identity | None, kind: str, template: str, second: Callable[[], Sourced], what: str) -> Sourced:
        """A `kind` token made from `template`, a `what` token the target issued to `who`;
        `second()` gives another `what` token the target issued (signature-other takes its signature)."""
        if kind == "bad-signature":
            return who, bad_signature(template), ""
        if kind == "alg-none":
            return who, alg_none(template), ""
        if kind == "alg-hmac-other":
            token = alg_hmac_other(template)
            if token is None:
                alg = (header_of(template) or {}).get("alg")
                raise NotApplicable(f"the target signs its {what} tokens with {alg!r}, not with an HMAC: no other HMAC size to claim")
            return who, token, ""
        if kind == "signature-other":
            _, other, why = second()
            if other is None or other.rpartition(".")[2] == template.rpartition(".")[2]:
                return None, None, f"no second {what} token to take a signature from ({why or 'the target issued the same signature'})"
            return who, with_signature_of(template, other), ""
        raise ValueError(f"not a tampered token kind: {kind!r}")

    def _second_temp(self, template: str) -> Sourced:
        """Another temp token proved like the main flow's: one the operations' agents got at phase 1."""
        slots = [self._slots.get(name) for name in PROVEN_SLOTS]
        for slot in slots:
            if isinstance(slot, AgentSlot) and slot.temp != template:
                return slot.who, slot.temp, ""
        return None, None, next((s for s in slots if isinstance(s, str)), "phase 1 issued the operations' agents no temp token")

    def _second_validated(self) -> Sourced:
        """The main flow's validated token: spent at phase 3, but only its signature is taken."""
        st = self.state
        return (st.id_a, st.validated_a, "") if st.validated_a else (None, None, "the main flow got no validated token")

    def _second_access(self, consumes: bool) -> Sourced:
        """The access token of the operations' other proven agent (the one the situation does not act on)."""
        slot, why = self._slot("ops" if consumes else "gone")
        return (slot.who, slot.access, "") if slot is not None else (None, None, why)

"""The malformed requests of spec.requests on the wire: each the request of its endpoint's positive
control (the same token and DPoP proof, the same path) with one thing malformed, its body or its
Authorization header. A mixin of ConformanceSession: it uses the session's flows, tokens and agents.

Phase 1 is slow and rate limits failed attempts on upstream: its few variants go out at once, with
the run's agent key, after the main flow. Phase 3's validated tokens are single use and each costs a
phase-2 validation: the variants share one, and take a fresh one only after a target accepted (and
so spent) it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..dpop.malformed import junk_authorization
from ..spec.requests import BODY_VARIANTS, PHASE1, POLL, MalformedCase
from .exchange import Exchange
from .flows import NO_PROOF, Identity, Proof
from .records import CaseResult


class MalformedRequests:
    _phase1_malformed: dict[str, CaseResult] | None = None
    _malformed_validated: tuple[Identity | None, str | None, str] | None = None

    def _send_malformed(self, case: MalformedCase) -> CaseResult:
        self.issuance()  # the main flow first: phase 1's positive control, the poll's validation
        if case.endpoint == PHASE1:
            return self._phase1_variants()[case.variant]
        if case.endpoint == POLL:
            return self._poll_malformed(case)
        if case.endpoint == "register":
            return self._register_malformed(case)
        control = self.control_cases(case.endpoint)[0]  # bound and proven, or unbound without a proof in disabled mode
        who, token, why = self._token_for(control)
        self._case_token[case.id] = token
        if who is None or token is None:
            return CaseResult(None, why or "no token for the endpoint's defect-free request")
        ex = self._send_variant(case, who, token, self.proof_for(control)[0])
        if case.endpoint == "unregister" and ex.ok:
            self._agent_gone(who)
        return CaseResult(ex)

    def _send_variant(self, case: MalformedCase, who: Identity, token: str | None, proof: Proof) -> Exchange:
        method, path = self.flows.target_of(case.endpoint, who)
        body = self.flows.body_for(case.endpoint, who)
        if case.junk_auth:
            return self.flows.send_malformed(method, path, token, proof, json_body=body, authorization=junk_authorization(case.variant, token))
        return self.flows.send_malformed(method, path, token, proof, raw=case.body_change.apply(body))

    def _phase1_variants(self) -> dict[str, CaseResult]:
        with self._once.lock("phase1 malformed"):
            if self._phase1_malformed is None:
                self._phase1_malformed = self._send_phase1_variants()
            return self._phase1_malformed

    def _send_phase1_variants(self) -> dict[str, CaseResult]:
        """Phase 1 once per body variant, at once, each with a fresh identity and a valid proof by A."""
        variants = list(BODY_VARIANTS[PHASE1])
        if not self.settings.agent_key:
            return {v: CaseResult(None, "no --agent-key given: the suite cannot register") for v in variants}
        calls = {v: self.identity("m") for v in variants}
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = {v: pool.submit(self._send_variant, MalformedCase(PHASE1, v), who, None, Proof(key=self.key_a))
                       for v, who in calls.items()}
            return {v: CaseResult(f.result()) for v, f in futures.items()}

    def _poll_malformed(self, case: MalformedCase) -> CaseResult:
        """The main flow's poll (bearer only in every mode) with a junk Authorization header."""
        iss, temp = self._issuance, self.state.temp_a
        if iss.poll is None or temp is None:
            return CaseResult(None, iss.reasons.get("poll") or "phase 2 gave no validation to poll")
        return CaseResult(self.flows.send_malformed("GET", iss.poll.path, temp, NO_PROOF, authorization=junk_authorization(case.variant, temp)))

    def _register_malformed(self, case: MalformedCase) -> CaseResult:
        if self._malformed_validated is None:
            control = self.control_cases("register")[0]
            self._malformed_validated = self._token_for(control)
        who, token, why = self._malformed_validated
        self._case_token[case.id] = token
        if who is None or token is None:
            return CaseResult(None, why or "no validated token")
        proof = self.proof_for(self.control_cases("register")[0])[0]
        with self.registering(who):
            ex = self._send_variant(case, who, token, proof)
            self.flows.note_registration(who, ex, proof)
            if ex.ok:  # accepted: the agent is registered and the token spent, so the next variant needs a fresh one
                self.flows.unregister_last(who)
                self._malformed_validated = None
        return CaseResult(ex)

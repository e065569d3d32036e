"""Every proof algorithm the target lists (profile §5, ISSUE-listed-alg-works): one flow each,
phase 1 to unregister with a fresh key of that algorithm. A mixin of ConformanceSession: it uses
the session's flows, main flow and discovery."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..dpop.keys import SUPPORTED_ALGS, generate_key
from .exchange import Exchange
from .flows import Identity, Proof
from .records import AlgFlow, Issuance


class AlgorithmFlows:
    def alg_flows(self) -> dict[str, AlgFlow]:
        """A flow per algorithm the suite signs with (conformance.dpop.keys.SUPPORTED_ALGS): for
        the run's own algorithm (key A's) the main flow; for each other one the target lists, a
        flow of its own with a fresh key, all at once, the first time a check needs them; for one
        not listed, nothing. Kept on the main flow's record."""
        iss = self.issuance()
        with self._once.lock("algs"):
            if not iss.algs:
                iss.algs = self._run_alg_flows(iss)
            return iss.algs

    def alg_flow(self, alg: str) -> AlgFlow | None:
        return self.alg_flows().get(alg)

    def _run_alg_flows(self, iss: Issuance) -> dict[str, AlgFlow]:
        listed = set(self.discovery.algs)
        flows: dict[str, AlgFlow] = {}
        todo: list[tuple[AlgFlow, Identity]] = []
        for alg in SUPPORTED_ALGS:
            if alg not in listed:
                flows[alg] = AlgFlow(alg, listed=False)
            elif alg == self.key_a.alg:
                flows[alg] = self._main_alg_flow(iss)
            elif iss.reasons.get("phase1") or self.state.temp_a is None:
                why = iss.reasons.get("phase1") or f"phase 1 with the run's own algorithm {self.key_a.alg} failed: {iss.phase1.summary()}"
                flows[alg] = AlgFlow(alg, reason=why)
            else:
                flows[alg] = AlgFlow(alg)
                todo.append((flows[alg], self.identity(alg.lower())))  # here: the agent endpoint is made under the lock
        if todo:
            with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                sent = [(flow, pool.submit(self._send_alg_flow, flow, who)) for flow, who in todo]
                for flow, future in sent:
                    try:
                        future.result()
                    except Exception as exc:  # noqa: BLE001 - kept as the flow's reason: never sent again
                        flow.reason = f"the {flow.alg} flow could not be sent: {type(exc).__name__}: {exc}"
        return flows

    def _main_alg_flow(self, iss: Issuance) -> AlgFlow:
        flow = AlgFlow(self.key_a.alg, main=True, jkt=iss.jkt, reason=iss.reasons.get("phase1", ""))
        for step, ex in (("phase 1", iss.phase1), ("phase 2 poll", iss.poll), ("phase 3 register", iss.register)):
            if ex is not None:
                flow.steps.append((step, ex))
        return flow

    def _send_alg_flow(self, flow: AlgFlow, who: Identity) -> None:
        """Phase 1, 2 (validate and poll) and 3, then unregister, each with a proof by a fresh key
        of the flow's algorithm; stops at the first step that does not give what the next needs."""
        key = generate_key(flow.alg)  # in the thread: an RSA key takes a while
        flow.jkt = key.thumbprint
        proof = Proof(key=key)
        ex, temp = self.flows.phase1(who, proof)
        flow.steps.append(("phase 1", ex))
        if temp is None:
            return
        accepted, last, validated = self.flows.validate(who, temp, proof)
        flow.steps.append(("phase 2 validate", accepted))
        if last is not None:
            flow.steps.append(("phase 2 poll", last))
        if validated is None:
            return
        ex = self.flows.phase3(who, validated, proof)
        flow.steps.append(("phase 3 register", ex))
        unregistered = self._unregister_agent(who) if ex.ok else None
        if unregistered is not None:
            flow.steps.append(("unregister", unregistered))

    def _unregister_agent(self, who: Identity) -> Exchange | None:
        """Unregister the agent `who` registered, keeping the exchange."""
        with self._unregister_lock:
            return self.flows.unregister_agent(who)

    def algorithms(self) -> dict:
        """The proof algorithms of the run, for its results: listed by the target (or ARCP's
        default where it advertises none), exercised in flows, and listed but not signable by the suite."""
        iss = self._issuance
        exercised = [self.key_a.alg] if iss is not None and iss.phase1 is not None else []
        if iss is not None:
            exercised += [alg for alg, flow in iss.algs.items() if not flow.main and any(ex.sent for ex in flow.exchanges)]
        return {
            "listed": list(self.discovery.algs),
            "advertised": isinstance(self.discovery.config.get("dpop_signing_alg_values_supported"), list),
            "exercised": exercised,
            "not_signable": [alg for alg in self.discovery.algs if alg not in SUPPORTED_ALGS],
        }

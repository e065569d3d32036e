"""Phase 2 with a body that names another key (profile §6, ISSUE-binding-from-proof): a token is
bound to the key of the proof the server verified, never to a thumbprint the request names.

Each variant of spec.cases.BODY_BINDINGS is one flow of the main flow's agent: phase 2 with its
temp token, a proof by key A (or none) and a body naming key B's thumbprint; where that gives a
validated token, phase 3 with the same proof and a plain body, then unregister. The validations
run at once (a target may wait before each one); phase 3 one at a time, since they register
the same agent, and each under that agent's registering lock: the state machine and the phase-3
situations register it too, on other threads at N > 1, and whichever came second would meet a
duplicate registration."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from ..spec.cases import BODY_BINDINGS, body_members
from .flows import NO_PROOF, Flows, Identity, Proof
from .records import BodyBinding


def send_body_bindings(flows: Flows, proving: Proof, body_jkt: str, proven: tuple[Identity | None, str | None],
                       proofless: tuple[Identity | None, str | None], variants: list[str],
                       registering: Callable[[Identity], AbstractContextManager]) -> dict[str, BodyBinding]:
    """Send each of `variants`. `proving`: the valid proof by key A; `proven`: the agent and temp
    token of the flow that proved A; `proofless`: those of a flow that sent no proof at phase 1
    (a variant without a proof uses it where the target issued one, the proven agent's otherwise);
    `registering(who)`: held from a registration of `who` to its unregistration."""
    jkt = proving.key.thumbprint
    plans = {}
    for variant in variants:
        with_proof = BODY_BINDINGS[variant][1]
        who, temp = proven if with_proof or proofless[1] is None else proofless
        binding = BodyBinding(variant, key_jkt=jkt, body_jkt=body_jkt)
        if temp is None:
            binding.reason = "phase 1 issued no temp token"
        plans[variant] = (binding, who, temp, proving if with_proof else NO_PROOF)
    todo = [plan for plan in plans.values() if not plan[0].reason]
    if todo:
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            futures = [pool.submit(_validate, flows, *plan) for plan in todo]
            validated = [future.result() for future in futures]
        for (binding, who, _, proof), token in zip(todo, validated):
            if token is not None:
                with registering(who):
                    binding.register = flows.phase3(who, token, proof)
                    if binding.register.ok:
                        flows.unregister_last(who)
    return {variant: plan[0] for variant, plan in plans.items()}


def _validate(flows: Flows, binding: BodyBinding, who: Identity, temp: str, proof: Proof) -> str | None:
    binding.validate, binding.poll, token = flows.validate(who, temp, proof, extra=body_members(binding.variant, binding.body_jkt))
    return token

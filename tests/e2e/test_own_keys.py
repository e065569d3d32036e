"""Proofs that name a key of their own (conformance.dpop.own_keys): the session presents them with a
token bound to that key, forged with the signing secret, so the key is the proof's only defect;
without the secret they are inconclusive, and where the target does not list their alg they do not
apply. Never a false verdict on the strict model."""
from __future__ import annotations

import pytest

from conformance.dpop.proofs import own_key_of
from conformance.dpop.tokens import jkt_of
from conformance.judging.judge_check import judge_check
from conformance.model_target import start_model
from conformance.spec.cases import Case, expect
from conformance.spec.checks import Check
from conformance.spec.vocabulary import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS
from conformance.wire.session import ConformanceSession, Settings


def judged(model, case: Case, *, secret: bool = True):
    """(verdict of the case's outcome check, the token its request presented)."""
    cfg = model.config
    session = ConformanceSession(Settings(model.url, agent_key=cfg.agent_key, dpop_mode=cfg.mode,
                                          jwt_secret=cfg.jwt_secret if secret else None))
    try:
        check = Check(expect(case, cfg.mode).requirement, case.id, "ensure_outcome", case)
        verdict = judge_check(session, check)
        result = session.recorded(case)
        ex = result.exchange if result is not None else None
        token = next((v.partition(" ")[2] for n, v in ex.request_headers if n.lower() == "authorization"), None) if ex else None
        return verdict, token
    finally:
        session.close()


@pytest.mark.parametrize("endpoint", ["validate", "heartbeat"])
def test_the_token_is_bound_to_the_key_the_proof_names(endpoint):
    case = Case(endpoint, "bound", "jwk-x25519")
    with start_model("required") as strict:
        verdict, token = judged(strict, case)
        assert verdict.outcome == PASS, verdict.message
        assert jkt_of(token) == own_key_of("jwk-x25519").thumbprint
    with start_model("required", ("jwk-fit-not-checked",)) as lenient:
        assert judged(lenient, case)[0].outcome == FAIL


def test_without_the_signing_secret_it_is_inconclusive_and_says_why():
    with start_model("optional") as model:
        verdict, token = judged(model, Case("validate", "bound", "jwk-curve-mismatch"), secret=False)
    assert verdict.outcome == INCONCLUSIVE and "give --jwt-secret" in verdict.message
    assert token is None  # nothing sent: a token bound to key A would judge the binding, not the key


def test_an_alg_the_target_does_not_list_makes_it_not_applicable():
    with start_model("required") as model:  # lists EdDSA and ES256, not PS256
        verdict, token = judged(model, Case("register", "bound", "jwk-rsa-short"))
    assert verdict.outcome == NOT_APPLICABLE and "does not list" in verdict.message and token is None
    with start_model("required", ("rsa-short-accepted",)) as lenient:  # lists PS256 too
        assert judged(lenient, Case("register", "bound", "jwk-rsa-short"))[0].outcome == FAIL

"""The registration state machine (conformance.stateful) against the model target: nothing fails
on the fault-free model; each flow fault breaks its invariant with a short minimal sequence; a
seed fixes the steps and the verdicts; every agent it registers is gone afterwards; it makes no
phase-1 call of its own and writes no token into its results."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conformance.model_target import start_model
from conformance.session import ConformanceSession, Settings
from conformance.stateful import FAIL, INCONCLUSIVE, INVARIANTS, PASS, run_state_machine
from conformance.catalogue import requirements

EXAMPLES, STEPS, SECONDS = 10, 8, 30.0


def session_for(model) -> ConformanceSession:
    cfg = model.config
    return ConformanceSession(Settings(target_url=model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode=cfg.mode))


def registered_agents(model) -> dict:
    """The model's own record of registered agents."""
    return dict(model._server.config.app.state.model.agents)


def run(mode, faults=(), seed=0, **kwargs):
    """(result, agents registered afterwards, the model's tokens the session saw, phase-1 calls by the machine)."""
    model = start_model(mode, faults)
    session = session_for(model)
    try:
        session.issuance()
        token_path = session.endpoints.token
        before = sum(1 for ex in session.client.exchanges if urlsplit(ex.url).path == token_path)
        result = run_state_machine(session, seed=seed, **{"examples": EXAMPLES, "steps": STEPS, "seconds": SECONDS, **kwargs})
        phase1 = sum(1 for ex in session.client.exchanges if urlsplit(ex.url).path == token_path) - before
        secrets = {model.config.agent_key, model.config.jwt_secret}
        for ex in session.client.exchanges:
            for name in ("temp_token", "validated_token", "access_token"):
                value = ex.json_member(name)
                if isinstance(value, str):
                    secrets.add(value)
        return result, registered_agents(model), secrets, phase1
    finally:
        session.close()
        model.close()


def outcomes(result) -> dict[str, str]:
    return {v.invariant: v.outcome for v in result.verdicts}


def assert_secret_free(result, secrets):
    texts = [v.message for v in result.verdicts] + [s for v in result.verdicts for s in v.steps]
    texts += [v.exchange_text for v in result.verdicts] + [s for steps in result.trace for s in steps]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_invariants_name_catalogued_requirements():
    catalogue = requirements()
    for inv in INVARIANTS:
        assert (inv.requirement_id in catalogue) == inv.catalogued, inv.name


@pytest.mark.parametrize("mode", ["required", "optional", "disabled"])
def test_fault_free_model_breaks_no_invariant(mode):
    result, agents, secrets, phase1 = run(mode)
    assert result.error is None
    assert not result.failed, [(v.requirement_id, v.message, v.steps) for v in result.failed]
    got = outcomes(result)
    assert got["no-5xx"] == got["problem-json"] == got["wrong-phase"] == PASS
    if mode == "disabled":
        assert all(got[name] == INCONCLUSIVE for name in ("replay", "mismatch", "bound-noproof", "binding-kept"))
    else:
        assert got["mismatch"] == got["binding-kept"] == PASS
    assert result.examples >= EXAMPLES and result.steps > 0 and not result.budget_exhausted
    assert agents == {} and result.leftovers == []
    assert phase1 == 0  # the machine reuses the session's temp tokens
    assert_secret_free(result, secrets)


FLOW_FAULTS = [
    # (mode, fault, requirement, longest acceptable minimal sequence)
    ("required", "accept-replay", "DPOP-11.1-replay", 2),
    ("required", "validated-reusable", "ISS-6-single-use", 4),
    ("optional", "skip-binding-compare", "BIND-6-mismatch", 1),
    ("required", "accept-wrong-phase", "TOKEN-6-wrong-phase", 1),
    ("required", "access-no-cnf", "ISS-6-binding-kept", 2),
    ("required", "bound-noproof-accepted", "BIND-6-bound-noproof", 1),
    ("required", "plain-json-errors", "PROB-7-content-type", 1),
]


@pytest.mark.parametrize("mode,fault,requirement,longest", FLOW_FAULTS, ids=[f"{m}-{f}" for m, f, _, _ in FLOW_FAULTS])
def test_flow_fault_breaks_its_invariant_with_a_short_sequence(mode, fault, requirement, longest):
    result, agents, secrets, _ = run(mode, [fault])
    assert result.error is None
    assert [v.requirement_id for v in result.failed] == [requirement]
    verdict = result.verdict(requirement)
    assert verdict.outcome == FAIL
    assert 1 <= len(verdict.steps) <= longest, verdict.steps
    assert verdict.exchange is not None and verdict.exchange_text.startswith("> ")
    assert agents == {} and result.leftovers == []  # accepted-by-mistake registrations too
    assert_secret_free(result, secrets)


def test_same_seed_same_steps_and_verdicts():
    def key(result):
        return result.trace, [(v.invariant, v.outcome, v.steps, v.message) for v in result.verdicts]

    first, _, _, _ = run("optional", ["access-no-cnf"], seed=7)
    again, _, _, _ = run("optional", ["access-no-cnf"], seed=7)
    assert first.seed == again.seed == 7
    assert (first.examples, first.steps) == (again.examples, again.steps)
    assert key(first) == key(again)
    assert first.verdict("ISS-6-binding-kept").outcome == FAIL


def test_exhausted_budget_sends_nothing_and_judges_nothing():
    result, agents, _, phase1 = run("required", ["accept-replay"], seconds=0.0)
    assert result.budget_exhausted and result.steps == 0 and result.error is None
    assert {v.outcome for v in result.verdicts} == {INCONCLUSIVE}
    assert agents == {} and phase1 == 0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        run_state_machine(object(), examples=0, steps=8, seconds=1.0, seed=0)

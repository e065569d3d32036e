"""The suite against the embedded model server, fuzzers included (their default budget and seed):
silent on the fault-free model in every mode, and for every fault exactly the rule it breaks is flagged (profile §2: a check must be shown to
fail on a server with the defect and to pass on one without it)."""
import pytest

from conformance.spec.checks import fixed_checks
from conformance.model_target import FAULTS
from conformance.spec.vocabulary import DPOP_MODES, INCONCLUSIVE, NOT_APPLICABLE, PASS
from tools.generated import block
from tools.mutation import BEGIN, END, SCORE_PAGE, MODES, against_model, evaluate_all, expected, fault_modes, flagged, score_markdown


NONCE_REQUIREMENTS = {"PROOF-nonce-missing", "PROOF-nonce-unknown", "CHALLENGE-nonce"}


@pytest.fixture(scope="module")
def results():
    """Every fault in every mode, run once (in a few processes) for the whole module."""
    return {(r.fault, r.mode): r for r in evaluate_all()}


@pytest.mark.parametrize("mode", MODES)
def test_the_fault_free_model_gets_no_failure_and_no_warning(mode):
    flags = flagged(against_model(mode))
    assert flags == {}, sorted(flags)


@pytest.mark.parametrize("mode", DPOP_MODES)
def test_the_fault_free_model_with_nonces_gets_no_failure_and_nothing_less_conclusive(mode):
    """With DPoP-Nonce on (RFC 9449 §8, §9), every check keeps its meaning: nothing fails or warns,
    no check is less conclusive than without nonces, and the nonce checks pass instead of skipping."""
    plain, nonce = against_model(mode), against_model(mode, nonce=True)
    assert flagged(nonce) == {}, sorted(flagged(nonce))
    assert set(nonce) == set(plain)
    worse = {i for i, o in nonce.items() if o.verdict == INCONCLUSIVE and plain[i].verdict != INCONCLUSIVE}
    assert worse == set()
    skipped = {i for i, o in plain.items() if o.verdict == NOT_APPLICABLE and o.requirement in NONCE_REQUIREMENTS}
    assert skipped and all(nonce[i].verdict == PASS for i in skipped)


@pytest.mark.parametrize(("fault", "mode"), fault_modes(), ids=[f"{m}-{f}" for f, m in fault_modes()])
def test_each_fault_is_caught_by_exactly_its_checks(results, fault, mode):
    result = results[(fault, mode)]
    assert result.unkilled == (), f"no check flagged {result.unkilled}"
    assert result.collateral == (), f"checks outside {FAULTS[fault].breaks} flagged"


@pytest.mark.parametrize("mode", MODES)
def test_every_must_and_should_requirement_has_a_fault_that_breaks_it(mode):
    from conformance.judging.fuzz import fuzz_checks

    from tools.mutation import group_of
    from conformance.judging.stateful.run import stateful_checks

    used = {(group_of(c), c.requirement_id) for c in fixed_checks(mode) + fuzz_checks(mode) + stateful_checks(mode)
            if c.requirement.level in ("MUST", "SHOULD")}
    covered = {pair for fault in FAULTS.values() if mode in fault.modes for pair in expected(fault.name, mode)}
    assert used - covered == set()


def test_docs_mutation_score_is_the_generated_one(results):
    assert block(SCORE_PAGE, BEGIN, END) == score_markdown(list(results.values())).strip(), "run: python -m tools.mutation docs"

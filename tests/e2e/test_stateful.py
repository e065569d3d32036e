"""The registration state machine (conformance.stateful) against the model target: nothing fails
on the fault-free model; each flow fault breaks its invariant with a short minimal sequence; a
seed fixes the steps and the verdicts; every agent it registers is gone afterwards; it makes no
phase-1 call of its own and writes no token into its results. (The invariants' requirements and
checks on their own: tests/unit/test_stateful_invariants.py.)"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conformance.model_target import start_model
from conformance.wire.session import ConformanceSession, Settings
from conformance.judging.stateful.run import run_state_machine
from conformance.spec.vocabulary import FAIL, INCONCLUSIVE, PASS
from support.suite_run import run_suite

EXAMPLES, STEPS, SECONDS = 10, 8, 30.0


def session_for(model) -> ConformanceSession:
    cfg = model.config
    return ConformanceSession(Settings(target_url=model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode=cfg.mode, keep_exchanges=True))


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
    ("required", "accept-replay", "PROOF-replay", 2),
    ("required", "validated-reusable", "ISSUE-single-use", 4),
    ("optional", "skip-binding-compare", "BIND-mismatch", 1),
    ("required", "accept-wrong-phase", "TOKEN-wrong-phase-refused", 1),
    ("required", "access-no-cnf", "ISSUE-binding-kept", 2),
    ("required", "bound-noproof-accepted", "BIND-bound-noproof", 1),
    ("required", "plain-json-errors", "PROBLEM-content-type", 1),
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
    assert first.verdict("ISSUE-binding-kept").outcome == FAIL


def test_the_step_budget_cuts_a_seed_at_the_same_step_every_time():
    # examples × (steps + 3) × 4 steps in all, shrinking included: counted, so the same seed ends
    # at the same step whatever the target's speed (a time budget would not)
    def key(result):
        return result.trace, [(v.invariant, v.outcome, v.steps) for v in result.verdicts]

    first, agents, _, _ = run("required", ["accept-replay"], seed=0, examples=2, steps=4, shrink_examples=10_000)
    again, _, _, _ = run("required", ["accept-replay"], seed=0, examples=2, steps=4, shrink_examples=10_000)
    assert first.budget_exhausted and first.budget_spent == "steps" and first.steps == 2 * (4 + 3) * 4
    assert first.verdict("PROOF-replay").outcome == FAIL  # found before the budget ran out
    assert key(first) == key(again) and agents == {}


def test_the_shrink_budget_ends_shrinking_the_same_way_every_time_and_keeps_the_failure():
    # counted examples after the last new finding: the same seed stops at the same example
    def key(result):
        return result.trace, [(v.invariant, v.outcome, v.steps) for v in result.verdicts]

    unbounded, _, _, _ = run("required", ["validated-reusable"], seed=0, shrink_examples=10_000)
    first, agents, _, _ = run("required", ["validated-reusable"], seed=0, shrink_examples=1)
    again, _, _, _ = run("required", ["validated-reusable"], seed=0, shrink_examples=1)
    assert not unbounded.budget_exhausted
    assert first.budget_exhausted and first.budget_spent == "shrink" and first.examples < unbounded.examples
    verdict = first.verdict("ISSUE-single-use")
    assert verdict.outcome == FAIL and verdict.steps  # a failure found stays one, with the shortest sequence seen
    assert len(verdict.steps) >= len(unbounded.verdict("ISSUE-single-use").steps)
    assert key(first) == key(again) and agents == {} and first.leftovers == []


def test_exhausted_budget_sends_nothing_and_judges_nothing():
    result, agents, _, phase1 = run("required", ["accept-replay"], seconds=0.0)
    assert result.budget_exhausted and result.steps == 0 and result.error is None
    assert {v.outcome for v in result.verdicts} == {INCONCLUSIVE}
    assert agents == {} and phase1 == 0


# --- wired into the plugin, end to end against the model

def run_stateful(tmp_path, target, *args):
    run = run_suite(tmp_path, "-p", "no:warnings", "--target-url", target, *args, timeout=120)
    return run, run.doc


@pytest.mark.parametrize("target", ["model:required", "model:required:nonce"])
def test_the_fault_free_model_has_no_stateful_failure_and_the_results_validate(tmp_path, target):
    from conformance.report.results import schema_errors
    from conformance.judging.stateful.run import stateful_checks

    proc, doc = run_stateful(tmp_path, target, "--fuzz-examples", "0")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert schema_errors(doc) == []
    ids = {c.id for c in stateful_checks("required")}
    mine = {c["id"]: c for c in doc["checks"] if c["subject"] == "stateful"}
    assert set(mine) == ids
    assert {c["verdict"] for c in mine.values()} == {"pass"}
    st = doc["stateful"]
    assert st["seed"] == "5449" and st["examples"] >= 10 and not st["budget_exhausted"] and st["leftovers"] == []
    assert [i["check_id"] for i in st["invariants"]] == [c.id for c in stateful_checks("required")]
    assert all(i["outcome"] == "pass" and i["minimal_steps"] == [] for i in st["invariants"])
    html = (tmp_path / "reports" / "conformance.html").read_text(encoding="utf-8")
    assert '<div class="arcp-section" id="arcp-stateful"><h2>Stateful flows</h2>' in html
    # the state machine runs last, after every other check's traffic
    import xml.etree.ElementTree as ET

    names = [t.get("name") for t in ET.parse(tmp_path / "reports" / "conformance.junit.xml").iter("testcase")]
    assert set(names[-len(ids):]) == ids  # testcases are named by check id (pytest_plugin/junit.py)


def test_a_flow_fault_fails_its_stateful_check_with_the_sequence_and_seed(tmp_path):
    from conformance.report.results import schema_errors

    check = "ISSUE-single-use@stateful"
    proc, doc = run_stateful(tmp_path, "model:required:validated-reusable", "--check", "*@stateful")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert schema_errors(doc) == []
    assert [c["id"] for c in doc["checks"] if c["verdict"] == "fail"] == [check]
    record = next(c for c in doc["checks"] if c["id"] == check)
    assert "minimal failing sequence" in record["message"] and "1. validate T0 proof=A" in record["message"]
    assert "seed 5449" in record["message"] and record["exchanges"]
    # the suite command that re-runs the search with the same seed and budget (since reproducers
    # became plans, `command` is `arcp-conformance reproduce PLAN` and this is `suite_command`)
    suite_command, command = record["reproducer"]["suite_command"], record["reproducer"]["command"]
    assert f"--check {check}" in suite_command and "--hypothesis-seed 5449 --stateful-examples 20 --stateful-steps 8" in suite_command
    inv = next(i for i in doc["stateful"]["invariants"] if i["check_id"] == check)
    assert inv["outcome"] == "fail" and inv["minimal_steps"][-1].startswith("register again with the used V")
    assert len(inv["minimal_steps"]) <= 5
    # the console shows the sequence, the seed and the rerun command (the grouped summary's example and reproduce line)
    assert "minimal failing sequence" in proc.stdout and "seed 5449" in proc.stdout and f"reproduce: {command}" in proc.stdout
    html = (tmp_path / "reports" / "conformance.html").read_text(encoding="utf-8")
    section = html.split('id="arcp-stateful"', 1)[1]
    assert "<ol><li>validate T0 proof=A</li>" in section


def test_a_spent_shrink_budget_is_reported_and_the_check_still_fails(tmp_path):
    from conformance.report.results import schema_errors

    check = "ISSUE-single-use@stateful"
    proc, doc = run_stateful(tmp_path, "model:required:validated-reusable", "--check", "*@stateful", "--stateful-shrink-examples", "1")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert schema_errors(doc) == []
    st = doc["stateful"]
    assert st["budget_exhausted"] and st["budget_spent"] == "shrink" and st["shrink_examples_budget"] == 1
    record = next(c for c in doc["checks"] if c["id"] == check)
    assert record["verdict"] == "fail" and "shrink budget spent" in record["message"]
    assert "--stateful-shrink-examples 1" in record["reproducer"]["suite_command"]
    assert "shrink budget spent" in proc.stdout  # the console line


def test_stateful_examples_0_collects_no_stateful_item(tmp_path):
    proc, _ = run_stateful(tmp_path, "model:required", "--collect-only", "-q", "--stateful-examples", "0")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "test_stateful.py::" not in proc.stdout and "test_binding.py::" in proc.stdout


def test_a_bad_stateful_option_is_a_usage_error(tmp_path):
    proc, _ = run_stateful(tmp_path, "model:required", "--stateful-steps", "many")
    assert proc.returncode == 2 and "--stateful-steps must be a non-negative number" in proc.stdout + proc.stderr

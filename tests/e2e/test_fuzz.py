"""The fuzz properties (conformance.fuzz): judged on synthetic exchanges (a passing and a failing
server per property), then end to end against the embedded model: silent when fault-free,
a one-defect minimal example for a fault, the same examples for the same seed."""
import json

import pytest

from conformance.judging.fuzz import PROPERTIES, REFUSE, fuzz_checks, judge_example
from conformance.judging.problems import PROBLEM_MEDIA_TYPE
from conformance.dpop.strategies import DEFECTIVE, REPLAY, FuzzCase, Perturbation, corpus
from conformance.wire.exchange import Exchange
from support.suite_run import run_suite

URL = "http://127.0.0.1:8001/auth/agent/validate_compliance"
PROBLEMS = "https://arcp.0x001.tech/docs/problems/"
HTM = FuzzCase(("htm-wrong",))
IAT_FUTURE = FuzzCase(("iat-future",))
REPLAYED = FuzzCase((REPLAY,))
RANDOM_TYP = FuzzCase((), (Perturbation("typ-random", DEFECTIVE, ("typ",), "typ", "jwt", "PROOF-typ"),))


def answer(status, slug=None, content_type=PROBLEM_MEDIA_TYPE, **members):
    body = {"type": PROBLEMS + slug, "title": "Invalid DPoP Proof", "status": status, "detail": "x", **members} if slug else {"status": "pending"}
    return Exchange("POST", URL, [], status=status, response_headers=[("content-type", content_type if slug else "application/json")],
                    body_text=json.dumps(body))


OK = answer(202)
DPOP_INVALID = answer(401, "dpop-invalid")


def verdicts(case, twin, ex):
    return {req: v.outcome for req, v in judge_example(case, twin, ex).verdicts.items()}


def test_a_conformant_refusal_passes_every_property():
    assert verdicts(HTM, OK, DPOP_INVALID) == {req: "pass" for req in PROPERTIES if req != "PROOF-replay"}
    assert verdicts(RANDOM_TYP, OK, DPOP_INVALID)[REFUSE] == "pass"
    assert verdicts(REPLAYED, OK, DPOP_INVALID)["PROOF-replay"] == "pass"


def test_accepting_a_must_defect_fails_and_a_should_defect_warns():
    assert verdicts(HTM, OK, OK)[REFUSE] == "fail"
    assert verdicts(RANDOM_TYP, OK, OK)[REFUSE] == "fail"
    assert verdicts(IAT_FUTURE, OK, OK)[REFUSE] == "warn"
    assert verdicts(IAT_FUTURE, OK, DPOP_INVALID)[REFUSE] == "pass"


def test_accepting_a_replay_fails():
    assert verdicts(REPLAYED, OK, OK)["PROOF-replay"] == "fail"
    assert verdicts(REPLAYED, OK, answer(500, "internal-error"))["PROOF-replay"] == "fail"


def test_a_5xx_fails_even_on_the_twin():
    assert verdicts(HTM, OK, answer(500, "internal-error"))["PROBLEM-no-5xx"] == "fail"
    result = judge_example(HTM, answer(500, "internal-error"), None)
    assert result.outcome == "inconclusive" and result.verdicts["PROBLEM-no-5xx"].outcome == "fail"
    assert verdicts(HTM, OK, answer(502, "endpoint-unreachable"))["PROBLEM-no-5xx"] == "pass"  # a gateway problem


def test_problem_details_of_a_refusal_are_judged():
    assert verdicts(HTM, OK, answer(401, "dpop-invalid", content_type="application/json"))["PROBLEM-content-type"] == "fail"
    bad = Exchange("POST", URL, [], status=401, response_headers=[("content-type", PROBLEM_MEDIA_TYPE)], body_text='{"type": 1}')
    assert verdicts(HTM, OK, bad)["PROBLEM-members"] == "fail"
    assert verdicts(HTM, OK, answer(401, "token-invalid"))["BIND-problem-type"] == "fail"
    assert verdicts(REPLAYED, OK, answer(401, "authentication-failed"))["BIND-problem-type"] == "fail"
    assert "BIND-problem-type" not in verdicts(IAT_FUTURE, OK, answer(401, "token-invalid"))  # SHOULD-level only: not under BIND-problem-type


def test_a_refused_twin_makes_the_example_inconclusive():
    result = judge_example(HTM, DPOP_INVALID, None)
    assert result.outcome == "inconclusive" and set(result.verdicts) == {"PROBLEM-no-5xx"}
    assert judge_example(HTM, answer(429, "rate-limit-exceeded"), None).outcome == "inconclusive"


def test_no_fuzz_checks_in_disabled_mode():
    assert fuzz_checks("disabled") == []
    assert [c.id for c in fuzz_checks("required")] == [f"{req}@fuzz:validate" for req in PROPERTIES]


# --- end to end against the embedded model

def run_fuzz(tmp_path, target, *args):
    run = run_suite(tmp_path, "--target-url", target, "--check", "*@fuzz:*", *args, timeout=120)
    assert run.doc is not None, run.stdout[-3000:] + run.stderr[-2000:]
    return run, run.doc


@pytest.mark.parametrize("target", ["model:required", "model:optional"])
def test_the_fault_free_model_has_no_fuzz_failure(tmp_path, target):
    proc, doc = run_fuzz(tmp_path, target)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {c["verdict"] for c in doc["checks"]} <= {"pass", "skip"}
    fuzz = doc["fuzz"]
    assert fuzz["corpus_examples"] == len(corpus()) == 25
    assert fuzz["examples_run"] == 30 + 25 and fuzz["inconclusive"] == 0 and fuzz["requests"] <= 3 * 55
    assert fuzz["defect_sets"] > 20


@pytest.mark.parametrize(("fault", "check"), [
    ("skip-typ", f"{REFUSE}@fuzz:validate"),
    ("skip-signature", f"{REFUSE}@fuzz:validate"),
    ("accept-replay", "PROOF-replay@fuzz:validate"),
    ("plain-json-errors", "PROBLEM-content-type@fuzz:validate"),
])
def test_a_fault_fails_its_fuzz_check_with_a_one_defect_example(tmp_path, fault, check):
    proc, doc = run_fuzz(tmp_path, f"model:required:{fault}")
    assert proc.returncode == 1
    assert [c["id"] for c in doc["checks"] if c["verdict"] == "fail"] == [check]
    example = doc["fuzz"]["properties"][check]["minimal_example"]
    assert len(example["defects"]) == 1 and example["perturbations"] == []
    assert doc["fuzz"]["requests"] <= 3 * (doc["fuzz"]["examples_requested"] + doc["fuzz"]["corpus_examples"])
    # the failure message: the minimal example, the seed and a command that re-sends the same examples
    assert f"minimal failing example: defects {example['defects'][0]}; no perturbation" in proc.stdout
    assert "seed 5449" in proc.stdout
    assert f"--check {check} --hypothesis-seed 5449 --fuzz-examples 30 --fuzz-seconds 60" in proc.stdout


def test_a_500_on_a_wrong_claim_type_is_found_only_by_the_fuzzer(tmp_path):
    # no fixed situation sends an iat that is not a number: the corpus' iat-string example does
    proc, doc = run_fuzz(tmp_path, "model:required:500-on-iat-type")
    assert proc.returncode == 1
    assert sorted(c["id"] for c in doc["checks"] if c["verdict"] == "fail") == ["BIND-problem-type@fuzz:validate", "PROBLEM-no-5xx@fuzz:validate"]
    example = doc["fuzz"]["properties"]["PROBLEM-no-5xx@fuzz:validate"]["minimal_example"]
    assert example["defects"] == [] and len(example["perturbations"]) == 1 and example["perturbations"][0].startswith("iat-string")
    assert "the example was answered POST /auth/agent/validate_compliance -> 500" in example["message"]


def test_the_corpus_is_each_named_defect_alone_then_wrong_types_then_a_replay():
    from conformance.dpop.proofs import DEFECTS

    cases = corpus()
    assert [c.defects for c in cases[:len(DEFECTS)]] == [(name,) for name in DEFECTS]
    assert all(c.perturbations == () for c in cases[:len(DEFECTS)])
    assert [p.kind for c in cases[len(DEFECTS):-1] for p in c.perturbations] == ["iat-string", "claim-type"]
    assert cases[-1].replay and len({c.summary() for c in cases}) == len(cases)


def test_the_same_seed_sends_the_same_examples_and_another_seed_others(tmp_path):
    runs = []
    for name, args in (("a", ()), ("b", ()), ("c", ("--hypothesis-seed", "7"))):
        (tmp_path / name).mkdir()
        proc, doc = run_fuzz(tmp_path / name, "model:required:accept-replay", "--fuzz-examples", "15", *args)
        runs.append((doc["fuzz"], [(c["id"], c["verdict"], c["message"]) for c in doc["checks"]]))
    (a, checks_a), (b, checks_b), (c, _) = runs
    assert a["examples_digest"] == b["examples_digest"] and a["properties"] == b["properties"]
    assert checks_a == checks_b
    assert c["seed"] == "7" and c["seed_source"] == "--hypothesis-seed" and c["examples_digest"] != a["examples_digest"]


def test_zero_examples_disables_fuzzing(tmp_path):
    proc, doc = run_fuzz(tmp_path, "model:required", "--fuzz-examples", "0", "--check", "ISSUE-audience@temp")
    assert proc.returncode == 0 and doc["fuzz"] is None
    assert [c["id"] for c in doc["checks"]] == ["ISSUE-audience@temp"]
    assert "1 passed" in proc.stdout and "skipped" not in proc.stdout  # no empty, skipped fuzz item


def test_a_bad_fuzz_option_is_a_usage_error(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:required", "--fuzz-examples", "many", timeout=60)
    assert proc.returncode == 2 and "--fuzz-examples must be a non-negative number" in proc.stdout + proc.stderr

"""The fuzz properties end to end against the embedded model: silent when fault-free, a
one-defect minimal example for a fault, the same examples for the same seed. (Judged on
synthetic exchanges: tests/unit/test_fuzz_judging.py.)"""
import pytest

from conformance.judging.fuzz import CORPUS_BODIES, MALFORMED, REFUSE
from conformance.dpop.strategies import corpus, defect_names
from support.suite_run import run_suite


def run_fuzz(tmp_path, target, *args):
    run = run_suite(tmp_path, "--target-url", target, "--check", "*@fuzz:*", *args, timeout=120)
    assert run.doc is not None, run.stdout[-3000:] + run.stderr[-2000:]
    return run, run.doc


@pytest.mark.parametrize("target", ["model:required", "model:optional", "model:optional:nonce"])
def test_the_fault_free_model_has_no_fuzz_failure(tmp_path, target):
    proc, doc = run_fuzz(tmp_path, target)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {c["verdict"] for c in doc["checks"]} <= {"pass", "not-applicable"}
    fuzz = doc["fuzz"]
    # each defect the fuzzers combine alone (not those with a key of their own), two claim types, a replay, malformed bodies
    corpus_size = len(corpus(bodies=CORPUS_BODIES))
    assert fuzz["corpus_examples"] == corpus_size == len(defect_names()) + 3 + len(CORPUS_BODIES)
    examples = 30 + corpus_size
    assert fuzz["examples_run"] == examples and fuzz["inconclusive"] == 0 and fuzz["requests"] <= 3 * examples
    assert fuzz["defect_sets"] > 20


@pytest.mark.parametrize(("fault", "check"), [
    ("skip-typ", f"{REFUSE}@fuzz:validate"),
    ("skip-signature", f"{REFUSE}@fuzz:validate"),
    ("jku-fetched", f"{REFUSE}@fuzz:validate"),  # the fuzz run serves its jku URLs on the agent endpoint
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
    # the failure message: the minimal example, the seed and a command that re-sends the same
    # examples (the reproducer plan's, on the console; the suite's, in the results)
    assert f"minimal failing example: defects {example['defects'][0]}; no perturbation" in proc.stdout
    assert "seed 5449" in proc.stdout
    reproducer = next(c for c in doc["checks"] if c["id"] == check)["reproducer"]
    assert f"reproduce: {reproducer['command']}" in proc.stdout  # the grouped summary's
    assert f"--check {check} --hypothesis-seed 5449 --fuzz-examples 30 --fuzz-seconds 60" in reproducer["suite_command"]


def test_a_500_on_a_wrong_claim_type_is_found_only_by_the_fuzzer(tmp_path):
    # no fixed situation sends an iat that is not a number: the corpus' iat-string example does
    proc, doc = run_fuzz(tmp_path, "model:required:500-on-iat-type")
    assert proc.returncode == 1
    assert sorted(c["id"] for c in doc["checks"] if c["verdict"] == "fail") == ["BIND-problem-type@fuzz:validate", "PROBLEM-no-5xx@fuzz:validate"]
    example = doc["fuzz"]["properties"]["PROBLEM-no-5xx@fuzz:validate"]["minimal_example"]
    assert example["defects"] == [] and len(example["perturbations"]) == 1 and example["perturbations"][0].startswith("iat-string")
    assert "the example was answered POST /auth/agent/validate_compliance -> 500" in example["message"]


def test_a_malformed_body_fault_is_found_with_a_body_of_the_corpus(tmp_path):
    proc, doc = run_fuzz(tmp_path, "model:optional:500-on-wrong-content-type")
    assert proc.returncode == 1
    assert sorted(c["id"] for c in doc["checks"] if c["verdict"] == "fail") == [f"{MALFORMED}@fuzz:validate", "PROBLEM-no-5xx@fuzz:validate"]
    example = doc["fuzz"]["properties"][f"{MALFORMED}@fuzz:validate"]["minimal_example"]
    assert example["defects"] == [] and example["perturbations"] == [] and "Content-Type" in example["body"]
    assert "a malformed body was not refused with a 4xx: POST /auth/agent/validate_compliance -> 500" in example["message"]


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

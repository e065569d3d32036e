"""Exit 0 means tested and conformant (issue 21, item 1): a run in which an applicable MUST check
stays inconclusive is incomplete (exit 3, with the causes grouped), unless a baseline accepts the
gap; a gap entry whose check reaches a verdict again is stale. (The rule itself:
tests/unit/test_completeness.py; the entries: tests/unit/test_baseline_classify.py.)"""
import json

from support.suite_run import run_suite

# One state-machine example on the strict model exercises some invariants and not others: their
# checks are inconclusive ("no step of the run exercised it"), every other check passes.
FEW = ("--target-url", "model:required", "-k", "stateful", "--fuzz-examples", "0", "--stateful-examples", "1")
GAP = "BIND-mismatch@stateful"


def test_an_inconclusive_must_check_makes_the_run_incomplete_and_a_baseline_can_accept_the_gap(tmp_path):
    baseline = tmp_path / "gaps.json"
    first = run_suite(tmp_path, *FEW, "--write-baseline", str(baseline), timeout=120)
    assert first.returncode == 3, first.stdout
    doc = first.doc
    assert doc["exit_status"] == 3 and doc["counts"]["pass"] > 0 and doc["counts"]["fail"] == 0
    unjudged = [c["id"] for c in doc["checks"] if c["verdict"] == "inconclusive" and c["level"] == "MUST"]
    assert GAP in unjudged and doc["incomplete"]["checks"] == len(unjudged)
    assert [cause["reason"] for cause in doc["incomplete"]["causes"]] == ["no step of the run exercised it (seed 5449, 1 examples, "
                                                                         f"{doc['stateful']['steps']} steps)"]
    assert (f"arcp-conformance: incomplete: {len(unjudged)} applicable MUST checks could not be judged (inconclusive): "
            "no step of the run exercised it") in first.stdout
    assert "exit 3: no verdict" in first.stdout.splitlines()[-2]
    entries = json.loads(baseline.read_text())["entries"]
    assert {e["id"] for e in entries} == set(unjudged) and all(e["verdict"] == "inconclusive" for e in entries)

    accepted = run_suite(tmp_path, *FEW, "--baseline", str(baseline), timeout=120)
    assert accepted.returncode == 0, accepted.stdout
    assert accepted.doc["incomplete"] is None
    record = next(c for c in accepted.doc["checks"] if c["id"] == GAP)
    assert record["verdict"] == "inconclusive" and "accepted gap" in record["message"]

    # the search reaches the invariant with its default examples: the gap is gone, the entry stale
    judged = run_suite(tmp_path, "--target-url", "model:required", "-k", "stateful", "--fuzz-examples", "0",
                       "--baseline", str(baseline), timeout=180)
    assert judged.returncode == 1, judged.stdout
    assert next(c for c in judged.doc["checks"] if c["id"] == GAP)["verdict"] == "stale"

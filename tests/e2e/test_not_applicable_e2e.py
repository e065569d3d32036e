"""Against the strict model in required mode nothing is inconclusive: the situations a conformant
target cannot be put in (no unbound token, no DPoP-Nonce, an alg it does not list) are not
applicable, each with its reason; a model that does issue unbound tokens has them judged again."""
from __future__ import annotations

from conformance.spec.vocabulary import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, WARN

from support.suite_run import run_suite

QUIET = ("--fuzz-examples", "0", "--stateful-examples", "0", "-p", "no:warnings")
UNBOUND_REASON = "in required mode a conformant target issues no unbound token"


def unbound(doc: dict) -> list[dict]:
    return [c for c in doc["checks"] if c["case"] and c["case"]["token"] == "unbound"]


def test_the_strict_model_in_required_mode_has_nothing_inconclusive(tmp_path):
    run = run_suite(tmp_path, "--target-url", "model:required", *QUIET, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    counts = run.doc["counts"]
    assert counts[INCONCLUSIVE] == 0 and counts[NOT_APPLICABLE] > 0, counts
    situations = unbound(run.doc)
    assert situations and all(c["verdict"] == NOT_APPLICABLE and UNBOUND_REASON in c["message"] for c in situations)
    nonce = [c for c in run.doc["checks"] if c["case"] and c["case"]["proof"].startswith("nonce-")]
    assert nonce and all(c["verdict"] == NOT_APPLICABLE and c["message"] == "the target issues no DPoP-Nonce" for c in nonce)
    assert f"{counts[NOT_APPLICABLE]} not-applicable" in run.stdout  # the console's verdict line counts it apart


def test_a_required_mode_model_that_issues_unbound_tokens_has_them_judged(tmp_path):
    run = run_suite(tmp_path, "--target-url", "model:required:phase1-noproof-issued", "--check", "*@validate:unbound:*", *QUIET,
                    timeout=300)
    situations = unbound(run.doc)
    assert situations and not [c for c in situations if UNBOUND_REASON in c["message"]]
    assert {c["verdict"] for c in situations} & {PASS, FAIL, WARN}, run.stdout[-3000:]

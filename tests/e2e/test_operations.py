"""The token × proof matrix at the agent operations (profile §6 "Resource access"): each operation
the target has is judged like phase 2 and 3; one it does not have is not applicable, said once."""
from __future__ import annotations

import pytest

from conformance.spec.cases import OPERATIONS
from conformance.spec.vocabulary import FAIL, NOT_APPLICABLE, PASS

from support.faulty_target import Fault, FaultyTarget
from support.suite_run import run_suite

QUIET = ("--fuzz-examples", "0", "--stateful-examples", "0", "-p", "no:warnings")


def by_endpoint(doc: dict, endpoint: str) -> list[dict]:
    return [c for c in doc["checks"] if c["case"] and c["case"]["endpoint"] == endpoint]


def test_an_operation_the_target_lacks_is_not_applicable_and_said_once(tmp_path):
    not_found = Fault("status", r"^/agents/[^/]+/metrics$", ("GET",), status=404)
    target = FaultyTarget("required", [not_found])
    try:
        run = run_suite(tmp_path, "--target-url", target.url, "--dpop-mode", "required",
                        "--check", "*@metrics-get:*,*@heartbeat:*", *QUIET, env=target.env(), timeout=120)
    finally:
        target.close()
    assert run.returncode == 0, run.stdout[-3000:]
    missing = by_endpoint(run.doc, "metrics-get")
    assert missing and {c["verdict"] for c in missing} == {NOT_APPLICABLE}
    assert all("no metrics-get operation" in c["message"] for c in missing)
    assert {c["verdict"] for c in by_endpoint(run.doc, "heartbeat")} >= {PASS}
    assert run.doc["target"]["operations"]["metrics-get"] == "absent"
    assert run.doc["target"]["operations"]["heartbeat"] == "present"
    assert run.stdout.count("the target has no metrics-get operation") == 1


@pytest.mark.parametrize("mode", ["required", "optional"])
def test_an_operation_that_checks_no_proof_fails_there_and_only_there(tmp_path, mode):
    run = run_suite(tmp_path, "--target-url", f"model:{mode}:operations-skip-dpop", "--check", "BIND-bound-noproof@*", *QUIET,
                    timeout=120)
    assert run.returncode == 1, run.stdout[-3000:]
    failed = {c["case"]["endpoint"] for c in run.doc["checks"] if c["verdict"] == FAIL}
    assert failed == set(OPERATIONS)

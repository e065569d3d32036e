"""A target the suite cannot test is never a pass, and costs tens of requests, not thousands
(issue 21): a phase-2 poll that never gives a validated token, a temp token too large to send,
one with characters that are not ASCII. The preflight names the cause in one line, at the top and
at the end, and the run exits 3 before any check. A validation the target ends as failed is its own answer: the checks run, and what needs a
validated token is not re-tried for each situation. (The diagnoses on their own:
tests/unit/test_preflight_diagnosis.py.)"""
from __future__ import annotations

import json

from conformance.spec.vocabulary import NO_VERDICT
from support.faulty_target import Fault, FaultyTarget, answer, padded_token, with_temp_token
from support.suite_run import SuiteRun, run_suite

MAX_REQUESTS = 30  # discovery, five phase-1 calls at once, phase 2: tens, where a full run sends about 960
SECONDS = 30


def run_against(tmp_path, faults: list[Fault]) -> tuple[SuiteRun, FaultyTarget]:
    target = FaultyTarget("required", faults)
    try:
        return run_suite(tmp_path, "--target-url", target.url, "--dpop-mode", "required", env=target.env(), timeout=120), target
    finally:
        target.close()


def assert_untestable(run: SuiteRun, target: FaultyTarget, cause: str) -> None:
    assert run.returncode == NO_VERDICT, run.stdout[-3000:]
    for where in ("Traceback", "INTERNALERROR", "FAILED"):
        assert where not in run.stdout + run.stderr, run.stdout[-3000:]
    lines = run.stdout.splitlines()
    top = next(line for line in lines if line.startswith("arcp-conformance: cannot run the checks: "))
    assert cause in top and top.removeprefix("arcp-conformance: cannot run the checks: ") in run.stdout.split(top, 1)[1]  # at the end too
    assert run.doc is None  # no verdict about a target that could not be tested
    assert len(target.requests) <= MAX_REQUESTS and run.seconds < SECONDS, (len(target.requests), run.seconds)


def test_a_poll_that_never_validates_stops_the_run(tmp_path):
    run, target = run_against(tmp_path, [Fault("status", "^/auth/agent/validation/", ("GET",), status=404)])
    assert_untestable(run, target, "phase 2 never completed: the target accepted the validation (POST /auth/agent/validate_compliance -> 202")


def test_a_temp_token_too_large_to_send_stops_the_run(tmp_path):
    run, target = run_against(tmp_path, [with_temp_token(padded_token)])
    assert_untestable(run, target, "was not sent: cannot be sent: its headers would be")


def test_a_temp_token_that_is_not_ascii_stops_the_run(tmp_path):
    run, target = run_against(tmp_path, [with_temp_token(lambda token: token + "é")])
    assert_untestable(run, target, "was not sent: cannot be sent: the token has characters that are not ASCII")


def test_a_validation_ended_as_failed_is_judged_and_not_retried_for_each_situation(tmp_path):
    failed = answer(200, json.dumps({"status": "failed", "detail": "agent unhealthy"}).encode())
    run, target = run_against(tmp_path, [Fault("replace", "^/auth/agent/validation/", ("GET",), replace=failed)])
    assert run.returncode != 0 and run.doc is not None, run.stdout[-3000:]
    assert "arcp-conformance: incomplete: " in run.stdout  # said even when a failure decides the exit code
    not_retried = [c for c in run.doc["checks"] if "not tried again for each situation" in c["message"]]
    assert {c["id"].split("@")[1].split(":")[0] for c in not_retried} >= {"register", "heartbeat", "agent-info"}
    # phase 2 for each situation at phase 2 itself, but once per agent for those past it
    validations = sum(r.path == "/auth/agent/validate_compliance" for r in target.requests)
    assert validations < 400 and len(not_retried) > 1000, (validations, len(not_retried))

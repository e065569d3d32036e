"""A target the suite cannot test is never a pass, and costs tens of requests, not thousands
(issue 21, items 1 and 3): a phase-2 poll that never gives a validated token, a temp token too
large to send, one with characters that are not ASCII. The checks that needed what the target
could not give are inconclusive with that cause, the run is incomplete (exit 3), and the flow is
not re-run for each situation."""
from __future__ import annotations

import base64
import json

from conformance.spec.vocabulary import NO_VERDICT
from support.faulty_target import Fault, FaultyTarget
from support.suite_run import SuiteRun, run_suite

SMALL = ("--dpop-mode", "required", "--fuzz-examples", "2", "--stateful-examples", "1")
MAX_REQUESTS = 400  # a full run against the model sends about 960


def run_against(tmp_path, faults: list[Fault]) -> tuple[SuiteRun, FaultyTarget]:
    target = FaultyTarget("required", faults)
    try:
        return run_suite(tmp_path, "--target-url", target.url, *SMALL, env=target.env(), timeout=300), target
    finally:
        target.close()


def with_temp_token(change) -> Fault:
    """Phase 1's answer with its temp token changed by `change(token) -> token`."""
    def replace(path, status, headers, body):
        doc = json.loads(body)
        if "temp_token" in doc:
            doc["temp_token"] = change(doc["temp_token"])
        out = json.dumps(doc).encode()
        return status, [(k, v) for k, v in headers if k.lower() != b"content-length"], out
    return Fault("replace", "^/auth/agent/request_temp_token$", ("POST",), replace=replace)


def padded(token: str) -> str:
    """The token with 40 KB more claims (its signature no longer fits: it is never sent anyway)."""
    head, claims, sig = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    doc["padding"] = "x" * 40_000
    return ".".join((head, base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("="), sig))


def assert_untestable(run: SuiteRun, target: FaultyTarget, cause: str, broken: tuple[str, ...] = ()) -> None:
    """Exit 3 (1 where the target's answer itself breaks the `broken` requirements), the cause named."""
    assert run.returncode == (1 if broken else NO_VERDICT), run.stdout[-3000:]
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout
    doc = run.doc
    assert {c["requirement"] for c in doc["checks"] if c["verdict"] == "fail"} <= set(broken)
    assert doc["incomplete"]["checks"] > 100
    assert any(cause in c["reason"] for c in doc["incomplete"]["causes"]), doc["incomplete"]["causes"][:3]
    assert "arcp-conformance: incomplete: " in run.stdout
    assert len(target.requests) < MAX_REQUESTS, len(target.requests)


def test_a_poll_that_never_validates_is_incomplete_and_not_retried_per_situation(tmp_path):
    run, target = run_against(tmp_path, [Fault("status", "^/auth/agent/validation/", ("GET",), status=404)])
    assert_untestable(run, target, "phase 2 gave no validated token")
    # what phase 2 is tested for is sent (the refusals of defective proofs need only the temp
    # token); what needs a validated token is not: phase 3 gets the main flow's attempt and no other
    registers = [r for r in target.requests if r.path == "/agents/register"]
    assert len(registers) <= 5, len(registers)  # the main flow's, and the malformed registration bodies' (no token needed)
    register = [c for c in run.doc["checks"] if "@register:" in c["id"] and c["verdict"] == "inconclusive"]
    assert sum("not tried again for each situation" in c["message"] for c in register) > 100


def test_a_temp_token_too_large_to_send_names_the_cause(tmp_path):
    run, target = run_against(tmp_path, [with_temp_token(padded)])
    assert_untestable(run, target, "cannot be sent: its headers would be")


def test_a_temp_token_that_is_not_ascii_names_the_cause(tmp_path):
    """A JWT is ASCII by construction (base64url segments): such a token is not a JWT, so the
    checks of the token's claims fail; those that would send it are inconclusive."""
    run, target = run_against(tmp_path, [with_temp_token(lambda token: token + "é")])
    claims = ("ISSUE-audience", "ISSUE-cnf-jkt", "ISSUE-lifetime", "ISSUE-token-type-claim")
    assert_untestable(run, target, "characters that are not ASCII", broken=claims)

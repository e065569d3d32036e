"""Not applicable vs inconclusive: a situation a conformant target cannot be put in is not
applicable, with the reason; one the run failed to set up (no answer, rate limited, no secret to
forge with) stays inconclusive."""
from __future__ import annotations

import threading

import pytest

from conformance.judging.case_judges import precondition
from conformance.judging.issuance_judges import no_nonce_verdict
from conformance.report import diff
from conformance.spec.vocabulary import INCONCLUSIVE, JUDGED, NOT_APPLICABLE, VERDICTS
from conformance.wire.exchange import Exchange
from conformance.wire.once import Once
from conformance.wire.records import CaseResult, Issuance, NotApplicable
from conformance.wire.session import NO_NONCE, ConformanceSession

PHASE1 = "http://t/auth/agent/request_temp_token"


def answer(status: int | None, *, error: str | None = None, retry_after: bool = False) -> Exchange:
    headers = [("Retry-After", "1")] if retry_after else []
    return Exchange("POST", PHASE1, [], status=status, error=error, response_headers=headers,
                    body_text='{"type": "https://arcp.0x001.tech/docs/problems/dpop-required"}' if status else "")


def session(mode: str, noproof: Exchange | None, temp_u: str | None = None) -> ConformanceSession:
    """A session that already ran its main flow: phase 1 without a proof answered `noproof`."""
    s = ConformanceSession.__new__(ConformanceSession)
    s._lock, s.mode = threading.RLock(), mode
    s._issuance = Issuance(jkt="jkt-a", phase1_noproof=noproof)
    s._once = Once()
    s._once.get("issuance", lambda: s._issuance)  # the main flow, already run
    s.state = type("State", (), {"id_u": None, "temp_u": temp_u})()
    return s


def test_required_mode_refusing_phase1_without_a_proof_makes_unbound_situations_not_applicable():
    s = session("required", answer(401))
    assert "required mode" in s.no_unbound_token() and "401" in s.no_unbound_token()
    with pytest.raises(NotApplicable, match="issues no unbound token"):
        s._not_applicable_unless_issued(s._unbound_temp())


@pytest.mark.parametrize("noproof", [None, answer(None, error="timed out"), answer(429, retry_after=True), answer(503, retry_after=True),
                                     answer(500), answer(200)],
                         ids=["not-sent", "no-response", "rate-limited", "unavailable", "server-error", "issued"])
def test_a_refusal_that_says_nothing_or_an_issued_token_keeps_it_inconclusive(noproof):
    s = session("required", noproof)
    assert s.no_unbound_token() == ""
    assert s._not_applicable_unless_issued((None, None, "phase 1 without a proof issued no token"))[2]


@pytest.mark.parametrize("mode", ["optional", "disabled"])
def test_outside_required_mode_a_missing_unbound_token_is_inconclusive(mode):
    # a conformant target in these modes issues one: its absence is something that went wrong
    assert session(mode, answer(401)).no_unbound_token() == ""


def test_an_unbound_token_the_target_issued_is_used_as_today():
    s = session("required", answer(200), temp_u="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    assert s._not_applicable_unless_issued(s._unbound_temp())[1] is not None


def test_the_judges_say_not_applicable_with_the_reason_and_inconclusive_otherwise():
    verdict = precondition(CaseResult(None, "no token here", not_applicable=True))
    assert (verdict.outcome, verdict.message) == (NOT_APPLICABLE, "no token here")
    assert precondition(CaseResult(None, "an expired token can only be forged; give --jwt-secret")).outcome == INCONCLUSIVE


def test_nonce_checks_are_not_applicable_only_where_something_answered_without_a_nonce():
    assert (no_nonce_verdict(Issuance(jkt="a")).outcome, no_nonce_verdict(Issuance(jkt="a")).message) == (NOT_APPLICABLE, NO_NONCE)
    unknown = no_nonce_verdict(Issuance(jkt="a", nonce_unknown="phase 1 got no answer"))
    assert (unknown.outcome, unknown.message) == (INCONCLUSIVE, "phase 1 got no answer")


def test_not_applicable_is_a_verdict_of_its_own_never_judged():
    assert NOT_APPLICABLE in VERDICTS and NOT_APPLICABLE != INCONCLUSIVE
    assert NOT_APPLICABLE not in JUDGED and INCONCLUSIVE not in JUDGED


def test_older_results_saying_skip_read_as_not_applicable(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"format": "arcp-conformance/results-v0", "checks": [{"id": "X@y", "verdict": "skip", "message": "m"}]}')
    assert diff.load(path).checks["X@y"].verdict == NOT_APPLICABLE

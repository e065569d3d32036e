"""The fuzz properties (conformance.judging.fuzz) judged on synthetic exchanges: a passing and a
failing server per property; and the fixed corpus the fuzzing starts with. (End to end against
the embedded model: tests/e2e/test_fuzz.py.)"""
import json

from conformance.judging.fuzz import CORPUS_BODIES, MALFORMED, PROPERTIES, REFUSE, fuzz_checks, judge_example
from conformance.judging.problems import PROBLEM_MEDIA_TYPE
from conformance.dpop.malformed import BodyChange
from conformance.dpop.strategies import DEFECTIVE, REPLAY, FuzzCase, Perturbation, corpus
from conformance.wire.exchange import Exchange

URL = "http://127.0.0.1:8001/auth/agent/validate_compliance"
PROBLEMS = "https://arcp.0x001.tech/docs/problems/"
HTM = FuzzCase(("htm-wrong",))
IAT_FUTURE = FuzzCase(("iat-future",))
REPLAYED = FuzzCase((REPLAY,))
RANDOM_TYP = FuzzCase((), (Perturbation("typ-random", DEFECTIVE, ("typ",), "typ", "jwt", "PROOF-typ"),))
NOT_JSON = FuzzCase((), body=BodyChange(text="truncated"))


def answer(status, slug=None, content_type=PROBLEM_MEDIA_TYPE, **members):
    body = {"type": PROBLEMS + slug, "title": "Invalid DPoP Proof", "status": status, "detail": "x", **members} if slug else {"status": "pending"}
    return Exchange("POST", URL, [], status=status, response_headers=[("content-type", content_type if slug else "application/json")],
                    body_text=json.dumps(body))


OK = answer(202)
DPOP_INVALID = answer(401, "dpop-invalid")


def verdicts(case, twin, ex):
    return {req: v.outcome for req, v in judge_example(case, twin, ex).verdicts.items()}


def test_a_conformant_refusal_passes_every_property():
    assert verdicts(HTM, OK, DPOP_INVALID) == {req: "pass" for req in PROPERTIES if req not in ("PROOF-replay", MALFORMED)}
    assert verdicts(RANDOM_TYP, OK, DPOP_INVALID)[REFUSE] == "pass"
    assert verdicts(REPLAYED, OK, DPOP_INVALID)["PROOF-replay"] == "pass"


def test_accepting_a_must_defect_fails_and_a_should_defect_warns():
    assert verdicts(HTM, OK, OK)[REFUSE] == "fail"
    assert verdicts(RANDOM_TYP, OK, OK)[REFUSE] == "fail"
    assert verdicts(IAT_FUTURE, OK, OK)[REFUSE] == "warn"
    assert verdicts(IAT_FUTURE, OK, DPOP_INVALID)[REFUSE] == "pass"


def test_a_malformed_body_is_refused_with_a_4xx_problem():
    invalid_input = answer(400, "invalid-input")
    assert verdicts(NOT_JSON, OK, invalid_input) == {MALFORMED: "pass", "PROBLEM-no-5xx": "pass", "PROBLEM-content-type": "pass",
                                                     "PROBLEM-members": "pass"}
    assert verdicts(NOT_JSON, OK, OK)[MALFORMED] == "fail"
    assert verdicts(NOT_JSON, OK, answer(500, "internal-error"))[MALFORMED] == "fail"
    assert verdicts(NOT_JSON, OK, answer(400, "invalid-input", content_type="text/plain"))["PROBLEM-content-type"] == "fail"
    assert NOT_JSON.twin().body is None and NOT_JSON.size_key()[:3] == (1, 0, 0)  # the twin sends the valid body


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


def test_a_proof_by_a_key_of_its_own_is_refused_for_its_key_or_for_the_binding():
    # the fuzz run presents the token bound to key A: either refusal is conformant (profile §6)
    for case in (FuzzCase(("jwk-x25519",)), FuzzCase(("jwk-rsa-short",))):
        for slug in ("dpop-invalid", "dpop-binding-mismatch"):
            assert verdicts(case, OK, answer(401, slug))["BIND-problem-type"] == "pass"
            assert verdicts(case, OK, answer(401, slug))[REFUSE] == "pass"
        assert verdicts(case, OK, answer(401, "token-invalid"))["BIND-problem-type"] == "fail"
        # accepted, it breaks the binding as well (MUST), even where its key's defect is a SHOULD
        assert verdicts(case, OK, OK)[REFUSE] == "fail"
        assert "BIND-mismatch" in judge_example(case, OK, OK).verdicts[REFUSE].message
    assert verdicts(HTM, OK, answer(401, "dpop-binding-mismatch"))["BIND-problem-type"] == "fail"  # key A's proof: no binding to fail


def test_a_refused_twin_makes_the_example_inconclusive():
    result = judge_example(HTM, DPOP_INVALID, None)
    assert result.outcome == "inconclusive" and set(result.verdicts) == {"PROBLEM-no-5xx"}
    assert judge_example(HTM, answer(429, "rate-limit-exceeded"), None).outcome == "inconclusive"


def test_no_fuzz_checks_in_disabled_mode():
    assert fuzz_checks("disabled") == []
    assert [c.id for c in fuzz_checks("required")] == [f"{req}@fuzz:validate" for req in PROPERTIES]


def test_the_corpus_is_each_named_defect_alone_then_wrong_types_then_a_replay_then_malformed_bodies():
    from conformance.dpop.strategies import defect_names

    with_bodies = corpus(bodies=CORPUS_BODIES)
    assert [c.body for c in with_bodies[-len(CORPUS_BODIES):]] == list(CORPUS_BODIES)
    assert all(c.defects == () and c.perturbations == () for c in with_bodies[-len(CORPUS_BODIES):])
    cases, named = corpus(), defect_names()
    assert [c.defects for c in cases[:len(named)]] == [(name,) for name in named]
    assert all(c.perturbations == () for c in cases[:len(named)])
    assert [p.kind for c in cases[len(named):-1] for p in c.perturbations] == ["iat-string", "claim-type"]
    assert cases[-1].replay and len({c.summary() for c in cases}) == len(cases)

"""Self-tests of the judges: each (requirement, judge) pair the suite can generate is shown to
PASS on a synthetic response without the defect and to FAIL on one with it.

The raw verdict of a SHOULD requirement is "fail" too; the plugin turns it into a warning
(test_plugin_maps_should_failures_to_warnings below).
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
import pytest

from conformance.dpop.proofs import CONTROLS, DEFECTS
from conformance.judging import case_judges, issuance_judges
from conformance.judging.case_judges import CASE_JUDGES
from conformance.judging.issuance_judges import ISSUANCE_JUDGES
from conformance.pytest_plugin import outcomes
from conformance.pytest_plugin.state import RECORD_KEY, STATE, RunState
from conformance.spec.cases import Case, expect
from conformance.spec.catalogue import problem_types, problem_uri
from conformance.spec.checks import Check, fixed_checks, issuance_checks
from conformance.spec.requests import expectation, situation_of
from conformance.spec.vocabulary import FAIL, INCONCLUSIVE, MODES, NOT_APPLICABLE, PASS, Verdict
from conformance.wire.exchange import Exchange
from conformance.wire.agent_endpoint import KeyFetch
from conformance.wire.records import AlgFlow, BodyBinding, CaseResult, Issuance

# the judge of each issuance requirement (spec.checks.issuance_checks)
ISSUANCE_JUDGE = {c.requirement_id: c.judge for mode in MODES for c in issuance_checks(mode)}


def judge_case(check: Check, exp, result: CaseResult) -> Verdict:
    return case_judges.judge_case(check.judge, exp, result)


def judge_issuance(check: Check, iss: Issuance) -> Verdict:
    return issuance_judges.judge_issuance(check.judge, check.subject, iss)

BASE = "http://arcp.test:8001"
PATHS = {
    "validate": "/agents/validate_compliance",
    "register": "/agents/register",
    "phase1": "/auth/agent/request_temp_token",
    "poll": "/auth/agent/validation_status",
    "refresh": "/tokens/refresh",
    "heartbeat": "/agents/agent-test/heartbeat",
}
NOW = int(time.time())
JKT_A = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
JKT_B = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
SIGNING_KEY = "not-the-target-secret-only-for-tests!"  # claims_of reads tokens unverified
DPOP_PROOF_ERROR = 'DPoP algs="ES256 EdDSA", error="invalid_dpop_proof"'
DPOP_TOKEN_ERROR = 'DPoP algs="ES256 EdDSA", error="invalid_token"'
DPOP_NO_ERROR = 'DPoP algs="ES256 EdDSA"'
ABSENT = object()


# --- synthetic responses

def exchange(status, body=None, headers=(), *, where="validate", method="POST", received_at=NOW) -> Exchange:
    text = body if isinstance(body, str) else json.dumps(body if body is not None else {})
    return Exchange(method, BASE + PATHS[where], [("Authorization", "DPoP x")], status=status,
                    response_headers=list(headers), body_text=text, received_at=received_at)


def problem(slug, *, where="validate", **changes):
    """A complete ARCP problem body for catalogue type `slug`; a change to ABSENT drops the member."""
    ptype = problem_types()[slug]
    body = {"type": ptype.uri, "title": ptype.title, "status": ptype.status, "detail": f"synthetic {slug}",
            "instance": PATHS[where], "timestamp": "2024-01-15T10:30:00Z", "request_id": "req_test_1"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ABSENT}


def refusal(slug, status=None, *, challenge=DPOP_PROOF_ERROR, content_type="application/problem+json",
            where="validate", **changes) -> Exchange:
    """An error response: problem+json of `slug`, a WWW-Authenticate challenge unless None."""
    status = status or problem_types()[slug].status
    headers = [("Content-Type", content_type)]
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    return exchange(status, problem(slug, where=where, status=changes.pop("body_status", status), **changes), headers, where=where)


DPOP_NONCE_ERROR = 'DPoP algs="ES256 EdDSA", error="use_dpop_nonce"'
SENT_NONCE = "n-sent-1"  # the nonce of the refused proof, in nonce_refusal's request


def nonce_refusal(status=401, *, challenge=DPOP_NONCE_ERROR, nonces=("n-fresh-2",), where="validate", **changes) -> Exchange:
    """A refusal for a proof's nonce: dpop-invalid problem, the challenge, DPoP-Nonce fields `nonces`;
    its request carries a proof whose nonce is SENT_NONCE (the judges read only its claims)."""
    ex = refusal("dpop-invalid", status, challenge=challenge, where=where, **changes)
    ex.response_headers += [("DPoP-Nonce", n) for n in nonces]
    proof = jwt.encode({"jti": "j", "htm": "POST", "htu": BASE + PATHS[where], "iat": NOW, "nonce": SENT_NONCE},
                       SIGNING_KEY, algorithm="HS256", headers={"typ": "dpop+jwt"})
    ex.request_headers = [*ex.request_headers, ("DPoP", proof)]
    return ex


def accepted(where="validate") -> Exchange:
    return exchange(200, {"status": "ok"}, [("Content-Type", "application/json")], where=where)


KEY_URL = "http://127.0.0.1:8002/keys/c2l0dWF0aW9uLWtleS11cmw.json"


def key_fetch(after: float, method="GET") -> KeyFetch:
    """A request to KEY_URL `after` seconds after the situation's response (negative: before it)."""
    return KeyFetch(method, KEY_URL.partition("8002")[2], "127.0.0.1", NOW + after, "python-httpx/0.27")


def key_url_result(ex: Exchange, fetches) -> CaseResult:
    """A situation whose proof named KEY_URL, with the requests to it observed (None: not observed)."""
    return CaseResult(ex, key_url=KEY_URL, key_fetches=fetches)


# --- synthetic tokens and the main flow

AUDIENCES = {"temp": "arcp:validate", "validated": "arcp:register", "access": "arcp:operations"}
TOKEN_MEMBER = {"temp": "temp_token", "validated": "validated_token", "access": "access_token"}
EXCHANGE_OF = {"temp": "phase1", "validated": "poll", "access": "register"}
WHERE = {"temp": "phase1", "validated": "poll", "access": "register"}
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


def token(subject, **changes) -> str:
    claims = {"sub": "agent-test", "agent_id": "agent-test", "aud": AUDIENCES[subject], "token_type": subject,
              "cnf": {"jkt": JKT_A}, "iat": NOW, "exp": NOW + 300}
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not ABSENT}, SIGNING_KEY, algorithm="HS256")


def refreshed(follow_up=None, **claims) -> CaseResult:
    """A refresh of an access token bound to A, answered with a token whose claims differ by `claims`."""
    new = token("access", **claims)
    return CaseResult(exchange(200, {"access_token": new, "token_type": "DPoP"}, where="refresh"),
                      presented=token("access"), follow_up=follow_up)


def token_response(subject, *, claims=None, headers=NO_STORE, **body_changes) -> Exchange:
    body = {TOKEN_MEMBER[subject]: token(subject, **(claims or {})), "token_type": "DPoP", "expires_in": 300}
    body.update(body_changes)
    body = {k: v for k, v in body.items() if v is not ABSENT}
    return exchange(200, body, [("Content-Type", "application/json"), *headers], where=WHERE[subject])


def flow(mode="required", **parts) -> Issuance:
    """A flow in which every issuance requirement holds; `parts` replaces one exchange or field."""
    fields = {
        "phase1": token_response("temp"),
        "poll": token_response("validated"),
        "register": token_response("access"),
        "phase1_defective": refusal("dpop-invalid", where="phase1"),
        "phase1_noproof": refusal("dpop-required", where="phase1", challenge=DPOP_NO_ERROR),
        "reregister": refusal("token-invalid", where="register", challenge=DPOP_TOKEN_ERROR),
        "unregistered": True,
    }
    fields.update(parts)
    return Issuance(jkt=JKT_A, **fields)


# --- synthetic flows of one proof algorithm (ISSUE-listed-alg-works)

JKT_ALG = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"  # the fresh key of an algorithm's own flow


def alg_flow(alg, *, stop=None, unbound=None, jkt=None, cnf=None) -> AlgFlow:
    """An algorithm's flow that went end to end with tokens bound to its key (JKT_ALG); `stop`
    (step, exchange) ends it with that exchange at that step; `unbound` names a step whose token
    carries `jkt` (None: no cnf); `cnf` replaces the cnf of every token."""
    def bound(subject, step):
        if cnf is not None:
            return {"cnf": cnf}
        return {"cnf": {"jkt": jkt} if jkt else ABSENT} if step == unbound else {"cnf": {"jkt": JKT_ALG}}

    steps = [
        ("phase 1", token_response("temp", claims=bound("temp", "phase 1"))),
        ("phase 2 validate", exchange(202, {"status": "pending", "validation_id": "v1"})),
        ("phase 2 poll", token_response("validated", claims=bound("validated", "phase 2 poll"), status="passed")),
        ("phase 3 register", token_response("access", claims=bound("access", "phase 3 register"))),
        ("unregister", exchange(200, {"status": "success"}, where="register", method="DELETE")),
    ]
    if stop is not None:
        names = [name for name, _ in steps]
        steps = steps[:names.index(stop[0])] + [stop]
    return AlgFlow(alg, jkt=JKT_ALG, steps=steps)


def with_algs(*flows: AlgFlow, mode="required", **parts) -> Issuance:
    """The main flow (key A, EdDSA) with the given algorithms' flows."""
    iss = flow(mode, **parts)
    iss.algs = {"EdDSA": AlgFlow("EdDSA", main=True, jkt=JKT_A), **{f.alg: f for f in flows}}
    return iss


# --- synthetic phase-2 flows whose body names key B (ISSUE-binding-from-proof)

def with_body(variant, *, body_poll=None, body_register=None, **parts) -> Issuance:
    """The main flow with the body-binding flow `variant`: by default its validated and access
    tokens are bound to the proving key A; `body_poll` / `body_register` replace those exchanges
    (ABSENT: none); `parts` change the main flow."""
    iss = flow(**parts)
    binding = BodyBinding(variant, key_jkt=JKT_A, body_jkt=JKT_B, validate=exchange(202, {"status": "pending", "validation_id": "v1"}))
    binding.poll = token_response("validated", status="passed") if body_poll is None else (None if body_poll is ABSENT else body_poll)
    binding.register = token_response("access") if body_register is None else (None if body_register is ABSENT else body_register)
    iss.body_bindings = {variant: binding}
    return iss


# --- the table

@dataclass(frozen=True)
class Row:
    name: str
    requirement: str
    judge: str
    subject: str  # a case id for case judges, an issuance subject for issuance judges
    mode: str
    given: Exchange | Issuance | CaseResult
    expected: str
    control_ok: bool = True

    @property
    def check(self) -> Check:
        case = situation_of(self.subject) if self.judge in CASE_JUDGES else None
        return Check(self.requirement, self.subject, self.judge, case)


def case_rows(requirement, judge, case_id, mode, good, bad):
    """One PASS row per good example and one FAIL row per bad example: {name: Exchange}."""
    rows = [Row(f"good-{n}", requirement, judge, case_id, mode, ex, PASS) for n, ex in good.items()]
    rows += [Row(f"bad-{n}", requirement, judge, case_id, mode, ex, FAIL) for n, ex in bad.items()]
    return rows


def outcome_rows(requirement, case_id, mode, *, accept):
    """The outcome judge: a 2xx where acceptance is expected, the expected refusal otherwise."""
    case = Case(*case_id.split(":"))
    expectation, where = expect(case, mode), case.endpoint
    server_error = refusal("internal-error", challenge=None, where=where)
    if accept:
        return case_rows(requirement, "ensure_outcome", case_id, mode, {"2xx": accepted(where)},
                         {"401": refusal("dpop-invalid", where=where), "500": server_error})
    slug = expectation.types[0]
    status = expectation.statuses[0] if expectation.statuses else 403
    bad = {"2xx": accepted(where), "500": server_error}
    if expectation.statuses == (401,):
        bad["403"] = refusal(slug, 403, where=where)
    return case_rows(requirement, "ensure_outcome", case_id, mode, {f"{status}-{slug}": refusal(slug, status, where=where)}, bad)


def issuance_rows(requirement, subject, mode, good, bad, skip=None, inconclusive=None):
    judge = ISSUANCE_JUDGE[requirement]
    rows = [Row(f"good-{n}", requirement, judge, subject, mode, iss, PASS) for n, iss in good.items()]
    rows += [Row(f"bad-{n}", requirement, judge, subject, mode, iss, FAIL) for n, iss in bad.items()]
    rows += [Row(f"skip-{n}", requirement, judge, subject, mode, iss, NOT_APPLICABLE) for n, iss in (skip or {}).items()]
    rows += [Row(f"inconclusive-{n}", requirement, judge, subject, mode, iss, INCONCLUSIVE) for n, iss in (inconclusive or {}).items()]
    return rows


# phase 1 with a valid proof refused (a wrong agent key): the positive control of every phase-1 defect
CONTROL_REFUSED = refusal("authentication-failed", where="phase1")


def token_in(subject, **claims) -> dict:
    """flow() parts with the `subject` token's claims changed."""
    return {EXCHANGE_OF[subject]: token_response(subject, claims=claims)}


PROBLEM_CASE = "validate:bound:none"  # a 401 dpop-required refusal with the whole §7 apparatus judged

ROWS: list[Row] = [
    # outcome (§6): acceptance expected
    *outcome_rows("BIND-bound-valid", "validate:bound:valid", "required", accept=True),
    *outcome_rows("BIND-dpop-scheme", "register:bound:dpop-scheme", "required", accept=True),
    *outcome_rows("PROOF-htu-query-ignored", "validate:bound:htu-with-query", "optional", accept=True),
    *outcome_rows("PROOF-htu-normalized", "register:bound:htu-unnormalized", "required", accept=True),
    *outcome_rows("PROOF-unknown-header-ignored", "register:bound:unknown-header", "required", accept=True),
    *outcome_rows("BIND-unbound-proof-optional", "validate:unbound:valid", "optional", accept=True),  # SHOULD
    *outcome_rows("BIND-unbound-noproof-optional", "register:legacy:none", "optional", accept=True),
    *outcome_rows("BIND-disabled-ignored", "validate:legacy:htm-wrong", "disabled", accept=True),
    # outcome (§5, §6): refusal expected
    *outcome_rows("BIND-bound-noproof", "validate:bound:none", "required", accept=False),
    *outcome_rows("BIND-mismatch", "register:mismatched:valid", "optional", accept=False),
    *outcome_rows("BIND-unbound-proof-required", "validate:unbound:valid", "required", accept=False),
    *outcome_rows("BIND-unbound-noproof-required", "register:legacy:none", "required", accept=False),
    *outcome_rows("BIND-unbound-defect-required", "validate:unbound:htm-wrong", "required", accept=False),
    *outcome_rows("BIND-unbound-defect-optional", "validate:legacy:htm-wrong", "optional", accept=False),
    *outcome_rows("PROOF-replay", "validate:bound:replay", "required", accept=False),
    *outcome_rows("PROOF-single-header", "validate:bound:two-headers", "required", accept=False),
    *outcome_rows("PROOF-claims-missing", "validate:bound:jti-missing", "required", accept=False),
    *outcome_rows("PROOF-typ", "register:bound:typ-wrong", "optional", accept=False),
    *outcome_rows("PROOF-alg", "validate:bound:alg-hs256", "required", accept=False),
    *outcome_rows("PROOF-signature", "validate:bound:signature-other-key", "required", accept=False),
    *outcome_rows("PROOF-jwk-private", "validate:bound:jwk-private", "required", accept=False),
    *outcome_rows("PROOF-htm-mismatch", "validate:bound:htm-wrong", "required", accept=False),
    *outcome_rows("PROOF-htu-mismatch", "validate:bound:htu-port", "required", accept=False),
    *outcome_rows("PROOF-iat-old", "validate:bound:iat-old", "required", accept=False),
    *outcome_rows("PROOF-iat-future", "validate:bound:iat-future", "required", accept=False),  # SHOULD
    *outcome_rows("PROOF-ath-wrong", "register:bound:ath-wrong", "required", accept=False),
    *outcome_rows("PROOF-ath-missing", "register:bound:ath-missing", "required", accept=False),  # SHOULD
    *outcome_rows("PROOF-crit-unknown", "validate:bound:crit-unknown", "optional", accept=False),
    *outcome_rows("PROOF-key-reference", "validate:bound:kid-instead", "required", accept=False),
    *outcome_rows("PROOF-key-reference", "register:bound:jku-instead", "optional", accept=False),
    *outcome_rows("PROOF-key-reference", "heartbeat:bound:x5c-instead", "required", accept=False),
    *outcome_rows("PROOF-exp-past", "register:bound:exp-past", "required", accept=False),
    *outcome_rows("PROOF-nbf-future", "validate:bound:nbf-future", "optional", accept=False),
    *outcome_rows("PROOF-jwk-fit", "validate:bound:jwk-x25519", "required", accept=False),
    *outcome_rows("PROOF-jwk-fit", "heartbeat:bound:jwk-curve-mismatch", "optional", accept=False),
    *outcome_rows("PROOF-jwk-rsa-short", "register:bound:jwk-rsa-short", "required", accept=False),  # SHOULD
    *outcome_rows("TOKEN-invalid", "validate:expired:valid", "required", accept=False),
    *outcome_rows("TOKEN-invalid", "heartbeat:signature-other:valid", "optional", accept=False),
    *outcome_rows("TOKEN-invalid", "refresh:alg-hmac-other:valid", "disabled", accept=False),
    *outcome_rows("TOKEN-alg-none", "register:alg-none:valid", "required", accept=False),
    *outcome_rows("TOKEN-alg-none", "refresh:alg-none:valid", "optional", accept=False),
    *outcome_rows("TOKEN-alg-none", "validate:alg-none:valid", "disabled", accept=False),
    *outcome_rows("TOKEN-missing-auth", "register:missing:none", "disabled", accept=False),
    *outcome_rows("TOKEN-wrong-phase-refused", "validate:wrong-phase:valid", "optional", accept=False),
    *case_rows("TOKEN-wrong-phase-refused", "ensure_outcome", "validate:wrong-phase:valid", "optional",
               {"401": refusal("token-invalid", challenge=DPOP_TOKEN_ERROR)}, {}),
    *case_rows("TOKEN-invalid", "ensure_outcome", "validate:expired:valid", "required",
               {"401-authentication-failed": refusal("authentication-failed")}, {}),
    # refresh (§6): the refusals without a proof or with another key's, what the new token keeps, and its use
    *outcome_rows("ISSUE-refresh-proof-required", "refresh:bound:none", "required", accept=False),
    *outcome_rows("ISSUE-refresh-proof-required", "refresh:mismatched:valid", "required", accept=False),
    *case_rows("ISSUE-refresh-keeps-binding", "ensure_refresh_keeps_binding", "refresh:bound:valid", "required",
               {"all-kept": refreshed()},
               {"cnf-dropped": refreshed(cnf=ABSENT), "aud-dropped": refreshed(aud=ABSENT),
                "token-type-changed": refreshed(token_type="bearer"), "rebound": refreshed(cnf={"jkt": JKT_B}),
                "no-token": CaseResult(exchange(200, {"token_type": "DPoP"}, where="refresh"), presented=token("access"))}),
    *case_rows("ISSUE-refresh-token-works", "ensure_refreshed_token_works", "refresh:bound:valid", "optional",
               {"accepted": refreshed(follow_up=accepted("heartbeat"))},
               {"refused": refreshed(follow_up=refusal("token-invalid", where="heartbeat", challenge=DPOP_TOKEN_ERROR))}),
    # a proof's key URL (§5, RFC 8725 §3.10): the agent endpoint's record of requests to it
    *case_rows("PROOF-key-url-not-fetched", "ensure_key_url_not_fetched", "validate:bound:jku-instead", "required",
               {"not-fetched": key_url_result(refusal("dpop-invalid"), ()),
                "not-fetched-accepted": key_url_result(accepted(), ())},
               {"fetched-and-refused": key_url_result(refusal("dpop-invalid"), (key_fetch(-0.05),)),
                "fetched-late": key_url_result(accepted(), (key_fetch(0.4), key_fetch(0.5)))}),
    *case_rows("PROOF-key-url-not-fetched", "ensure_key_url_not_fetched", "metrics-get:bound:x5u-instead", "optional",
               {"not-fetched": key_url_result(refusal("dpop-invalid", where="heartbeat"), ())},
               {"fetched": key_url_result(refusal("dpop-invalid", where="heartbeat"), (key_fetch(0.0, "HEAD"),))}),
    Row("unobserved", "PROOF-key-url-not-fetched", "ensure_key_url_not_fetched", "validate:bound:jku-instead", "required",
        key_url_result(refusal("dpop-invalid"), None), INCONCLUSIVE),
    Row("unanswered", "PROOF-key-url-not-fetched", "ensure_key_url_not_fetched", "validate:bound:x5u-instead", "optional",
        CaseResult(None, reason="phase 1 issued no temp token", key_url=KEY_URL), INCONCLUSIVE),
    # problem_type
    *case_rows("BIND-problem-type", "ensure_problem_type", "validate:bound:jti-missing", "required",
               {"dpop-invalid": refusal("dpop-invalid")},
               {"dpop-required": refusal("dpop-required"), "not-a-problem": exchange(401, "Unauthorized"),
                "no-type": refusal("dpop-invalid", type=ABSENT)}),
    *case_rows("BIND-problem-type", "ensure_problem_type", "validate:unbound:none", "required",
               {"dpop-required": refusal("dpop-required"), "token-not-dpop-bound": refusal("token-not-dpop-bound")},
               {"token-invalid": refusal("token-invalid")}),
    *case_rows("BIND-problem-type", "ensure_problem_type", "register:expired:valid", "disabled",
               {"token-invalid": refusal("token-invalid"), "authentication-failed": refusal("authentication-failed")},
               {"dpop-invalid": refusal("dpop-invalid")}),
    *case_rows("BIND-advisory-type", "ensure_problem_type", "validate:bound:iat-future", "required",
               {"dpop-invalid": refusal("dpop-invalid")}, {"token-invalid": refusal("token-invalid")}),
    *case_rows("BIND-advisory-type", "ensure_problem_type", "validate:bound:none", "optional",
               {"dpop-required": refusal("dpop-required")}, {"dpop-invalid": refusal("dpop-invalid")}),
    # wrong_phase_401
    *case_rows("TOKEN-wrong-phase-401", "ensure_wrong_phase_is_401", "register:wrong-phase:valid", "required",
               {"401-token-invalid": refusal("token-invalid", challenge=DPOP_TOKEN_ERROR)},
               {"403-token-invalid": refusal("token-invalid", 403, challenge=None),
                "401-authentication-failed": refusal("authentication-failed")}),
    # problem details (§7)
    *case_rows("PROBLEM-no-5xx", "ensure_no_5xx", PROBLEM_CASE, "required",
               {"401": refusal("dpop-required")},
               {"500": refusal("internal-error", challenge=None), "500-configuration": refusal("configuration-error", challenge=None),
                "502-uncatalogued": exchange(502, "Bad Gateway", [("Content-Type", "text/html")])}),
    *case_rows("PROBLEM-content-type", "ensure_problem_content_type", PROBLEM_CASE, "required",
               {"problem+json": refusal("dpop-required"),
                "with-charset": refusal("dpop-required", content_type="application/problem+json; charset=utf-8"),
                "upper-case": refusal("dpop-required", content_type="Application/Problem+JSON")},
               {"json": refusal("dpop-required", content_type="application/json"),
                "text": refusal("dpop-required", content_type="text/plain"),
                "none": exchange(401, problem("dpop-required"), [("WWW-Authenticate", DPOP_NO_ERROR)])}),
    *case_rows("PROBLEM-members", "ensure_problem_members", PROBLEM_CASE, "required",
               {"full": refusal("dpop-required"), "only-required": refusal("dpop-required", instance=ABSENT, timestamp=ABSENT, request_id=ABSENT)},
               {"no-detail": refusal("dpop-required", detail=ABSENT), "no-type": refusal("dpop-required", type=ABSENT),
                "relative-type": refusal("dpop-required", type="dpop-required"),
                "string-status": refusal("dpop-required", body_status="401"),
                "empty-title": refusal("dpop-required", title=""),
                "not-json": exchange(401, "Unauthorized", [("Content-Type", "application/problem+json")]),
                "json-array": exchange(401, [problem("dpop-required")], [("Content-Type", "application/problem+json")])}),
    *case_rows("PROBLEM-status-match", "ensure_problem_status_matches", PROBLEM_CASE, "required",
               {"401": refusal("dpop-required")},
               {"400-in-body": refusal("dpop-required", body_status=400), "string": refusal("dpop-required", body_status="401"),
                "missing": refusal("dpop-required", body_status=ABSENT)}),
    *case_rows("PROBLEM-recommended", "ensure_recommended_members", PROBLEM_CASE, "required",
               {"all": refusal("dpop-required"), "instance-full-url": refusal("dpop-required", instance=BASE + PATHS["validate"])},
               {"no-request-id": refusal("dpop-required", request_id=ABSENT),
                "bad-timestamp": refusal("dpop-required", timestamp="15/01/2024"),
                "no-instance": refusal("dpop-required", instance=ABSENT),
                "other-instance": refusal("dpop-required", instance="/agents/register")}),
    *case_rows("PROBLEM-title", "ensure_catalogue_title", PROBLEM_CASE, "required",
               {"catalogue-title": refusal("dpop-required")},
               {"heading-not-title": refusal("dpop-required", title="DPoP Required"), "missing": refusal("dpop-required", title=ABSENT)}),
    # WWW-Authenticate (§7)
    *case_rows("CHALLENGE-present", "ensure_challenge_present", PROBLEM_CASE, "required",
               {"dpop": refusal("dpop-required", challenge=DPOP_NO_ERROR), "bearer": refusal("dpop-required", challenge='Bearer realm="arcp"')},
               {"absent": refusal("dpop-required", challenge=None), "empty": refusal("dpop-required", challenge="")}),
    *case_rows("CHALLENGE-dpop-scheme", "ensure_dpop_challenge", PROBLEM_CASE, "required",
               {"dpop": refusal("dpop-required", challenge=DPOP_NO_ERROR),
                "dpop-second": refusal("dpop-required", challenge='Bearer realm="arcp", dpop algs="ES256"')},
               {"bearer-only": refusal("dpop-required", challenge='Bearer realm="arcp"'), "absent": refusal("dpop-required", challenge=None)}),
    *case_rows("CHALLENGE-algs", "ensure_algs_listed", PROBLEM_CASE, "required",
               {"algs": refusal("dpop-required", challenge=DPOP_NO_ERROR)},
               {"no-algs": refusal("dpop-required", challenge='DPoP error="invalid_token"'),
                "empty-algs": refusal("dpop-required", challenge='DPoP algs=""')}),
    *case_rows("CHALLENGE-error", "ensure_challenge_error", PROBLEM_CASE, "required",
               {"invalid_token": refusal("dpop-required", challenge=DPOP_TOKEN_ERROR),
                "invalid_dpop_proof": refusal("dpop-required", challenge=DPOP_PROOF_ERROR),
                "on-bearer": refusal("dpop-required", challenge='DPoP algs="ES256", Bearer error="invalid_token"')},
               {"absent": refusal("dpop-required", challenge=DPOP_NO_ERROR),
                "other": refusal("dpop-required", challenge='DPoP algs="ES256", error="insufficient_scope"')}),
    *case_rows("CHALLENGE-error", "ensure_challenge_error", "validate:bound:htm-wrong", "required",
               {"invalid_dpop_proof": refusal("dpop-invalid", challenge=DPOP_PROOF_ERROR)},
               {"invalid_token": refusal("dpop-invalid", challenge=DPOP_TOKEN_ERROR)}),
    *case_rows("CHALLENGE-error", "ensure_challenge_error", "validate:missing:none", "disabled",
               {"no-error": refusal("authentication-failed", challenge='Bearer realm="arcp"')},
               {"error-without-credentials": refusal("authentication-failed", challenge='Bearer error="invalid_token"')}),
    # malformed requests (§6, §7): a body refused with any 4xx, a junk Authorization header with 401
    *case_rows("PROBLEM-malformed-refused", "ensure_outcome", "malformed:validate:not-json", "required",
               {"400-invalid-input": refusal("invalid-input", challenge=None), "422": refusal("validation-failed", challenge=None),
                "413": refusal("request-too-large", challenge=None), "401": refusal("authentication-failed")},
               {"2xx": accepted(), "500": refusal("internal-error", challenge=None),
                "502-text": exchange(502, "Bad Gateway", [("Content-Type", "text/html")])}),
    *case_rows("PROBLEM-malformed-refused", "ensure_outcome", "malformed:phase1:wrong-type", "disabled",
               {"422": refusal("validation-failed", challenge=None, where="phase1")}, {"200": token_response("temp")}),
    *case_rows("TOKEN-malformed-auth", "ensure_outcome", "malformed:poll:auth-empty", "optional",
               {"401": refusal("authentication-failed", where="poll", challenge='Bearer realm="arcp"')},
               {"2xx": accepted("poll"), "400": refusal("invalid-input", challenge=None, where="poll"),
                "403": refusal("authentication-failed", 403, challenge=None, where="poll"),
                "500": refusal("internal-error", challenge=None, where="poll")}),
    *case_rows("BIND-problem-type", "ensure_problem_type", "malformed:register:auth-unknown-scheme", "required",
               {"authentication-failed": refusal("authentication-failed", where="register")},
               {"token-invalid": refusal("token-invalid", where="register"),
                "plain-text": exchange(401, "Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", DPOP_TOKEN_ERROR)], where="register")}),
    *case_rows("BIND-problem-type", "ensure_problem_type", "malformed:refresh:auth-odd-chars", "disabled",
               {"authentication-failed": refusal("authentication-failed", where="refresh"), "token-invalid": refusal("token-invalid", where="refresh")},
               {"dpop-invalid": refusal("dpop-invalid", where="refresh")}),
    *case_rows("PROBLEM-content-type", "ensure_problem_content_type", "malformed:heartbeat:auth-odd-chars", "required",
               {"problem+json": refusal("authentication-failed", where="heartbeat")},
               {"plain-text": exchange(401, "Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", DPOP_TOKEN_ERROR)], where="heartbeat")}),
    *case_rows("CHALLENGE-present", "ensure_challenge_present", "malformed:validate:auth-unknown-scheme", "optional",
               {"bearer": refusal("authentication-failed", challenge='Bearer realm="arcp"')}, {"absent": refusal("authentication-failed", challenge=None)}),
    # nonce (§5): refusals for the proof's nonce, at a resource and at phase 1
    *outcome_rows("PROOF-nonce-missing", "validate:bound:nonce-missing", "required", accept=False),
    *outcome_rows("PROOF-nonce-unknown", "register:bound:nonce-unknown", "optional", accept=False),
    *case_rows("CHALLENGE-nonce", "ensure_nonce_challenge", "validate:bound:nonce-missing", "required",
               {"use_dpop_nonce": nonce_refusal(),
                "beside-bearer": nonce_refusal(challenge='Bearer realm="arcp", DPoP algs="ES256", error=use_dpop_nonce')},
               {"invalid_dpop_proof": nonce_refusal(challenge=DPOP_PROOF_ERROR), "no-nonce-header": nonce_refusal(nonces=()),
                "on-bearer-only": nonce_refusal(challenge='Bearer error="use_dpop_nonce"'),
                "two-nonce-headers": nonce_refusal(nonces=("a", "b")), "not-nqchar": nonce_refusal(nonces=('say "hi"',)),
                "stale-nonce": nonce_refusal(nonces=(SENT_NONCE,)), "400": nonce_refusal(400)}),
    *issuance_rows("PROOF-nonce-missing", "phase1:nonce-missing", "required",
                   {"400": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(400, where="phase1", error="use_dpop_nonce")})},
                   {"issued": flow(nonce_issued=True, phase1_nonce={"nonce-missing": token_response("temp")})},
                   skip={"no-nonce-given": flow()}),
    *issuance_rows("PROOF-nonce-unknown", "phase1:nonce-unknown", "optional",
                   {"401": flow(nonce_issued=True, phase1_nonce={"nonce-unknown": nonce_refusal(where="phase1")})},
                   {"issued": flow(nonce_issued=True, phase1_nonce={"nonce-unknown": token_response("temp")})},
                   skip={"no-nonce-given": flow()}),
    *issuance_rows("CHALLENGE-nonce", "phase1:nonce-missing", "required",
                   {"400-use_dpop_nonce": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(400, where="phase1", error="use_dpop_nonce")}),
                    "401-challenge": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(where="phase1")})},
                   {"400-invalid_dpop_proof": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(400, where="phase1", error="invalid_dpop_proof")}),
                    "400-no-nonce-header": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(400, where="phase1", nonces=(), error="use_dpop_nonce")}),
                    "403": flow(nonce_issued=True, phase1_nonce={"nonce-missing": nonce_refusal(403, where="phase1")})},
                   skip={"no-nonce-given": flow(), "issued": flow(nonce_issued=True, phase1_nonce={"nonce-missing": token_response("temp")})}),
    # issuance (§4, §6)
    *issuance_rows("ISSUE-cnf-jkt", "phase1", "required", {"bound-to-a": flow()},
                   {"bound-to-b": flow(**token_in("temp", cnf={"jkt": JKT_B})), "unbound": flow(**token_in("temp", cnf=ABSENT))}),
    *issuance_rows("ISSUE-token-type-dpop", "phase1", "optional",
                   {"DPoP": flow(), "lower-case": flow(phase1=token_response("temp", token_type="dpop"))},
                   {"Bearer": flow(phase1=token_response("temp", token_type="Bearer")),
                    "absent": flow(phase1=token_response("temp", token_type=ABSENT))},
                   skip={"unbound": flow(phase1=token_response("temp", claims={"cnf": ABSENT}, token_type="Bearer"))}),
    *issuance_rows("ISSUE-defective-proof", "phase1", "required",
                   {"401-dpop-invalid": flow(),
                    "400-oauth": flow(phase1_defective=exchange(400, {"error": "invalid_dpop_proof"}, where="phase1"))},
                   {"issued": flow(phase1_defective=token_response("temp")),
                    "issued-unbound": flow(phase1_defective=token_response("temp", claims={"cnf": ABSENT})),
                    "401-token-invalid": flow(phase1_defective=refusal("token-invalid", where="phase1")),
                    "400-other-error": flow(phase1_defective=exchange(400, {"error": "invalid_request"}, where="phase1"))},
                   inconclusive={"control-refused": flow(phase1=CONTROL_REFUSED, phase1_defective=refusal("authentication-failed", where="phase1"))}),
    *issuance_rows("ISSUE-noproof-required", "phase1", "required", {"401-dpop-required": flow()},
                   {"issued": flow(phase1_noproof=token_response("temp", claims={"cnf": ABSENT})),
                    "401-dpop-invalid": flow(phase1_noproof=refusal("dpop-invalid", where="phase1"))},
                   inconclusive={"control-refused": flow(phase1=CONTROL_REFUSED, phase1_noproof=refusal("authentication-failed", where="phase1"))}),
    *[row for subject in ("validated", "access") for row in issuance_rows(
        "ISSUE-binding-kept", subject, "required", {"bound-to-a": flow()},
        {"bound-to-b": flow(**token_in(subject, cnf={"jkt": JKT_B})), "unbound": flow(**token_in(subject, cnf=ABSENT))})],
    *[row for subject in ("temp", "validated", "access") for row in issuance_rows(
        "ISSUE-audience", subject, "disabled",
        {"aud": flow(), "aud-list": flow(**token_in(subject, aud=["other", AUDIENCES[subject]]))},
        {"other-phase": flow(**token_in(subject, aud="arcp:other")), "absent": flow(**token_in(subject, aud=ABSENT))})],
    *[row for subject in ("temp", "validated", "access") for row in issuance_rows(
        "ISSUE-token-type-claim", subject, "optional", {"token-type": flow()},
        {"other-phase": flow(**token_in(subject, token_type="refresh")), "absent": flow(**token_in(subject, token_type=ABSENT))})],
    *[row for subject in ("temp", "validated", "access") for row in issuance_rows(
        "ISSUE-lifetime", subject, "required",
        {"agrees": flow(), "within-tolerance": flow(**{EXCHANGE_OF[subject]: token_response(subject, expires_in=304)})},
        {"off-by-60s": flow(**{EXCHANGE_OF[subject]: token_response(subject, expires_in=360)}),
         "no-exp": flow(**token_in(subject, exp=ABSENT))},
        skip={"no-expires-in": flow(**{EXCHANGE_OF[subject]: token_response(subject, expires_in=ABSENT)})})],
    *[row for subject in ("phase1", "poll", "register") for row in issuance_rows(
        "ISSUE-no-store", subject, "optional",
        {"both": flow(),
         "among-directives": flow(**{subject: token_response({"phase1": "temp", "poll": "validated", "register": "access"}[subject],
                                                             headers=(("Cache-Control", "private, No-Store"), ("Pragma", "no-cache")))})},
        {"no-pragma": flow(**{subject: token_response({"phase1": "temp", "poll": "validated", "register": "access"}[subject],
                                                      headers=(("Cache-Control", "no-store"),))}),
         "no-cache-only": flow(**{subject: token_response({"phase1": "temp", "poll": "validated", "register": "access"}[subject],
                                                          headers=(("Cache-Control", "no-cache"), ("Pragma", "no-cache")))})})],
    *issuance_rows("ISSUE-single-use", "register", "required", {"second-refused": flow()},
                   {"second-accepted": flow(reregister=token_response("access"))}),
    # every listed algorithm (§5): one flow each, judged against the main flow
    *issuance_rows("ISSUE-listed-alg-works", "alg:ES384", "required",
                   {"end-to-end": with_algs(alg_flow("ES384")), "optional": with_algs(alg_flow("ES384"), mode="optional"),
                    "main-flow-unbound": with_algs(alg_flow("ES384", cnf=ABSENT), **token_in("temp", cnf=ABSENT),
                                                   **token_in("validated", cnf=ABSENT), **token_in("access", cnf=ABSENT))},
                   {"phase1-refused": with_algs(alg_flow("ES384", stop=("phase 1", refusal("dpop-invalid", where="phase1")))),
                    "validate-refused": with_algs(alg_flow("ES384", stop=("phase 2 validate", refusal("dpop-invalid")))),
                    "register-refused": with_algs(alg_flow("ES384", stop=("phase 3 register", refusal("dpop-invalid", where="register")))),
                    "unregister-refused": with_algs(alg_flow("ES384", stop=("unregister", refusal("dpop-invalid", where="register")))),
                    "temp-unbound": with_algs(alg_flow("ES384", unbound="phase 1")),
                    "access-bound-to-a": with_algs(alg_flow("ES384", unbound="phase 3 register", jkt=JKT_A))},
                   {"not-listed": with_algs(AlgFlow("ES384", listed=False))}),
    *issuance_rows("ISSUE-binding-from-proof", "body:dpop_jkt", "required",
                   {"bound-to-prover": with_body("dpop_jkt"),
                    "unbound": with_body("dpop_jkt", body_poll=token_response("validated", claims={"cnf": ABSENT}), body_register=ABSENT),
                    "refused": with_body("dpop_jkt", body_poll=ABSENT, body_register=ABSENT)},
                   {"validated-to-body-key": with_body("dpop_jkt", body_poll=token_response("validated", claims={"cnf": {"jkt": JKT_B}}), body_register=ABSENT),
                    "access-to-body-key": with_body("dpop_jkt", body_register=token_response("access", claims={"cnf": {"jkt": JKT_B}}))}),
    *issuance_rows("ISSUE-binding-from-proof", "body:dpop_jkt-noproof", "disabled", {"unbound": with_body("dpop_jkt-noproof")},
                   {"to-body-key": with_body("dpop_jkt-noproof", body_poll=token_response("validated", claims={"cnf": {"jkt": JKT_B}}))}),
    *issuance_rows("ISSUE-listed-alg-works", "alg:EdDSA", "optional", {"main-flow": with_algs(AlgFlow("EdDSA", main=True, jkt=JKT_A))},
                   {"refused": with_algs(alg_flow("EdDSA", stop=("phase 2 poll", token_response("validated", status="failed", validated_token=ABSENT))))}),
]


def row_id(row: Row) -> str:
    return f"{row.requirement}/{row.judge}@{row.subject}[{row.mode}]-{row.name}"


def verdict_of(row: Row) -> Verdict:
    if isinstance(row.given, Issuance):
        return judge_issuance(row.check, row.given)
    result = row.given if isinstance(row.given, CaseResult) else CaseResult(row.given, control_ok=row.control_ok)
    return judge_case(row.check, expectation(row.check.case, row.mode), result)


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_judge_row(row):
    generated = issuance_checks(row.mode) if isinstance(row.given, Issuance) else fixed_checks(row.mode)
    assert row.check in generated, f"{row.check.id} ({row.judge}) is not a check of mode {row.mode}"
    verdict = verdict_of(row)
    assert verdict.outcome == row.expected, verdict.message
    if row.expected == FAIL:
        assert verdict.message, "a failure says why"


def generated_pairs() -> set[tuple[str, str]]:
    return {(c.requirement_id, c.judge) for mode in MODES for c in fixed_checks(mode)}


def test_every_generated_check_has_a_good_and_a_bad_example():
    """A new (requirement, judge) pair without self-test rows here breaks the build."""
    shown = {outcome: {(r.requirement, r.judge) for r in ROWS if r.expected == outcome} for outcome in (PASS, FAIL)}
    missing = {pair: [o for o in (PASS, FAIL) if pair not in shown[o]] for pair in generated_pairs()}
    missing = {pair: outcomes for pair, outcomes in missing.items() if outcomes}
    assert not missing, f"no self-test example (requirement, judge) -> missing verdicts: {missing}"


def test_every_judge_is_reachable_and_exercised():
    judges = {judge for _, judge in generated_pairs()}
    assert set(CASE_JUDGES) | set(ISSUANCE_JUDGES) == judges
    assert {r.judge for r in ROWS} == judges


# --- every defect and control, through the outcome judge

@pytest.mark.parametrize("mode", ["required", "optional"])
@pytest.mark.parametrize("proof", sorted(DEFECTS))
def test_every_defect_must_be_refused(proof, mode):
    case = Case("validate", "bound", proof)
    exp = expect(case, mode)
    check = Check(exp.requirement, case.id, "ensure_outcome", case)
    assert not exp.accept and exp.types == ("dpop-invalid",)
    assert judge_case(check, exp, CaseResult(refusal("dpop-invalid"))).outcome == PASS
    assert judge_case(check, exp, CaseResult(accepted())).outcome == FAIL


@pytest.mark.parametrize("proof", sorted(CONTROLS))
def test_every_control_must_be_accepted(proof):
    case = Case("register", "bound", proof)
    exp = expect(case, "required")
    check = Check(exp.requirement, case.id, "ensure_outcome", case)
    assert exp.accept
    assert judge_case(check, exp, CaseResult(accepted("register"))).outcome == PASS
    assert judge_case(check, exp, CaseResult(refusal("dpop-invalid", where="register"))).outcome == FAIL


# --- preconditions: verdicts that say nothing about the server

DEFECT_CASE = Case("validate", "bound", "htm-wrong")
DEFECT_CHECK = Check("PROOF-htm-mismatch", DEFECT_CASE.id, "ensure_outcome", DEFECT_CASE)


def judge_defect(result: CaseResult, check: Check = DEFECT_CHECK) -> Verdict:
    return judge_case(check, expect(check.case, "required"), result)


def test_no_exchange_is_inconclusive_with_the_reason():
    verdict = judge_defect(CaseResult(None, reason="no --agent-key given"))
    assert (verdict.outcome, verdict.message) == (INCONCLUSIVE, "no --agent-key given")
    assert judge_defect(CaseResult()).outcome == INCONCLUSIVE


def test_a_situation_a_conformant_target_cannot_be_put_in_is_not_applicable_with_the_reason():
    verdict = judge_defect(CaseResult(None, reason="the target signs its temp tokens with 'RS256'", not_applicable=True))
    assert verdict.outcome == NOT_APPLICABLE and "RS256" in verdict.message


def test_transport_error_is_inconclusive():
    ex = Exchange("POST", BASE + PATHS["validate"], [], error="ConnectError: refused", received_at=NOW)
    verdict = judge_defect(CaseResult(ex))
    assert verdict.outcome == INCONCLUSIVE and "ConnectError" in verdict.message


@pytest.mark.parametrize("slug", ["rate-limit-exceeded", "tpr-disabled"])
def test_rate_limited_or_unavailable_is_inconclusive(slug):
    assert judge_defect(CaseResult(refusal(slug, challenge=None))).outcome == INCONCLUSIVE


def test_duplicate_agent_is_inconclusive():
    assert judge_defect(CaseResult(refusal("duplicate-agent", challenge=None))).outcome == INCONCLUSIVE


def test_other_409_is_judged():
    assert judge_defect(CaseResult(refusal("duplicate-agent", 409, challenge=None, type="https://example.test/conflict"))).outcome == FAIL


@pytest.mark.parametrize("judge, requirement", [("ensure_outcome", "PROOF-htm-mismatch"), ("ensure_problem_type", "BIND-problem-type")])
def test_refusal_when_the_positive_control_failed_is_inconclusive(judge, requirement):
    check = Check(requirement, DEFECT_CASE.id, judge, DEFECT_CASE)
    assert judge_defect(CaseResult(refusal("dpop-invalid"), control_ok=False), check).outcome == INCONCLUSIVE


def test_acceptance_when_the_positive_control_failed_is_still_a_failure():
    assert judge_defect(CaseResult(accepted(), control_ok=False)).outcome == FAIL


@pytest.mark.parametrize("judge, requirement", [
    ("ensure_problem_type", "BIND-problem-type"), ("ensure_problem_content_type", "PROBLEM-content-type"), ("ensure_problem_members", "PROBLEM-members"),
    ("ensure_problem_status_matches", "PROBLEM-status-match"), ("ensure_recommended_members", "PROBLEM-recommended"), ("ensure_catalogue_title", "PROBLEM-title"),
])
def test_error_judges_skip_an_acceptance(judge, requirement):
    check = Check(requirement, DEFECT_CASE.id, judge, DEFECT_CASE)
    assert judge_defect(CaseResult(accepted()), check).outcome == NOT_APPLICABLE


@pytest.mark.parametrize("judge, requirement", [
    ("ensure_challenge_present", "CHALLENGE-present"), ("ensure_dpop_challenge", "CHALLENGE-dpop-scheme"),
    ("ensure_algs_listed", "CHALLENGE-algs"), ("ensure_challenge_error", "CHALLENGE-error"),
])
def test_challenge_judges_skip_a_non_401(judge, requirement):
    check = Check(requirement, DEFECT_CASE.id, judge, DEFECT_CASE)
    assert judge_defect(CaseResult(refusal("dpop-invalid", 400, challenge=None)), check).outcome == NOT_APPLICABLE


def test_title_skips_a_type_outside_the_catalogue():
    check = Check("PROBLEM-title", DEFECT_CASE.id, "ensure_catalogue_title", DEFECT_CASE)
    ex = refusal("dpop-invalid", type="https://example.test/other", title="Other")
    assert judge_defect(CaseResult(ex), check).outcome == NOT_APPLICABLE


def test_algs_and_challenge_error_skip_when_their_prerequisite_is_missing():
    algs = Check("CHALLENGE-algs", DEFECT_CASE.id, "ensure_algs_listed", DEFECT_CASE)
    error = Check("CHALLENGE-error", DEFECT_CASE.id, "ensure_challenge_error", DEFECT_CASE)
    assert judge_defect(CaseResult(refusal("dpop-invalid", challenge='Bearer error="invalid_token"')), algs).outcome == NOT_APPLICABLE
    assert judge_defect(CaseResult(refusal("dpop-invalid", challenge=None)), error).outcome == NOT_APPLICABLE


def test_wrong_phase_401_skips_an_acceptance():
    case = Case("validate", "wrong-phase", "valid")
    check = Check("TOKEN-wrong-phase-401", case.id, "ensure_wrong_phase_is_401", case)
    assert judge_case(check, expect(case, "required"), CaseResult(accepted())).outcome == NOT_APPLICABLE


# --- issuance preconditions

ISSUANCE_SUBJECTS = sorted({(c.requirement_id, c.subject) for c in issuance_checks("required")})


@pytest.mark.parametrize("requirement, subject", ISSUANCE_SUBJECTS, ids=lambda v: v)
def test_issuance_without_exchanges_is_inconclusive(requirement, subject):
    iss = Issuance(jkt=JKT_A, reasons={subject: "no --agent-key given"})
    assert judge_issuance(Check(requirement, subject, ISSUANCE_JUDGE[requirement]), iss).outcome == INCONCLUSIVE


@pytest.mark.parametrize("requirement, subject", [("ISSUE-cnf-jkt", "phase1"), ("ISSUE-audience", "temp"), ("ISSUE-no-store", "phase1")])
def test_issuance_refused_phase1_is_inconclusive(requirement, subject):
    iss = flow(phase1=refusal("authentication-failed", where="phase1", challenge='Bearer realm="arcp"'))
    verdict = judge_issuance(Check(requirement, subject, ISSUANCE_JUDGE[requirement]), iss)
    assert verdict.outcome == INCONCLUSIVE


def test_issuance_rate_limited_is_inconclusive():
    iss = flow(phase1=refusal("rate-limit-exceeded", where="phase1", challenge=None))
    assert judge_issuance(Check("ISSUE-cnf-jkt", "phase1", ISSUANCE_JUDGE["ISSUE-cnf-jkt"]), iss).outcome == INCONCLUSIVE


def test_single_use_is_inconclusive_without_unregistering():
    check = Check("ISSUE-single-use", "register", ISSUANCE_JUDGE["ISSUE-single-use"])
    assert judge_issuance(check, flow(unregistered=False, reregister=None)).outcome == INCONCLUSIVE
    assert judge_issuance(check, flow(register=refusal("token-invalid", where="register"))).outcome == INCONCLUSIVE


# --- the plugin's mapping of raw verdicts to pytest outcomes

class FakeConfig:
    def __init__(self, strict=False, verbosity=0):
        self.stash = {STATE: RunState()}
        self.strict = strict
        self.verbosity = verbosity

    def get_verbosity(self):
        return self.verbosity

    def getoption(self, dest):
        return {"arcp_conformance_strict": self.strict, "arcp_target_url": "http://127.0.0.1:9"}.get(dest)

    def getini(self, name):
        return None


class FakeSession:
    mode = "required"
    forger = None


SHOULD_CHECK = Check("PROOF-iat-future", "validate:bound:iat-future", "ensure_outcome", Case("validate", "bound", "iat-future"))
MUST_CHECK = DEFECT_CHECK


def run(check, verdict, strict=False, verbosity=0):
    config, item = FakeConfig(strict, verbosity), FakeItem()
    try:
        outcomes.report_verdict(config, FakeSession(), check, item, verdict, [refusal("dpop-invalid")])
    finally:
        recorded = item.stash.get(RECORD_KEY, {})
    return config.stash[STATE].records, recorded


class FakeItem:
    def __init__(self):
        self.stash = {}


def test_plugin_records_a_should_failure_as_a_warning_without_python_warnings(monkeypatch):
    monkeypatch.delenv("ARCP_CONFORMANCE_STRICT", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the console and the JUnit file show it from the record
        results, recorded = run(SHOULD_CHECK, Verdict(FAIL, "accepted a proof from the future"))
    assert results[0]["verdict"] == recorded["verdict"] == "warn"


def test_plugin_fails_a_should_failure_when_strict(monkeypatch):
    monkeypatch.delenv("ARCP_CONFORMANCE_STRICT", raising=False)
    with pytest.raises(pytest.fail.Exception, match="SHOULD"):
        run(SHOULD_CHECK, Verdict(FAIL, "accepted"), strict=True)


def test_plugin_fails_a_must_failure(monkeypatch):
    monkeypatch.delenv("ARCP_CONFORMANCE_STRICT", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pytest.fail.Exception, match=r"\[MUST\] PROOF-htm-mismatch@validate:bound:htm-wrong"):
            run(MUST_CHECK, Verdict(FAIL, "accepted"))


@pytest.mark.parametrize("verbosity", [0, 1])
def test_a_must_failure_shows_its_exchanges_only_with_v(monkeypatch, verbosity):
    monkeypatch.delenv("ARCP_CONFORMANCE_STRICT", raising=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        run(MUST_CHECK, Verdict(FAIL, "accepted"), verbosity=verbosity)
    text = str(failed.value)
    assert "accepted" in text and "Reproduce: " in text
    assert ("< 401" in text) == (verbosity > 0)  # the exchange's response line
    assert ("Requirement PROOF-htm-mismatch:" in text) == (verbosity > 0)
    if not verbosity:
        assert len(text.splitlines()) == 3  # statement, message, reproduce command


@pytest.mark.parametrize("outcome", [INCONCLUSIVE, NOT_APPLICABLE])
def test_plugin_skips_inconclusive_and_skip(outcome):
    with pytest.raises(pytest.skip.Exception, match=outcome):
        run(MUST_CHECK, Verdict(outcome, "why"))


def test_problem_helper_builds_catalogue_bodies():
    # the table's own helper: a refusal is a valid, complete ARCP problem
    ex = refusal("dpop-binding-mismatch")
    assert ex.json_member("type") == problem_uri("dpop-binding-mismatch")
    assert urlsplit(ex.url).path == ex.json_member("instance")


# --- profile §6, optional mode: "bound(A) × no proof: refused, MUST; 401 dpop-required, SHOULD"

def test_optional_mode_bound_token_without_proof_refused_with_403_is_no_must_failure():
    case, mode = Case("validate", "bound", "none"), "optional"
    ex = refusal("dpop-required", 403, challenge=None)
    must_failures = [
        check.id for check in fixed_checks(mode)
        if check.case == case and check.requirement.level == "MUST"
        and judge_case(check, expect(case, mode), CaseResult(ex)).outcome == FAIL
    ]
    assert must_failures == []


def test_required_mode_bound_token_without_proof_must_be_a_401():
    case = Case("validate", "bound", "none")
    check = Check("BIND-bound-noproof", case.id, "ensure_outcome", case)
    ex = refusal("dpop-required", 403, challenge=None)
    assert judge_case(check, expect(case, "required"), CaseResult(ex)).outcome == FAIL


# --- profile §7: "A 5xx for a malformed or invalid client request is a failure, MUST ... Catalogued gateway
# problems about an agent endpoint the client supplied (endpoint-unreachable, connection-timeout,
# operation-timeout) are exempt."

@pytest.mark.parametrize("slug", ["endpoint-unreachable", "connection-timeout", "operation-timeout"])
def test_no_5xx_exempts_catalogued_agent_endpoint_gateway_problems(slug):
    case = Case("register", "bound", "htm-wrong")
    check = Check("PROBLEM-no-5xx", case.id, "ensure_no_5xx", case)
    assert check in fixed_checks("required")
    ex = refusal(slug, challenge=None, where="register")
    assert judge_case(check, expect(case, "required"), CaseResult(ex)).outcome != FAIL


# --- every listed algorithm: what is not the algorithm's doing is not its failure

ALG_CHECK = Check("ISSUE-listed-alg-works", "alg:ES384", "ensure_listed_alg_works")


def judge_alg(iss: Issuance) -> Verdict:
    return judge_issuance(ALG_CHECK, iss)


def test_an_alg_flow_that_could_not_start_is_inconclusive():
    verdict = judge_alg(with_algs(AlgFlow("ES384", reason="phase 1 with the run's own algorithm EdDSA failed: 429")))
    assert verdict.outcome == INCONCLUSIVE and "429" in verdict.message
    assert judge_alg(flow()).outcome == INCONCLUSIVE  # no alg flow at all
    throttled = exchange(429, {"detail": "slow down"}, where="phase1")
    assert judge_alg(with_algs(alg_flow("ES384", stop=("phase 1", throttled)))).outcome == INCONCLUSIVE


def test_a_step_the_main_flow_did_not_pass_either_is_not_the_algs_failure():
    refused = refusal("dpop-invalid", where="register")
    verdict = judge_alg(with_algs(alg_flow("ES384", stop=("phase 3 register", refused)), register=refused))
    assert verdict.outcome == INCONCLUSIVE and "main flow" in verdict.message
    # the run's own algorithm: its flow is the main flow, whose steps have checks of their own
    main = with_algs(register=refused)
    assert judge_issuance(Check("ISSUE-listed-alg-works", "alg:EdDSA", "ensure_listed_alg_works"), main).outcome == INCONCLUSIVE


def test_a_failure_names_the_alg_the_step_and_what_was_answered():
    verdict = judge_alg(with_algs(alg_flow("ES384", stop=("phase 2 validate", refusal("dpop-invalid")))))
    assert verdict.outcome == FAIL
    assert verdict.message.startswith("ES384: phase 2 validate refused") and "401" in verdict.message and "dpop-invalid" in verdict.message
    verdict = judge_alg(with_algs(alg_flow("ES384", unbound="phase 2 poll", jkt=JKT_B)))
    assert verdict.outcome == FAIL and "validated token of phase 2 poll" in verdict.message and JKT_B in verdict.message


def test_a_body_binding_refusal_says_nothing_where_the_main_flow_got_no_validated_token():
    check = Check("ISSUE-binding-from-proof", "body:cnf", "ensure_binding_from_proof")
    refused = refusal("validation-failed", challenge=None)
    assert judge_issuance(check, with_body("cnf", body_poll=refused, body_register=ABSENT)).outcome == PASS
    main_failed = with_body("cnf", body_poll=refused, body_register=ABSENT, poll=token_response("validated", status="failed", validated_token=ABSENT))
    assert judge_issuance(check, main_failed).outcome == INCONCLUSIVE
    unsent = with_body("cnf")
    unsent.body_bindings["cnf"] = BodyBinding("cnf", JKT_A, JKT_B, reason="phase 1 issued no temp token")
    assert judge_issuance(check, unsent).outcome == INCONCLUSIVE


def test_binding_is_not_judged_where_the_main_flow_was_not_bound_either():
    verdict = judge_alg(with_algs(alg_flow("ES384", unbound="phase 3 register"), **token_in("access", cnf=ABSENT)))
    assert verdict.outcome == PASS and "access token is not judged here" in verdict.message

"""Checks: one requirement judged on one situation. Each judge is a small pure function
over recorded exchanges; the session supplies the exchanges, the plugin reports the verdicts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .cases import Case, Expectation, cases_for, expect
from .catalogue import Requirement, problem_types, requirement, slug_of
from .problems import PROBLEM_MEDIA_TYPE, challenges_of, media_type, schema_errors, type_errors
from .target import Exchange
from .tokens import claims_of, jkt_of

PASS, FAIL, INCONCLUSIVE, SKIP = "pass", "fail", "inconclusive", "skip"
LIFETIME_TOLERANCE = 5


WARN, INFO = "warn", "info"
VERDICTS = (PASS, FAIL, WARN, INFO, INCONCLUSIVE, SKIP)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    message: str = ""


def graded(outcome: str, level: str) -> str:
    """A broken requirement is a failure only at MUST; at SHOULD a warning, at MAY information."""
    if outcome != FAIL or level == "MUST":
        return outcome
    return WARN if level == "SHOULD" else INFO


@dataclass(frozen=True)
class Check:
    requirement_id: str
    subject: str  # a case id ("validate:bound:htm-wrong") or an issuance subject ("phase1")
    judge: str  # the name of the judge in JUDGES
    case: Case | None = None

    @property
    def id(self) -> str:
        return f"{self.requirement_id}@{self.subject}"

    @property
    def requirement(self) -> Requirement:
        return requirement(self.requirement_id)


# --- which checks a run has

PROBLEM_JUDGES = (
    ("PROB-7-no-5xx", "no_5xx"),
    ("PROB-7-content-type", "content_type"),
    ("PROB-7-members", "members"),
    ("PROB-7-status-match", "status_match"),
    ("PROB-7-recommended", "recommended"),
    ("PROB-7-title", "title"),
)


def case_checks(case: Case, exp: Expectation) -> list[Check]:
    out = [Check(exp.requirement, case.id, "outcome", case)]
    if exp.accept:
        return out
    if exp.type_requirement:
        out.append(Check(exp.type_requirement, case.id, "problem_type", case))
    if case.token == "wrong-phase":
        out.append(Check("TOKEN-6-wrong-phase-401", case.id, "wrong_phase_401", case))
    out += [Check(req, case.id, judge, case) for req, judge in PROBLEM_JUDGES]
    if 401 in exp.statuses or not exp.statuses:
        out.append(Check("AUTH-9110-www-authenticate", case.id, "www_authenticate", case))
    if exp.dpop_failure:
        out.append(Check("AUTH-9449-dpop-challenge", case.id, "dpop_challenge", case))
        out.append(Check("AUTH-9449-algs", case.id, "algs", case))
    if exp.challenge_errors is not None:
        out.append(Check("AUTH-9449-challenge-error", case.id, "challenge_error", case))
    return out


def issuance_checks(mode: str) -> list[Check]:
    dpop = mode != "disabled"
    items = [
        ("ISS-6-cnf-jkt", "phase1", dpop),
        ("ISS-5-token-type-dpop", "phase1", dpop),
        ("ISS-6-defective-proof", "phase1", dpop),
        ("ISS-6-noproof-required", "phase1", mode == "required"),
        ("ISS-6-binding-kept", "validated", dpop),
        ("ISS-6-binding-kept", "access", dpop),
        *[(req, subject, True) for req in ("ISS-4-aud", "ISS-4-token-type", "ISS-6-lifetime") for subject in ("temp", "validated", "access")],
        ("ISS-6-no-store", "phase1", True),
        ("ISS-6-no-store", "poll", True),
        ("ISS-6-no-store", "register", True),
        ("ISS-6-single-use", "register", True),
    ]
    return [Check(req, subject, req) for req, subject, wanted in items if wanted]


def binding_checks(mode: str) -> list[Check]:
    return [check for case in cases_for(mode) for check in case_checks(case, expect(case, mode))]


def all_checks(mode: str) -> list[Check]:
    return issuance_checks(mode) + binding_checks(mode)


# --- judging the situations of §6 and §7

@dataclass
class CaseResult:
    exchange: Exchange | None = None
    reason: str = ""  # why there is no exchange (inconclusive)
    control_ok: bool = True  # the same endpoint accepted a defect-free request in this run


def precondition(result: CaseResult) -> Verdict | None:
    """Verdicts that say nothing about the server: no exchange, no response, rate limited, busy identity."""
    ex = result.exchange
    if ex is None:
        return Verdict(INCONCLUSIVE, result.reason or "the situation could not be set up")
    if ex.error:
        return Verdict(INCONCLUSIVE, f"{'no response' if ex.sent else 'not sent'}: {ex.error}")
    if ex.throttled:
        return Verdict(INCONCLUSIVE, f"target answered {ex.status} (rate limited, locked out or unavailable) after honouring Retry-After")
    if ex.status == 409 and slug_of(ex.json_member("type")) == "duplicate-agent":
        return Verdict(INCONCLUSIVE, "the suite's agent was still registered (409 duplicate-agent)")
    return None


def judge_case(check: Check, exp: Expectation, result: CaseResult) -> Verdict:
    early = precondition(result)
    if early:
        return early
    return CASE_JUDGES[check.judge](result.exchange, exp, result)


def _outcome(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    if exp.accept:
        return Verdict(PASS) if ex.ok else Verdict(FAIL, f"expected acceptance (2xx), got {ex.summary()}")
    if ex.ok:
        return Verdict(FAIL, f"expected a refusal, but the target accepted: {ex.summary()}")
    if not result.control_ok:
        return Verdict(INCONCLUSIVE, "refused, but the same endpoint refused the defect-free request too (positive control failed)")
    if exp.statuses and ex.status not in exp.statuses:
        return Verdict(FAIL, f"expected {' or '.join(map(str, exp.statuses))}, got {ex.summary()}")
    if not exp.statuses and not 400 <= ex.status < 500:
        return Verdict(FAIL, f"expected a 4xx refusal, got {ex.summary()}")
    return Verdict(PASS)


def _problem_type(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    if not ex.is_error:
        return Verdict(SKIP, "not refused: the outcome check reports it")
    if not result.control_ok:
        return Verdict(INCONCLUSIVE, "positive control failed")
    body = ex.json()
    errors = type_errors(exp.types, body if isinstance(body, dict) else {})
    if errors:
        return Verdict(FAIL, f"problem type {ex.json_member('type')!r}; expected {', '.join(exp.types)} ({ex.summary()})")
    return Verdict(PASS)


def _wrong_phase_401(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    if ex.ok:
        return Verdict(SKIP, "not refused: TOKEN-6-wrong-phase reports it")
    if ex.status != 401 or slug_of(ex.json_member("type")) != "token-invalid":
        return Verdict(FAIL, f"expected 401 token-invalid, got {ex.summary()}")
    return Verdict(PASS)


def _error_only(judge):
    def wrapped(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
        if not ex.is_error:
            return Verdict(SKIP, f"not an error response ({ex.status})")
        return judge(ex)

    return wrapped


def _only_401(judge):
    def wrapped(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
        if ex.status != 401:
            return Verdict(SKIP, f"not a 401 ({ex.status})")
        return judge(ex, exp)

    return wrapped


# Gateway problems about the agent endpoint the client supplied are not client mistakes (profile §7).
GATEWAY_EXEMPT = ("endpoint-unreachable", "connection-timeout", "operation-timeout")


def _no_5xx(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    if ex.status >= 500 and slug_of(ex.json_member("type")) not in GATEWAY_EXEMPT:
        return Verdict(FAIL, f"a client mistake answered with {ex.summary()}: {str(ex.json_member('detail'))[:200]}")
    return Verdict(PASS)


@_error_only
def _content_type(ex: Exchange) -> Verdict:
    got = media_type(ex.header("content-type"))
    return Verdict(PASS) if got == PROBLEM_MEDIA_TYPE else Verdict(FAIL, f"Content-Type {got or '(none)'!r}, expected {PROBLEM_MEDIA_TYPE}")


@_error_only
def _members(ex: Exchange) -> Verdict:
    body = ex.json()
    if not isinstance(body, dict):
        return Verdict(FAIL, "the error body is not a JSON object")
    errors = schema_errors("arcp-problem", body)
    return Verdict(FAIL, "; ".join(errors)) if errors else Verdict(PASS)


@_error_only
def _status_match(ex: Exchange) -> Verdict:
    status = ex.json_member("status")
    return Verdict(PASS) if status == ex.status else Verdict(FAIL, f"problem status {status!r}, HTTP status {ex.status}")


@_error_only
def _recommended(ex: Exchange) -> Verdict:
    body = ex.json()
    errors = schema_errors("arcp-problem-recommended", body if isinstance(body, dict) else {})
    instance = ex.json_member("instance")
    path = urlsplit(ex.url).path
    if isinstance(instance, str) and instance not in (path, ex.url):
        errors.append(f"instance {instance!r} is not the request path {path!r}")
    return Verdict(FAIL, "; ".join(errors)) if errors else Verdict(PASS)


@_error_only
def _title(ex: Exchange) -> Verdict:
    slug = slug_of(ex.json_member("type"))
    if slug is None:
        return Verdict(SKIP, "type is not a catalogue type")
    want = problem_types()[slug].title
    got = ex.json_member("title")
    return Verdict(PASS) if got == want else Verdict(FAIL, f"title {got!r}, catalogue title of {slug} is {want!r}")


@_only_401
def _www_authenticate(ex: Exchange, exp: Expectation) -> Verdict:
    return Verdict(PASS) if challenges_of(ex.response_headers) else Verdict(FAIL, "401 without a WWW-Authenticate challenge")


@_only_401
def _dpop_challenge(ex: Exchange, exp: Expectation) -> Verdict:
    schemes = [c.scheme for c in challenges_of(ex.response_headers)]
    if any(s.lower() == "dpop" for s in schemes):
        return Verdict(PASS)
    return Verdict(FAIL, f"no DPoP challenge (challenges: {', '.join(schemes) or 'none'})")


@_only_401
def _algs(ex: Exchange, exp: Expectation) -> Verdict:
    dpop = [c for c in challenges_of(ex.response_headers) if c.scheme.lower() == "dpop"]
    if not dpop:
        return Verdict(SKIP, "no DPoP challenge: AUTH-9449-dpop-challenge reports it")
    return Verdict(PASS) if dpop[0].params.get("algs", "").strip() else Verdict(FAIL, "DPoP challenge without algs")


@_only_401
def _challenge_error(ex: Exchange, exp: Expectation) -> Verdict:
    challenges = challenges_of(ex.response_headers)
    if not challenges:
        return Verdict(SKIP, "no challenge: AUTH-9110-www-authenticate reports it")
    errors = [c.params["error"] for c in challenges if "error" in c.params]
    if exp.challenge_errors == ():
        return Verdict(PASS) if not errors else Verdict(FAIL, f"error={errors[0]!r} although no credentials were sent")
    if any(e in exp.challenge_errors for e in errors):
        return Verdict(PASS)
    return Verdict(FAIL, f"challenge error {errors or 'absent'}; expected {' or '.join(exp.challenge_errors)}")


CASE_JUDGES = {
    "outcome": _outcome,
    "problem_type": _problem_type,
    "wrong_phase_401": _wrong_phase_401,
    "no_5xx": _no_5xx,
    "content_type": _content_type,
    "members": _members,
    "status_match": _status_match,
    "recommended": _recommended,
    "title": _title,
    "www_authenticate": _www_authenticate,
    "dpop_challenge": _dpop_challenge,
    "algs": _algs,
    "challenge_error": _challenge_error,
}


# --- judging issuance (profile §4, §6)

AUDIENCES = {"temp": "arcp:validate", "validated": "arcp:register", "access": "arcp:operations"}


@dataclass
class Issuance:
    """What the main flow obtained: phase 1..3 with proofs by key A (thumbprint `jkt`)."""

    jkt: str
    phase1: Exchange | None = None
    phase1_defective: Exchange | None = None
    phase1_noproof: Exchange | None = None
    poll: Exchange | None = None
    register: Exchange | None = None
    reregister: Exchange | None = None
    unregistered: bool = False
    reasons: dict[str, str] = field(default_factory=dict)

    def token(self, subject: str) -> str | None:
        source = {"temp": (self.phase1, "temp_token"), "validated": (self.poll, "validated_token"), "access": (self.register, "access_token")}[subject]
        ex, member = source
        value = ex.json_member(member) if ex is not None and ex.ok else None
        return value if isinstance(value, str) else None

    def exchange(self, subject: str) -> Exchange | None:
        return {"phase1": self.phase1, "temp": self.phase1, "poll": self.poll, "validated": self.poll, "register": self.register, "access": self.register}[subject]


def _needs(iss: Issuance, subject: str) -> tuple[str | None, Verdict | None]:
    ex = iss.exchange(subject)
    early = precondition(CaseResult(ex, iss.reasons.get(subject, f"the flow did not reach {subject}")))
    if early:
        return None, early
    token = iss.token(subject)
    if token is None:
        return None, Verdict(INCONCLUSIVE, f"no {subject} token was issued ({ex.summary()})")
    return token, None


def _cnf_jkt(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, "temp")
    if early:
        return early
    got = jkt_of(token)
    if got == iss.jkt:
        return Verdict(PASS)
    return Verdict(FAIL, f"temp token issued to a valid proof carries cnf.jkt={got!r}, expected the proving key's thumbprint {iss.jkt}")


def _token_type_dpop(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, "temp")
    if early:
        return early
    if jkt_of(token) is None:
        return Verdict(SKIP, "the temp token is not bound: ISS-6-cnf-jkt reports it")
    got = iss.phase1.json_member("token_type")
    return Verdict(PASS) if str(got).lower() == "dpop" else Verdict(FAIL, f"token_type {got!r} for a DPoP-bound token; RFC 9449 §5 says DPoP")


def _defective_proof(check: Check, iss: Issuance) -> Verdict:
    ex = iss.phase1_defective
    early = precondition(CaseResult(ex, iss.reasons.get("phase1_defective", "not sent")))
    if early:
        return early
    if ex.ok:
        token = ex.json_member("temp_token")
        bound = jkt_of(token if isinstance(token, str) else None)
        extra = f", bound to the unproven key ({bound})" if bound else ""
        return Verdict(FAIL, f"phase 1 with a badly signed proof issued a token{extra}")
    slug = slug_of(ex.json_member("type"))
    if (ex.status == 401 and slug == "dpop-invalid") or (ex.status == 400 and ex.json_member("error") == "invalid_dpop_proof"):
        return Verdict(PASS)
    return Verdict(FAIL, f"refused, but not as a proof failure (401 dpop-invalid or 400 invalid_dpop_proof): {ex.summary()}")


def _noproof_required(check: Check, iss: Issuance) -> Verdict:
    ex = iss.phase1_noproof
    early = precondition(CaseResult(ex, iss.reasons.get("phase1_noproof", "not sent")))
    if early:
        return early
    if ex.status == 401 and slug_of(ex.json_member("type")) == "dpop-required":
        return Verdict(PASS)
    return Verdict(FAIL, f"phase 1 without a proof in required mode: {ex.summary()}, expected 401 dpop-required")


def _binding_kept(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, check.subject)
    if early:
        return early
    got = jkt_of(token)
    return Verdict(PASS) if got == iss.jkt else Verdict(FAIL, f"{check.subject} token of a flow proved by key A carries cnf.jkt={got!r}, expected {iss.jkt}")


def _aud(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, check.subject)
    if early:
        return early
    aud = (claims_of(token) or {}).get("aud")
    want = AUDIENCES[check.subject]
    ok = aud == want or (isinstance(aud, list) and want in aud)
    return Verdict(PASS) if ok else Verdict(FAIL, f"{check.subject} token aud={aud!r}, expected {want!r}")


def _token_type_claim(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, check.subject)
    if early:
        return early
    got = (claims_of(token) or {}).get("token_type")
    return Verdict(PASS) if got == check.subject else Verdict(FAIL, f"{check.subject} token token_type={got!r}, expected {check.subject!r}")


def _lifetime(check: Check, iss: Issuance) -> Verdict:
    token, early = _needs(iss, check.subject)
    if early:
        return early
    ex = iss.exchange(check.subject)
    expires_in = ex.json_member("expires_in")
    exp = (claims_of(token) or {}).get("exp")
    if not isinstance(exp, (int, float)):
        return Verdict(FAIL, f"{check.subject} token has no numeric exp")
    if not isinstance(expires_in, (int, float)):
        return Verdict(SKIP, f"the {check.subject} token response has no expires_in")
    remaining = exp - ex.received_at
    if abs(expires_in - remaining) <= LIFETIME_TOLERANCE:
        return Verdict(PASS)
    iat = (claims_of(token) or {}).get("iat")
    span = f"exp − iat = {exp - iat} s, " if isinstance(iat, (int, float)) else ""
    return Verdict(FAIL, f"{check.subject}: expires_in={expires_in} but the token lives {remaining:.0f} s more ({span}tolerance {LIFETIME_TOLERANCE} s)")


def _no_store(check: Check, iss: Issuance) -> Verdict:
    ex = iss.exchange(check.subject)
    early = precondition(CaseResult(ex, iss.reasons.get(check.subject, "not reached")))
    if early:
        return early
    if not ex.ok:
        return Verdict(INCONCLUSIVE, f"no token response to judge ({ex.summary()})")
    cache = [d.strip().lower() for d in (ex.header("cache-control") or "").split(",")]
    pragma = (ex.header("pragma") or "").lower()
    missing = [m for m, ok in (("Cache-Control: no-store", "no-store" in cache), ("Pragma: no-cache", "no-cache" in pragma)) if not ok]
    return Verdict(FAIL, "missing " + ", ".join(missing)) if missing else Verdict(PASS)


def _single_use(check: Check, iss: Issuance) -> Verdict:
    first = iss.register
    early = precondition(CaseResult(first, iss.reasons.get("register", "not reached")))
    if early:
        return early
    if not first.ok:
        return Verdict(INCONCLUSIVE, f"the validated token did not register the first time ({first.summary()})")
    if not iss.unregistered:
        return Verdict(INCONCLUSIVE, "the agent could not be unregistered before the second attempt")
    again = iss.reregister
    early = precondition(CaseResult(again, iss.reasons.get("reregister", "not sent")))
    if early:
        return early
    if again.ok:
        return Verdict(FAIL, f"the same validated token registered a second time: {again.summary()}")
    return Verdict(PASS)


ISSUANCE_JUDGES = {
    "ISS-6-cnf-jkt": _cnf_jkt,
    "ISS-5-token-type-dpop": _token_type_dpop,
    "ISS-6-defective-proof": _defective_proof,
    "ISS-6-noproof-required": _noproof_required,
    "ISS-6-binding-kept": _binding_kept,
    "ISS-4-aud": _aud,
    "ISS-4-token-type": _token_type_claim,
    "ISS-6-lifetime": _lifetime,
    "ISS-6-no-store": _no_store,
    "ISS-6-single-use": _single_use,
}


def judge_issuance(check: Check, iss: Issuance) -> Verdict:
    return ISSUANCE_JUDGES[check.judge](check, iss)

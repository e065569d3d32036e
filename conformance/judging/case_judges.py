"""The judges of the fixed situations (profile §6, §7): each a small pure function over the one
recorded exchange of a situation and what the mode expects of it, named for what it checks."""
from __future__ import annotations

import re
from collections.abc import Callable

from ..dpop.proofs import decode_unverified
from ..spec.cases import NONCE_ERROR, Expectation
from ..spec.catalogue import problem_types, slug_of
from ..spec.vocabulary import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, Verdict
from ..wire.exchange import Exchange
from ..wire.records import CaseResult
from .challenges import challenges_of
from .problems import PROBLEM_MEDIA_TYPE, media_type, schema_errors, type_errors

CaseJudge = Callable[[Exchange, Expectation, CaseResult], Verdict]
CASE_JUDGES: dict[str, CaseJudge] = {}  # judge name (spec.checks.Check.judge) -> judge

# Gateway problems about the agent endpoint the client supplied are not client mistakes (profile §7).
GATEWAY_EXEMPT = ("endpoint-unreachable", "connection-timeout", "operation-timeout")


def case_judge(judge: CaseJudge) -> CaseJudge:
    CASE_JUDGES[judge.__name__] = judge
    return judge


def precondition(result: CaseResult) -> Verdict | None:
    """Verdicts that say nothing about the server: no exchange, no response, rate limited, busy identity."""
    ex = result.exchange
    if ex is None:
        if result.not_applicable:
            return Verdict(NOT_APPLICABLE, result.reason)
        return Verdict(INCONCLUSIVE, result.reason or "the situation could not be set up")
    if ex.error:
        return Verdict(INCONCLUSIVE, f"{'no response' if ex.sent else 'not sent'}: {ex.error}")
    if ex.throttled:
        return Verdict(INCONCLUSIVE, f"target answered {ex.status} (rate limited, locked out or unavailable) after honouring Retry-After")
    if ex.status == 409 and slug_of(ex.json_member("type")) == "duplicate-agent":
        return Verdict(INCONCLUSIVE, "the suite's agent was still registered (409 duplicate-agent)")
    return None


def judge_case(judge: str, exp: Expectation, result: CaseResult) -> Verdict:
    early = precondition(result)
    if early:
        return early
    return CASE_JUDGES[judge](result.exchange, exp, result)


@case_judge
def ensure_outcome(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """Accepted (2xx) or refused with the expected status, as the mode's table says."""
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


@case_judge
def ensure_problem_type(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """The refusal's problem type is one the situation allows."""
    if not ex.is_error:
        return Verdict(NOT_APPLICABLE, "not refused: the outcome check reports it")
    if not result.control_ok:
        return Verdict(INCONCLUSIVE, "positive control failed")
    body = ex.json()
    errors = type_errors(exp.types, body if isinstance(body, dict) else {})
    if errors:
        return Verdict(FAIL, f"problem type {ex.json_member('type')!r}; expected {', '.join(exp.types)} ({ex.summary()})")
    return Verdict(PASS)


@case_judge
def ensure_wrong_phase_is_401(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """A token outside its phase is refused with 401 token-invalid, not 403."""
    if ex.ok:
        return Verdict(NOT_APPLICABLE, "not refused: TOKEN-wrong-phase-refused reports it")
    if ex.status != 401 or slug_of(ex.json_member("type")) != "token-invalid":
        return Verdict(FAIL, f"expected 401 token-invalid, got {ex.summary()}")
    return Verdict(PASS)


def _error_only(judge: Callable[[Exchange], Verdict]) -> CaseJudge:
    def wrapped(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
        if not ex.is_error:
            return Verdict(NOT_APPLICABLE, f"not an error response ({ex.status})")
        return judge(ex)

    wrapped.__name__, wrapped.__doc__ = judge.__name__, judge.__doc__
    return wrapped


def _only_401(judge: Callable[[Exchange, Expectation], Verdict]) -> CaseJudge:
    def wrapped(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
        if ex.status != 401:
            return Verdict(NOT_APPLICABLE, f"not a 401 ({ex.status})")
        return judge(ex, exp)

    wrapped.__name__, wrapped.__doc__ = judge.__name__, judge.__doc__
    return wrapped


@case_judge
def ensure_no_5xx(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """A client mistake is never answered with a 5xx (catalogued gateway problems exempt)."""
    if ex.status >= 500 and slug_of(ex.json_member("type")) not in GATEWAY_EXEMPT:
        return Verdict(FAIL, f"a client mistake answered with {ex.summary()}: {str(ex.json_member('detail'))[:200]}")
    return Verdict(PASS)


@case_judge
@_error_only
def ensure_problem_content_type(ex: Exchange) -> Verdict:
    """An error response is application/problem+json."""
    got = media_type(ex.header("content-type"))
    if got == PROBLEM_MEDIA_TYPE:
        return Verdict(PASS)
    return Verdict(FAIL, f"Content-Type {got or '(none)'!r} on {ex.summary()}, expected {PROBLEM_MEDIA_TYPE}")


@case_judge
@_error_only
def ensure_problem_members(ex: Exchange) -> Verdict:
    """An error body has the ARCP problem members, well typed (schemas/arcp-problem)."""
    body = ex.json()
    if not isinstance(body, dict):
        return Verdict(FAIL, "the error body is not a JSON object")
    errors = schema_errors("arcp-problem", body)
    return Verdict(FAIL, "; ".join(errors)) if errors else Verdict(PASS)


@case_judge
@_error_only
def ensure_problem_status_matches(ex: Exchange) -> Verdict:
    """The problem's status member is the HTTP status."""
    status = ex.json_member("status")
    return Verdict(PASS) if status == ex.status else Verdict(FAIL, f"problem status {status!r}, HTTP status {ex.status}")


@case_judge
@_error_only
def ensure_recommended_members(ex: Exchange) -> Verdict:
    """An error body has instance (the request path), timestamp and request_id."""
    body = ex.json()
    errors = schema_errors("arcp-problem-recommended", body if isinstance(body, dict) else {})
    instance = ex.json_member("instance")
    path = ex.path
    if isinstance(instance, str) and instance not in (path, ex.url):
        errors.append(f"instance {instance!r} is not the request path {path!r}")
    return Verdict(FAIL, "; ".join(errors)) if errors else Verdict(PASS)


@case_judge
@_error_only
def ensure_catalogue_title(ex: Exchange) -> Verdict:
    """The problem's title is the catalogue title of its type."""
    slug = slug_of(ex.json_member("type"))
    if slug is None:
        return Verdict(NOT_APPLICABLE, "type is not a catalogue type")
    want = problem_types()[slug].title
    got = ex.json_member("title")
    return Verdict(PASS) if got == want else Verdict(FAIL, f"title {got!r}, catalogue title of {slug} is {want!r}")


@case_judge
@_only_401
def ensure_challenge_present(ex: Exchange, exp: Expectation) -> Verdict:
    """A 401 carries WWW-Authenticate with at least one challenge."""
    return Verdict(PASS) if challenges_of(ex.response_headers) else Verdict(FAIL, "401 without a WWW-Authenticate challenge")


@case_judge
@_only_401
def ensure_dpop_challenge(ex: Exchange, exp: Expectation) -> Verdict:
    """A 401 for a DPoP failure carries a DPoP challenge."""
    schemes = [c.scheme for c in challenges_of(ex.response_headers)]
    if any(s.lower() == "dpop" for s in schemes):
        return Verdict(PASS)
    return Verdict(FAIL, f"no DPoP challenge (challenges: {', '.join(schemes) or 'none'})")


@case_judge
@_only_401
def ensure_algs_listed(ex: Exchange, exp: Expectation) -> Verdict:
    """The DPoP challenge lists the accepted algorithms (algs)."""
    dpop = [c for c in challenges_of(ex.response_headers) if c.scheme.lower() == "dpop"]
    if not dpop:
        return Verdict(NOT_APPLICABLE, "no DPoP challenge: CHALLENGE-dpop-scheme reports it")
    return Verdict(PASS) if dpop[0].params.get("algs", "").strip() else Verdict(FAIL, "DPoP challenge without algs")


@case_judge
@_only_401
def ensure_challenge_error(ex: Exchange, exp: Expectation) -> Verdict:
    """The challenge's error parameter names the failure, and is absent when no credentials were sent."""
    challenges = challenges_of(ex.response_headers)
    if not challenges:
        return Verdict(NOT_APPLICABLE, "no challenge: CHALLENGE-present reports it")
    errors = [c.params["error"] for c in challenges if "error" in c.params]
    if exp.challenge_errors == ():
        return Verdict(PASS) if not errors else Verdict(FAIL, f"error={errors[0]!r} although no credentials were sent")
    if any(e in exp.challenge_errors for e in errors):
        return Verdict(PASS)
    return Verdict(FAIL, f"challenge error {errors or 'absent'}; expected {' or '.join(exp.challenge_errors)}")


# RFC 9449 §8: nonce = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E
_NQCHARS = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def nonce_refusal_errors(ex: Exchange, *, phase1: bool) -> list[str]:
    """What a refusal for a proof's nonce lacks to ask for one (RFC 9449 §9; at phase 1 also §8's
    400 with error use_dpop_nonce): an empty list when it asks properly."""
    errors = []
    if ex.status == 401:
        dpop = [c for c in challenges_of(ex.response_headers) if c.scheme.lower() == "dpop"]
        if not any(c.params.get("error") == NONCE_ERROR for c in dpop):
            errors.append(f'no DPoP challenge with error="{NONCE_ERROR}" (WWW-Authenticate: {ex.header("www-authenticate")!r})')
    elif phase1 and ex.status == 400:
        if ex.json_member("error") != NONCE_ERROR:
            errors.append(f"a 400 whose error is {ex.json_member('error')!r}, not {NONCE_ERROR!r}")
    else:
        errors.append(f"refused with {ex.status}, expected 401{' or 400' if phase1 else ''}")
    values = ex.headers("dpop-nonce")
    if not values:
        errors.append("no DPoP-Nonce header with a fresh nonce")
    elif len(values) > 1:
        errors.append(f"{len(values)} DPoP-Nonce header fields (RFC 9449 §8: one)")
    elif not _NQCHARS.fullmatch(values[0]):
        errors.append(f"DPoP-Nonce {values[0]!r} is not 1*NQCHAR (RFC 9449 §8)")
    elif values[0] in _sent_nonces(ex):
        errors.append("the DPoP-Nonce is the nonce of the refused proof, not a fresh one")
    return errors


def _sent_nonces(ex: Exchange) -> set[str]:
    out = set()
    for name, value in ex.request_headers:
        if name.lower() == "dpop":
            try:
                nonce = decode_unverified(value)[1].get("nonce")
            except Exception:  # noqa: BLE001 - any proof the suite sent decodes; a nonce is only looked for
                continue
            if isinstance(nonce, str):
                out.add(nonce)
    return out


@case_judge
def ensure_nonce_challenge(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """A refusal for the proof's nonce is a 401 whose DPoP challenge says use_dpop_nonce, with a fresh DPoP-Nonce."""
    if not ex.is_error:
        return Verdict(NOT_APPLICABLE, f"not refused: {exp.requirement} reports it")
    errors = nonce_refusal_errors(ex, phase1=False)
    return Verdict(FAIL, f"{'; '.join(errors)} ({ex.summary()})") if errors else Verdict(PASS)

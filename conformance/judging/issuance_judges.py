"""The judges of what the main registration flow was issued (profile §4, §6): each a small pure
function over the recorded flow (wire.records.Issuance) and the token or response it judges."""
from __future__ import annotations

from collections.abc import Callable

from ..dpop.tokens import claims_of, jkt_of
from ..spec.cases import BODY_BINDINGS, NONCE_PROOFS
from ..spec.catalogue import slug_of
from ..spec.checks import ALG_SUBJECT, BODY_SUBJECT
from ..spec.vocabulary import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, Verdict
from ..wire.exchange import Exchange
from ..wire.records import ALG_STEPS, STEP_TOKENS, AlgFlow, CaseResult, Issuance
from ..wire.session import NO_NONCE
from .case_judges import nonce_refusal_errors, precondition

IssuanceJudge = Callable[[str, Issuance], Verdict]  # (subject: the token or response judged, the flow)
ISSUANCE_JUDGES: dict[str, IssuanceJudge] = {}  # judge name (spec.checks.Check.judge) -> judge

AUDIENCES = {"temp": "arcp:validate", "validated": "arcp:register", "access": "arcp:operations"}
LIFETIME_TOLERANCE = 5  # seconds between expires_in and exp minus the response time


def issuance_judge(judge: IssuanceJudge) -> IssuanceJudge:
    ISSUANCE_JUDGES[judge.__name__] = judge
    return judge


def judge_issuance(judge: str, subject: str, iss: Issuance) -> Verdict:
    return ISSUANCE_JUDGES[judge](subject, iss)


def _needs(iss: Issuance, subject: str) -> tuple[str | None, Verdict | None]:
    ex = iss.exchange(subject)
    early = precondition(CaseResult(ex, iss.reasons.get(subject, f"the flow did not reach {subject}")))
    if early:
        return None, early
    token = iss.token(subject)
    if token is None:
        return None, Verdict(INCONCLUSIVE, f"no {subject} token was issued ({ex.summary()})")
    return token, None


def _phase1_control(iss: Issuance) -> Verdict | None:
    """Inconclusive unless the positive control of a phase-1 defect, phase 1 with a valid proof
    by key A, was accepted: a refusal of the defective call says nothing when that one was refused too."""
    early = precondition(CaseResult(iss.phase1, iss.reasons.get("phase1", "phase 1 with a valid proof was not sent")))
    if early:
        return early
    if not iss.phase1.ok:
        return Verdict(INCONCLUSIVE, f"the positive control, phase 1 with a valid proof by key A, was refused too: {iss.phase1.summary()}")
    return None


@issuance_judge
def ensure_temp_token_bound(subject: str, iss: Issuance) -> Verdict:
    """Phase 1 with a valid proof by key A issues a temp token whose cnf.jkt is A's thumbprint."""
    token, early = _needs(iss, "temp")
    if early:
        return early
    got = jkt_of(token)
    if got == iss.jkt:
        return Verdict(PASS)
    return Verdict(FAIL, f"temp token issued to a valid proof carries cnf.jkt={got!r}, expected the proving key's thumbprint {iss.jkt}")


@issuance_judge
def ensure_token_type_dpop(subject: str, iss: Issuance) -> Verdict:
    """The token response names a bound token's type DPoP."""
    token, early = _needs(iss, "temp")
    if early:
        return early
    if jkt_of(token) is None:
        return Verdict(NOT_APPLICABLE, "the temp token is not bound: ISSUE-cnf-jkt reports it")
    got = iss.phase1.json_member("token_type")
    return Verdict(PASS) if str(got).lower() == "dpop" else Verdict(FAIL, f"token_type {got!r} for a DPoP-bound token; RFC 9449 §5 says DPoP")


@issuance_judge
def ensure_defective_proof_refused(subject: str, iss: Issuance) -> Verdict:
    """Phase 1 with a badly signed proof is refused as a proof failure, and binds nothing."""
    ex = iss.phase1_defective
    early = precondition(CaseResult(ex, iss.reasons.get("phase1_defective", "not sent"))) or _phase1_control(iss)
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


@issuance_judge
def ensure_proofless_phase1_refused(subject: str, iss: Issuance) -> Verdict:
    """In required mode, phase 1 without a proof is refused with 401 dpop-required."""
    ex = iss.phase1_noproof
    early = precondition(CaseResult(ex, iss.reasons.get("phase1_noproof", "not sent"))) or _phase1_control(iss)
    if early:
        return early
    if ex.status == 401 and slug_of(ex.json_member("type")) == "dpop-required":
        return Verdict(PASS)
    return Verdict(FAIL, f"phase 1 without a proof in required mode: {ex.summary()}, expected 401 dpop-required")


@issuance_judge
def ensure_binding_kept(subject: str, iss: Issuance) -> Verdict:
    """The validated and access tokens of a flow proved by key A carry A's cnf.jkt."""
    token, early = _needs(iss, subject)
    if early:
        return early
    got = jkt_of(token)
    return Verdict(PASS) if got == iss.jkt else Verdict(FAIL, f"{subject} token of a flow proved by key A carries cnf.jkt={got!r}, expected {iss.jkt}")


@issuance_judge
def ensure_audience(subject: str, iss: Issuance) -> Verdict:
    """The token carries the audience of its phase."""
    token, early = _needs(iss, subject)
    if early:
        return early
    aud = (claims_of(token) or {}).get("aud")
    want = AUDIENCES[subject]
    ok = aud == want or (isinstance(aud, list) and want in aud)
    return Verdict(PASS) if ok else Verdict(FAIL, f"{subject} token aud={aud!r}, expected {want!r}")


@issuance_judge
def ensure_token_type_claim(subject: str, iss: Issuance) -> Verdict:
    """The token carries the token_type claim of its phase."""
    token, early = _needs(iss, subject)
    if early:
        return early
    got = (claims_of(token) or {}).get("token_type")
    return Verdict(PASS) if got == subject else Verdict(FAIL, f"{subject} token token_type={got!r}, expected {subject!r}")


@issuance_judge
def ensure_lifetime(subject: str, iss: Issuance) -> Verdict:
    """expires_in agrees with the token's exp minus the time of the response."""
    token, early = _needs(iss, subject)
    if early:
        return early
    ex = iss.exchange(subject)
    expires_in = ex.json_member("expires_in")
    exp = (claims_of(token) or {}).get("exp")
    if not isinstance(exp, (int, float)):
        return Verdict(FAIL, f"{subject} token has no numeric exp")
    if not isinstance(expires_in, (int, float)):
        return Verdict(NOT_APPLICABLE, f"the {subject} token response has no expires_in")
    remaining = exp - ex.received_at
    if abs(expires_in - remaining) <= LIFETIME_TOLERANCE:
        return Verdict(PASS)
    iat = (claims_of(token) or {}).get("iat")
    span = f"exp − iat = {exp - iat} s, " if isinstance(iat, (int, float)) else ""
    return Verdict(FAIL, f"{subject}: expires_in={expires_in} but the token lives {remaining:.0f} s more ({span}tolerance {LIFETIME_TOLERANCE} s)")


@issuance_judge
def ensure_no_store(subject: str, iss: Issuance) -> Verdict:
    """A response carrying a token says Cache-Control: no-store and Pragma: no-cache."""
    ex = iss.exchange(subject)
    early = precondition(CaseResult(ex, iss.reasons.get(subject, "not reached")))
    if early:
        return early
    if not ex.ok:
        return Verdict(INCONCLUSIVE, f"no token response to judge ({ex.summary()})")
    cache = [d.strip().lower() for d in (ex.header("cache-control") or "").split(",")]
    pragma = (ex.header("pragma") or "").lower()
    missing = [m for m, ok in (("Cache-Control: no-store", "no-store" in cache), ("Pragma: no-cache", "no-cache" in pragma)) if not ok]
    return Verdict(FAIL, "missing " + ", ".join(missing)) if missing else Verdict(PASS)


@issuance_judge
def ensure_single_use(subject: str, iss: Issuance) -> Verdict:
    """A validated token registers an agent at most once."""
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


# --- every algorithm the target lists (profile §5): one flow each, judged against the main flow

def _main_passed(iss: Issuance) -> set[str]:
    """The steps of ALG_STEPS the main flow (key A) got through."""
    passed = {
        "phase 1": iss.token("temp") is not None,
        "phase 2 validate": iss.poll is not None,  # accepted, and polled
        "phase 2 poll": iss.token("validated") is not None,
        "phase 3 register": iss.token("access") is not None,
        "unregister": iss.unregistered,
    }
    return {step for step, ok in passed.items() if ok}


def _step_ok(step: str, ex, flow: AlgFlow) -> bool:
    if step == "phase 2 validate":
        return ex.status == 202 or ex.ok
    if step in STEP_TOKENS:
        return flow.token(step) is not None  # accepted, with the token the next step needs
    return ex.ok


@issuance_judge
def ensure_listed_alg_works(subject: str, iss: Issuance) -> Verdict:
    """A flow with proofs by a fresh key of a listed algorithm goes end to end (phases 1-3, unregister), its tokens bound to that key."""
    alg = subject[len(ALG_SUBJECT):]
    flow = iss.algs.get(alg)
    if flow is None:
        return Verdict(INCONCLUSIVE, f"no flow was sent for {alg}")
    if not flow.listed:
        return Verdict(NOT_APPLICABLE, f"{alg} is not listed by the target")
    if flow.reason:
        return Verdict(INCONCLUSIVE, flow.reason)
    main = _main_passed(iss)
    missing = [step for step in ALG_STEPS if step not in main]
    if flow.main:
        # The run's own algorithm: the main flow is its flow, and every step of it has checks of its own.
        if missing:
            return Verdict(INCONCLUSIVE, f"{alg} is the run's own algorithm (key A) and its main flow stopped at {missing[0]}: the checks of that step report it")
        return Verdict(PASS, f"{alg} is the run's own algorithm: the main flow went end to end with proofs by key A (its binding: ISSUE-cnf-jkt, ISSUE-binding-kept)")
    unjudged = []
    for step, ex in flow.steps:
        early = precondition(CaseResult(ex, f"{step} was not sent"))
        if early:
            return Verdict(early.outcome, f"{alg}, {step}: {early.message}")
        if not _step_ok(step, ex, flow):
            if step not in main:
                return Verdict(INCONCLUSIVE, f"{alg}: {step} failed ({ex.summary()}), as it did for the main flow with the run's own algorithm: the checks of that step report it")
            return Verdict(FAIL, f"{alg}: {step} refused the flow proved by a fresh {alg} key, which the main flow passed: {ex.summary()}")
        if step in STEP_TOKENS:
            kind = STEP_TOKENS[step][0]
            if jkt_of(iss.token(kind)) != iss.jkt:
                unjudged.append(kind)  # the main flow's was not bound to key A: not this algorithm's doing
                continue
            got = jkt_of(flow.token(step))
            if got != flow.jkt:
                return Verdict(FAIL, f"{alg}: the {kind} token of {step} carries cnf.jkt={got!r}, expected the {alg} key's thumbprint {flow.jkt}")
    done = [step for step, _ in flow.steps]
    if done != list(ALG_STEPS):
        return Verdict(INCONCLUSIVE, f"{alg}: the flow stopped after {done[-1] if done else 'nothing'} ({flow.steps[-1][1].summary() if done else 'not sent'})")
    note = (f"; the binding of its {', '.join(unjudged)} token{'s' if len(unjudged) > 1 else ''} is not judged here: the main flow's "
            "was not bound to key A either (ISSUE-cnf-jkt, ISSUE-binding-kept report it)") if unjudged else ", its tokens bound to that key"
    return Verdict(PASS, f"{alg}: phases 1-3 and unregister accepted with proofs by a fresh {alg} key{note}")


def no_nonce_verdict(iss: Issuance) -> Verdict:
    """The verdict of a nonce check where the main flow saw no DPoP-Nonce: not applicable (the
    target gives none, profile §5), or inconclusive where nothing answered that could have had one."""
    return Verdict(INCONCLUSIVE, iss.nonce_unknown) if iss.nonce_unknown else Verdict(NOT_APPLICABLE, NO_NONCE)


def _phase1_nonce(subject: str, iss: Issuance) -> tuple[Exchange | None, Verdict | None]:
    """Phase 1 with a proof that ignores the target's nonce (subject phase1:<variant>), or the
    verdict that stands without it."""
    ex = iss.exchange(subject)
    if ex is None and subject in iss.reasons:  # the flow could not run (no agent key): nothing is known
        return None, Verdict(INCONCLUSIVE, iss.reasons[subject])
    if not iss.nonce_issued:
        return None, no_nonce_verdict(iss)
    early = precondition(CaseResult(ex, iss.reasons.get(subject, "phase 1 with this proof was not sent")))
    return ex, early


@issuance_judge
def ensure_phase1_nonce_refused(subject: str, iss: Issuance) -> Verdict:
    """Once the target gave a DPoP-Nonce, phase 1 with a proof without it, or with one it never gave, is refused."""
    ex, early = _phase1_nonce(subject, iss)
    if early:
        return early
    if ex.ok:
        return Verdict(FAIL, f"phase 1 issued a token to a proof with {NONCE_PROOFS[subject.partition(':')[2]][1]}: {ex.summary()}")
    if iss.phase1 is None or not iss.phase1.ok:
        return Verdict(INCONCLUSIVE, "refused, but phase 1 refused the valid proof too (positive control failed)")
    return Verdict(PASS)


@issuance_judge
def ensure_phase1_nonce_challenge(subject: str, iss: Issuance) -> Verdict:
    """Phase 1's refusal for the proof's nonce asks for one: 400 error use_dpop_nonce or the 401 challenge, with a fresh DPoP-Nonce."""
    ex, early = _phase1_nonce(subject, iss)
    if early:
        return early
    if ex.ok:
        return Verdict(NOT_APPLICABLE, f"not refused: {NONCE_PROOFS[subject.partition(':')[2]][0]} reports it")
    errors = nonce_refusal_errors(ex, phase1=True)
    return Verdict(FAIL, f"{'; '.join(errors)} ({ex.summary()})") if errors else Verdict(PASS)


@issuance_judge
def ensure_binding_from_proof(subject: str, iss: Issuance) -> Verdict:
    """A phase-2 body naming key B binds no token to B: the flow's tokens are bound to the proving key, or refused."""
    variant = subject[len(BODY_SUBJECT):]
    flow = iss.body_bindings.get(variant)
    if flow is None or flow.reason:
        return Verdict(INCONCLUSIVE, flow.reason if flow else "not sent")
    member = BODY_BINDINGS[variant][0]
    tokens = flow.tokens()
    to_b = [name for name, token in tokens.items() if jkt_of(token) == flow.body_jkt]
    if to_b:
        return Verdict(FAIL, f"the {' and '.join(to_b)} token{'s are' if len(to_b) > 1 else ' is'} bound to the key named only "
                             f"by the phase-2 body's {member} (cnf.jkt={flow.body_jkt}), not by a verified proof")
    if tokens:
        bound = ", ".join(f"{name}: cnf.jkt={jkt_of(token)!r}" for name, token in tokens.items())
        return Verdict(PASS, f"the body's {member} was not taken ({bound})")
    # nothing issued: a refusal says something only where phase 2 works (the main flow's, the positive control)
    if iss.token("validated") is None:
        return Verdict(INCONCLUSIVE, "phase 2 gave the main flow no validated token either, so a refusal here says nothing")
    last = flow.poll or flow.validate
    if last is None or last.error:
        return Verdict(INCONCLUSIVE, f"phase 2 was not answered ({last.summary() if last else 'not sent'})")
    return Verdict(PASS, f"refused, so nothing was bound to the body's key ({last.summary()})")

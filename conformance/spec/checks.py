"""The checks a run has: one requirement judged on one situation (or one issued token), by a
judge named for what it checks (conformance.judging registers the judges under these names)."""
from __future__ import annotations

from dataclasses import dataclass

from ..dpop.keys import SUPPORTED_ALGS
from .cases import BODY_BINDINGS, KEY_URL_PROOFS, KEY_URL_REQUIREMENT, NONCE_PROOFS, REFRESH, Case, Expectation, cases_for, expect
from .catalogue import Requirement, requirement
from .requests import MalformedCase, expect_malformed, malformed_cases
from .vocabulary import DPOP_MODES, MODES

ALG_SUBJECT = "alg:"  # the subject of a check of one proof algorithm: "alg:ES384"
BODY_SUBJECT = "body:"  # the subject of a phase-2 body that names another key: "body:dpop_jkt"
KEY_URL_JUDGE = "ensure_key_url_not_fetched"  # reads the agent endpoint's record after a short wait


@dataclass(frozen=True)
class Check:
    requirement_id: str
    subject: str  # a case id ("validate:bound:htm-wrong", "malformed:validate:not-json"), an issuance subject ("phase1"), "fuzz:validate" or "stateful"
    judge: str  # the name of the judge (conformance.judging.case_judges / issuance_judges), or "fuzz" / "stateful"
    case: Case | MalformedCase | None = None

    @property
    def id(self) -> str:
        return f"{self.requirement_id}@{self.subject}"

    @property
    def requirement(self) -> Requirement:
        return requirement(self.requirement_id)


# Every refusal gets these: (requirement, judge).
PROBLEM_JUDGES = (
    ("PROBLEM-no-5xx", "ensure_no_5xx"),
    ("PROBLEM-content-type", "ensure_problem_content_type"),
    ("PROBLEM-members", "ensure_problem_members"),
    ("PROBLEM-status-match", "ensure_problem_status_matches"),
    ("PROBLEM-recommended", "ensure_recommended_members"),
    ("PROBLEM-title", "ensure_catalogue_title"),
)


def case_checks(case: Case, exp: Expectation) -> list[Check]:
    out = [Check(exp.requirement, case.id, "ensure_outcome", case)]
    if case.proof in KEY_URL_PROOFS:
        out.append(Check(KEY_URL_REQUIREMENT, case.id, KEY_URL_JUDGE, case))
    if exp.accept and case.endpoint == REFRESH:
        out.append(Check("ISSUE-refresh-keeps-binding", case.id, "ensure_refresh_keeps_binding", case))
        out.append(Check("ISSUE-refresh-token-works", case.id, "ensure_refreshed_token_works", case))
    if exp.accept:
        return out
    if exp.type_requirement:
        out.append(Check(exp.type_requirement, case.id, "ensure_problem_type", case))
    if case.token == "wrong-phase":
        out.append(Check("TOKEN-wrong-phase-401", case.id, "ensure_wrong_phase_is_401", case))
    out += [Check(req, case.id, judge, case) for req, judge in PROBLEM_JUDGES]
    if 401 in exp.statuses or not exp.statuses:
        out.append(Check("CHALLENGE-present", case.id, "ensure_challenge_present", case))
    if exp.dpop_failure:
        out.append(Check("CHALLENGE-dpop-scheme", case.id, "ensure_dpop_challenge", case))
        out.append(Check("CHALLENGE-algs", case.id, "ensure_algs_listed", case))
    if exp.challenge_errors is not None:
        out.append(Check("CHALLENGE-error", case.id, "ensure_challenge_error", case))
    if exp.nonce_refusal:
        out.append(Check("CHALLENGE-nonce", case.id, "ensure_nonce_challenge", case))
    return out


def issuance_checks(mode: str) -> list[Check]:
    if mode not in MODES:
        raise ValueError(f"unknown DPoP mode {mode!r}")
    dpop = mode != "disabled"
    items = [  # (requirement, subject: the token or response judged, judge, whether the mode has it)
        ("ISSUE-cnf-jkt", "phase1", "ensure_temp_token_bound", dpop),
        ("ISSUE-token-type-dpop", "phase1", "ensure_token_type_dpop", dpop),
        ("ISSUE-defective-proof", "phase1", "ensure_defective_proof_refused", dpop),
        ("ISSUE-noproof-required", "phase1", "ensure_proofless_phase1_refused", mode == "required"),
        ("ISSUE-binding-kept", "validated", "ensure_binding_kept", dpop),
        ("ISSUE-binding-kept", "access", "ensure_binding_kept", dpop),
        *[(req, subject, judge, True)
          for req, judge in (("ISSUE-audience", "ensure_audience"), ("ISSUE-token-type-claim", "ensure_token_type_claim"), ("ISSUE-lifetime", "ensure_lifetime"))
          for subject in ("temp", "validated", "access")],
        ("ISSUE-no-store", "phase1", "ensure_no_store", True),
        ("ISSUE-no-store", "poll", "ensure_no_store", True),
        ("ISSUE-no-store", "register", "ensure_no_store", True),
        ("ISSUE-single-use", "register", "ensure_single_use", True),
        # phase 1 with a proof that ignores the target's DPoP-Nonce (judged where the target gives nonces)
        *[(req, f"phase1:{proof}", judge, dpop)
          for proof in NONCE_PROOFS
          for req, judge in ((NONCE_PROOFS[proof][0], "ensure_phase1_nonce_refused"), ("CHALLENGE-nonce", "ensure_phase1_nonce_challenge"))],
    ]
    return [Check(req, subject, judge) for req, subject, judge, wanted in items if wanted] + alg_checks(mode) + body_binding_checks(mode)


def body_binding_checks(mode: str) -> list[Check]:
    """Phase 2 with a body naming another key: with a proof (where the mode has DPoP) and without."""
    return [Check("ISSUE-binding-from-proof", BODY_SUBJECT + variant, "ensure_binding_from_proof")
            for variant, (_, proven) in BODY_BINDINGS.items() if not proven or mode in DPOP_MODES]


def alg_checks(mode: str) -> list[Check]:
    """One check per algorithm the suite can sign with: which of them the target lists is known
    only at run time, so one it does not list is judged not applicable."""
    if mode not in DPOP_MODES:
        return []
    return [Check("ISSUE-listed-alg-works", ALG_SUBJECT + alg, "ensure_listed_alg_works") for alg in SUPPORTED_ALGS]


def binding_checks(mode: str) -> list[Check]:
    checks = [check for case in cases_for(mode) for check in case_checks(case, expect(case, mode))]
    # The key URL checks last: each allows the target a short time after its situation's response
    # to fetch the URL, which by then has mostly passed (judged next to their situations, the
    # waits would add up to seconds per run).
    return [c for c in checks if c.judge != KEY_URL_JUDGE] + [c for c in checks if c.judge == KEY_URL_JUDGE]


def malformed_checks(mode: str) -> list[Check]:
    """The malformed requests (spec.requests), the same in every mode: the outcome, the problem
    details of the refusal and, for a junk Authorization header, its 401's type and challenge."""
    if mode not in MODES:
        raise ValueError(f"unknown DPoP mode {mode!r}")
    out = []
    for case in malformed_cases():
        exp = expect_malformed(case)
        out.append(Check(exp.requirement, case.id, "ensure_outcome", case))
        if exp.type_requirement:
            out.append(Check(exp.type_requirement, case.id, "ensure_problem_type", case))
        out += [Check(req, case.id, judge, case) for req, judge in PROBLEM_JUDGES]
        if 401 in exp.statuses:
            out.append(Check("CHALLENGE-present", case.id, "ensure_challenge_present", case))
    return out


def fixed_checks(mode: str) -> list[Check]:
    """The checks of fixed situations (issuance, the token × proof matrix, malformed requests); the
    fuzz properties and the state machine's invariants are added by judging.judge_check.known_checks."""
    return issuance_checks(mode) + binding_checks(mode) + malformed_checks(mode)

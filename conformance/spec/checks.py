"""The checks a run has: one requirement judged on one situation (or one issued token), by a
judge named for what it checks (conformance.judging registers the judges under these names)."""
from __future__ import annotations

from dataclasses import dataclass

from .cases import Case, Expectation, cases_for, expect
from .catalogue import Requirement, requirement
from .vocabulary import MODES


@dataclass(frozen=True)
class Check:
    requirement_id: str
    subject: str  # a case id ("validate:bound:htm-wrong"), an issuance subject ("phase1"), "fuzz:validate" or "stateful"
    judge: str  # the name of the judge (conformance.judging.case_judges / issuance_judges), or "fuzz" / "stateful"
    case: Case | None = None

    @property
    def id(self) -> str:
        return f"{self.requirement_id}@{self.subject}"

    @property
    def requirement(self) -> Requirement:
        return requirement(self.requirement_id)


# Every refusal gets these: (requirement, judge).
PROBLEM_JUDGES = (
    ("PROB-7-no-5xx", "ensure_no_5xx"),
    ("PROB-7-content-type", "ensure_problem_content_type"),
    ("PROB-7-members", "ensure_problem_members"),
    ("PROB-7-status-match", "ensure_problem_status_matches"),
    ("PROB-7-recommended", "ensure_recommended_members"),
    ("PROB-7-title", "ensure_catalogue_title"),
)


def case_checks(case: Case, exp: Expectation) -> list[Check]:
    out = [Check(exp.requirement, case.id, "ensure_outcome", case)]
    if exp.accept:
        return out
    if exp.type_requirement:
        out.append(Check(exp.type_requirement, case.id, "ensure_problem_type", case))
    if case.token == "wrong-phase":
        out.append(Check("TOKEN-6-wrong-phase-401", case.id, "ensure_wrong_phase_is_401", case))
    out += [Check(req, case.id, judge, case) for req, judge in PROBLEM_JUDGES]
    if 401 in exp.statuses or not exp.statuses:
        out.append(Check("AUTH-9110-www-authenticate", case.id, "ensure_challenge_present", case))
    if exp.dpop_failure:
        out.append(Check("AUTH-9449-dpop-challenge", case.id, "ensure_dpop_challenge", case))
        out.append(Check("AUTH-9449-algs", case.id, "ensure_algs_listed", case))
    if exp.challenge_errors is not None:
        out.append(Check("AUTH-9449-challenge-error", case.id, "ensure_challenge_error", case))
    return out


def issuance_checks(mode: str) -> list[Check]:
    if mode not in MODES:
        raise ValueError(f"unknown DPoP mode {mode!r}")
    dpop = mode != "disabled"
    items = [  # (requirement, subject: the token or response judged, judge, whether the mode has it)
        ("ISS-6-cnf-jkt", "phase1", "ensure_temp_token_bound", dpop),
        ("ISS-5-token-type-dpop", "phase1", "ensure_token_type_dpop", dpop),
        ("ISS-6-defective-proof", "phase1", "ensure_defective_proof_refused", dpop),
        ("ISS-6-noproof-required", "phase1", "ensure_proofless_phase1_refused", mode == "required"),
        ("ISS-6-binding-kept", "validated", "ensure_binding_kept", dpop),
        ("ISS-6-binding-kept", "access", "ensure_binding_kept", dpop),
        *[(req, subject, judge, True)
          for req, judge in (("ISS-4-aud", "ensure_audience"), ("ISS-4-token-type", "ensure_token_type_claim"), ("ISS-6-lifetime", "ensure_lifetime"))
          for subject in ("temp", "validated", "access")],
        ("ISS-6-no-store", "phase1", "ensure_no_store", True),
        ("ISS-6-no-store", "poll", "ensure_no_store", True),
        ("ISS-6-no-store", "register", "ensure_no_store", True),
        ("ISS-6-single-use", "register", "ensure_single_use", True),
    ]
    return [Check(req, subject, judge) for req, subject, judge, wanted in items if wanted]


def binding_checks(mode: str) -> list[Check]:
    return [check for case in cases_for(mode) for check in case_checks(case, expect(case, mode))]


def fixed_checks(mode: str) -> list[Check]:
    """The checks of fixed situations (issuance and the token × proof matrix); the fuzz properties
    and the state machine's invariants are added by conformance.judging.registry.known_checks."""
    return issuance_checks(mode) + binding_checks(mode)

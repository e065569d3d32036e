"""Judging one fixed check on what the session recorded for it: the one place where a check
meets its judge (the plugin, the reproducers and the mutation self-test all come through here)."""
from __future__ import annotations

from dataclasses import replace

from ..spec.cases import NONCE_PROOFS, Case
from ..spec.checks import ALG_SUBJECT, BODY_SUBJECT, KEY_URL_JUDGE, Check, fixed_checks
from ..spec.requests import expectation
from ..spec.vocabulary import NOT_APPLICABLE, Verdict
from ..wire.session import ConformanceSession
from . import key_url_judges, refresh_judges  # noqa: F401  (register their judges with the case judges)
from .case_judges import CASE_JUDGES, judge_case
from .exploration import ExplorationRun
from .fuzz import FuzzRun, fuzz_checks
from .issuance_judges import ISSUANCE_JUDGES, judge_issuance, no_nonce_verdict
from .stateful.run import StatefulRun, stateful_checks

# The searches whose checks judge one run each, by the judge name their checks carry.
EXPLORATIONS: dict[str, type[ExplorationRun]] = {run.name: run for run in (FuzzRun, StatefulRun)}


def judge_check(session: ConformanceSession, check: Check) -> Verdict:
    """The verdict of a fixed check (a situation's or the main flow's), sending what it needs first."""
    if check.case is None:
        if check.subject.startswith(ALG_SUBJECT):
            session.alg_flows()  # sent the first time a check needs them, kept on the main flow's record
        elif check.subject.startswith(BODY_SUBJECT):
            session.body_bindings()  # likewise
        return judge_issuance(check.judge, check.subject, session.issuance())
    exp = expectation(check.case, session.resolve_mode())
    if session.operation_absent(check.case.endpoint):
        return Verdict(NOT_APPLICABLE, f"the target has no {check.case.endpoint} operation "
                             "(404 or 405 for a registered agent's own id)")
    if isinstance(check.case, Case) and check.case.proof in NONCE_PROOFS and not session.nonce_issued():
        return no_nonce_verdict(session.issuance())
    result = session.result(check.case)
    if not exp.accept and result.exchange is not None:
        # a refusal says something only where the same endpoint accepted a defect-free request
        result = replace(result, control_ok=session.control_ok(check.case.endpoint))
    if check.judge == KEY_URL_JUDGE:
        result = replace(result, key_fetches=session.key_fetches(check.case))  # waits a moment for a late fetch
    return judge_case(check.judge, exp, result)


def known_checks(mode: str) -> list[Check]:
    """Every check a run in `mode` can have: the fixed ones, the fuzz properties and the state
    machine's invariants (whether or not the fuzzers are switched on)."""
    return fixed_checks(mode) + fuzz_checks(mode) + stateful_checks(mode)


def what_it_checks(check: Check) -> str:
    """One line naming what the check's judge looks at (its judge's own summary)."""
    judge = CASE_JUDGES.get(check.judge) or ISSUANCE_JUDGES.get(check.judge)
    if judge is not None and judge.__doc__:
        return judge.__doc__.strip().splitlines()[0]
    return check.requirement.statement

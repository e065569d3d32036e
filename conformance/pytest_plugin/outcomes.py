"""A check's verdict becomes a pytest outcome: fail for a broken MUST (and for a SHOULD with
--conformance-strict), xfail for a baselined deviation, skip for inconclusive and not applicable
(the reason says which); a SHOULD warning passes as far as pytest knows (no Python warning: the
console, console.py, and the JUnit file, junit.py, show it from its record). Every check becomes
a results record with how to reproduce it."""
from __future__ import annotations

import shlex
from datetime import date

import pytest

from ..judging.exploration import describe_crash
from ..judging.judge_check import judge_check
from ..report import baseline, reproduce, results
from ..report.reproduce import env_prefix
from ..report.requirements_doc import NAME as REQUIREMENTS_DOC
from ..spec.checks import Check
from ..spec.vocabulary import BASELINED, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, STALE, WARN, Verdict, graded
from ..wire.exchange import Exchange, redact_tokens
from ..wire.session import ConformanceSession
from .options import MODEL_SCHEME, SECRET_ENV, option, results_path, strict
from .state import RECORD_KEY, state

REPRODUCER_DIR = "reproducers"  # next to the results file


def run_check(config: pytest.Config, session: ConformanceSession, check: Check, item: pytest.Item) -> None:
    """Judge one check (a fixed one on its situation, an exploration's on its one run) and report it."""
    exploration = state(config).explorations.get(check.judge)
    try:
        if exploration is not None:
            verdict, exchanges = exploration.verdict(check)
        else:
            verdict, exchanges = judge_check(session, check), session.exchanges_for(check)
    except Exception as exc:  # noqa: BLE001 - a bug of the suite, never a verdict about the server
        report_suite_error(config, check, item, exc)
        return
    report_verdict(config, session, check, item, verdict, exchanges)


SUITE_ERROR = "the suite failed while judging this check (a bug of arcp-conformance, not a verdict about the server)"


def report_suite_error(config: pytest.Config, check: Check, item: pytest.Item, exc: Exception) -> None:
    """Record the check as inconclusive, marked as the suite's own error (the run exits 3, finish.py),
    and skip it: pytest must not count it as a failed check."""
    message = f"{SUITE_ERROR}: {describe_crash(exc)}"
    entry = {**results.check_record(check, INCONCLUSIVE, message, [], None), "suite_error": True}
    state(config).records.append(entry)
    item.stash[RECORD_KEY] = entry
    pytest.skip(f"{INCONCLUSIVE}: {message}")


def report_verdict(config: pytest.Config, session: ConformanceSession, check: Check, item: pytest.Item,
                   verdict: Verdict, exchanges: list[Exchange]) -> None:
    """Record the check and turn its verdict into a pytest outcome (fail only for MUST, or strict)."""
    run = state(config)
    req = check.requirement
    message = redact_tokens(verdict.message)  # views of tokens, control characters visible
    outcome, note = baseline.classify(run.baseline.get(check.id), graded(verdict.outcome, req.level), date.today(),
                                      exploratory=check.judge == "stateful")
    message = f"{message} ({note})" if note else message
    reproducer = _reproducer(config, session, check, outcome, message)
    entry = results.check_record(check, outcome, message, exchanges, reproducer)
    run.records.append(entry)
    item.stash[RECORD_KEY] = entry
    if outcome == BASELINED:
        pytest.xfail(f"{check.id}: {message}")
    if outcome == STALE:
        pytest.fail(f"stale baseline entry {check.id}: {note}{_details(config, exchanges, reproducer)}", pytrace=False)
    if outcome == FAIL or (outcome == WARN and strict(config)):
        pytest.fail(f"[{req.level}] {check.id}: {req.statement}\n{message}{_details(config, exchanges, reproducer)}"
                    + (f"\n{requirement_pointer(req.id)}" if _verbose(config) else ""), pytrace=False)
    if outcome in (INCONCLUSIVE, NOT_APPLICABLE):
        pytest.skip(f"{outcome}: {message}")


def _verbose(config: pytest.Config) -> bool:
    return config.get_verbosity() > 0


def _details(config: pytest.Config, exchanges: list[Exchange], reproducer: dict) -> str:
    """Below a failure's message: the reproduce command, and with -v every exchange too (by
    default they stay in the HTML and JSON reports and the reproducer: a run's console is a
    screen long, console.py)."""
    shown = "\n\n" + "\n\n".join(ex.describe() for ex in exchanges) + "\n" if _verbose(config) and exchanges else "\n"
    return shown + "Reproduce: " + env_prefix(reproducer) + reproducer["command"]


def requirement_pointer(req_id: str) -> str:
    """Where a reader finds the requirement: the project's own document, not the profile it was written from."""
    return f"Requirement {req_id}: {REQUIREMENTS_DOC} (arcp-conformance requirements {req_id})"


def suite_command(config: pytest.Config, session: ConformanceSession, check: Check) -> str:
    """The pytest command that re-runs exactly `check` in the suite against the same target."""
    args = ["pytest", "--target-url", option(config, "target-url"), "--dpop-mode", session.mode]
    for name in ("agent-type", "agent-endpoint-host"):
        if option(config, name):
            args += [f"--{name}", option(config, name)]
    args += ["--check", check.id]
    exploration = state(config).explorations.get(check.judge)
    if exploration is not None:  # the same seed and budget send the same examples
        args += exploration.rerun_args()
    return shlex.join(args)


def _reproducer(config: pytest.Config, session: ConformanceSession, check: Check, outcome: str, message: str) -> dict:
    """How to reproduce the check: for one that did not pass, a plan file (report.reproduce)
    and the command that runs it; for every check, the suite command that re-runs it. Secrets
    are not in either: they name the environment variables that must hold them."""
    spec = option(config, "target-url")
    environment = []
    if not spec.startswith(MODEL_SCHEME):  # the model brings its own key and secret
        environment.append(SECRET_ENV["agent-key"])
        if session.forger is not None:
            environment.append(SECRET_ENV["jwt-secret"])
    rerun = suite_command(config, session, check)
    out = {"command": rerun, "environment": environment, "python_file": None, "plan_file": None, "suite_command": rerun}
    if outcome in (PASS, NOT_APPLICABLE, INCONCLUSIVE):
        return out
    try:
        plan = reproduce.plan_for(session, check, spec=spec, seen=(outcome, message),
                                  exploration=state(config).explorations.get(check.judge))
    except Exception as exc:  # noqa: BLE001 - a reproducer must never cost the verdict
        out["plan_error"] = f"{type(exc).__name__}: {exc}"
        return out
    relative = f"{REPRODUCER_DIR}/{reproduce.plan_name(check.id)}"
    state(config).reproducers[relative] = reproduce.dumps(plan)
    out["plan_file"] = relative
    out["command"] = reproduce.command(results_path(config).parent / relative)
    out["environment"] = [SECRET_ENV[name] for name in ("agent-key", "jwt-secret") if plan["needs"][name.replace("-", "_")]]
    return out


def write_reproducers(config: pytest.Config) -> None:
    """The reproducer plans of this run, next to the results file (old ones removed)."""
    folder = results_path(config).parent / REPRODUCER_DIR
    if folder.is_dir():
        for old in [*folder.glob("*.py"), *folder.glob("*.json")]:
            old.unlink()
    for relative, text in state(config).reproducers.items():
        path = results_path(config).parent / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

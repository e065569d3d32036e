"""Running the registration state machine against a session and reading its verdicts: the
entry point (`run_state_machine`), the run the plugin's checks share (`StatefulRun`), and the
checks it has (`stateful_checks`).

    result = run_state_machine(session, examples=10, steps=8, seconds=60.0, seed=5449)
    for v in result.verdicts:          # one InvariantVerdict per invariant, fixed order
        v.requirement_id, v.outcome, v.message, v.steps, v.exchange_text
    result.seed, result.examples, result.steps, result.budget_exhausted, result.error, result.leftovers

It needs ``session.issuance()``, which it calls. Other threads may send on the same session
meanwhile: a step's exchanges are the ones its own thread sent (``client.own_exchanges()``), and
an example holds the session's registering locks of its agents from its first step to its
teardown, so that the phase-3 situations, which register the same agents, wait for it. A verdict's ``exchange`` is the recorded Exchange; its
``exchange_text`` is ``Exchange.describe()``, tokens and proofs reduced to fingerprints. Step
descriptions name tokens by labels (T0, V1, X0) only. ``steps`` bounds Hypothesis' steps per
example; the warm-up step adds up to three steps of its own. Call it outside any running
Hypothesis test. The same seed gives the same steps and verdicts against a deterministic
target; ``seed=None`` means ``DEFAULT_SEED``. The budgets (``seconds``; the steps, examples ×
(steps + 3) × 4; ``shrink_examples`` after the last example that found something new, default
``shrink_budget``)
turn the remaining steps into no-ops, so a run that hits one may report a longer sequence than the
minimal one (``budget_exhausted`` and ``budget_spent`` say so). Every agent the machine registers is unregistered when each
example ends; ``leftovers`` lists any that could not be.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, seed as hypothesis_seed, settings
from hypothesis.errors import Flaky, HypothesisException
from hypothesis.stateful import run_state_machine_as_test

from ...dpop.tokens import jkt_of
from ...spec.checks import Check
from ...spec.vocabulary import FAIL, INCONCLUSIVE, Verdict
from ...wire.exchange import Exchange
from ..exploration import ExplorationRun
from .invariants import INVARIANTS, InvariantVerdict, InvariantViolation
from .machine import WARM_UP_MAX, MachineRun, Tok, machine_class

DEFAULT_SEED = 0
DEFAULT_EXAMPLES = 20  # at 10, seed 5449 misses two of the model's flow faults in optional mode
DEFAULT_STEPS = 8
DEFAULT_SECONDS = 300.0  # a safety net: a run that spends it may take another path (see budget_exhausted)
SHRINK_FACTOR = 4  # the step budget: examples × (steps + warm-up) × this, shrinking included
# The shrink budget: examples allowed after the last one that found something new (an invariant
# broken for the first time, a shorter failing sequence). Measured on the model's flow faults at
# 20 examples (seed 5449) and 10 (seed 0): up to 69 examples pass between two such finds, some of
# them new invariants found while shrinking another (operations-skip-dpop: 4, 71, 102, 142), so a
# smaller bound would change verdicts; 2 × examples counted from the first failure did.
SHRINK_EXAMPLES_MIN = 100
SHRINK_EXAMPLES_FACTOR = 2  # × examples, for a run of many examples


@dataclass
class StatefulResult:
    seed: int
    mode: str | None
    examples: int = 0  # state-machine runs (generation and shrinking)
    steps: int = 0  # steps that sent requests
    elapsed: float = 0.0
    budget_exhausted: bool = False
    first_failure: int | None = None  # the example that first broke an invariant
    budget_spent: str = ""  # which budget ran out: "steps" (examples × (steps + 3) × 4), "shrink" (examples since the last new finding) or "time"
    verdicts: list[InvariantVerdict] = field(default_factory=list)
    trace: list[list[str]] = field(default_factory=list)  # the steps of each example, in order
    leftovers: list[str] = field(default_factory=list)  # agent ids teardown could not unregister
    error: str | None = None  # an unexpected error that ended the run early

    def verdict(self, key: str) -> InvariantVerdict:
        """The verdict of an invariant, by its name or its requirement id."""
        for v in self.verdicts:
            if key in (v.invariant, v.requirement_id):
                return v
        raise KeyError(key)

    @property
    def failed(self) -> list[InvariantVerdict]:
        return [v for v in self.verdicts if v.outcome == FAIL]


# --- the checks the plugin makes of it -------------------------------------------------------

SUBJECT = "stateful"


def stateful_checks(mode: str) -> list[Check]:
    """One check `REQ@stateful` per catalogued invariant that applies in `mode` (an invariant of
    no catalogue requirement, ``unregistered-refused``, is no check: the profile does not state it)."""
    return [Check(inv.requirement_id, SUBJECT, "stateful") for inv in INVARIANTS
            if inv.catalogued and inv.requirement_id and mode in inv.modes]


def steps_digest(trace: list[list[str]]) -> str:
    """A digest of every example's steps in order: equal for runs that took the same path."""
    text = "\n\n".join("\n".join(steps) for steps in trace)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def numbered(steps: list[str]) -> str:
    return "; ".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def check_verdict(result: StatefulResult, requirement_id: str) -> tuple[Verdict, list[Exchange]]:
    """The verdict of the check of `requirement_id` and the exchange that shows it: the message of
    a failure names the minimal step sequence and the seed."""
    note = f"seed {result.seed}, {result.examples} examples, {result.steps} steps"
    if result.budget_exhausted:
        note += f", {result.budget_spent or 'time'} budget spent: the sequence may not be minimal"
    try:
        v = result.verdict(requirement_id)
    except KeyError:
        return Verdict(INCONCLUSIVE, f"the state machine did not judge it ({result.error or 'no verdict'}; {note})"), []
    if v.outcome == FAIL:
        message = f"minimal failing sequence ({len(v.steps)} steps): {numbered(v.steps)}; {v.message} ({note})"
        return Verdict(FAIL, message), [v.exchange] if v.exchange is not None else []
    message = v.message
    if result.error and v.outcome == INCONCLUSIVE:
        message = f"{message}; {result.error}"
    return Verdict(v.outcome, f"{message} ({note})"), []


# --- the entry point -------------------------------------------------------------------------

def _temps_of(session) -> list[Tok]:
    state = session.state
    temps = []
    for who, token in ((state.id_a, state.temp_a), (state.id_u, state.temp_u)):
        if who is not None and token is not None:
            temps.append(Tok(f"T{len(temps)}", "temp", token, who, jkt_of(token)))
    return temps


def _unexpected(exc: BaseException) -> list[BaseException]:
    """The exceptions in `exc` that are neither invariant violations nor Hypothesis' own
    complaints about a non-reproducible failure (expected once the budget turns steps off)."""
    if isinstance(exc, BaseExceptionGroup):
        return [e for sub in exc.exceptions for e in _unexpected(sub)]
    if isinstance(exc, (InvariantViolation, Flaky)):
        return []
    if isinstance(exc, HypothesisException) and "flaky" in type(exc).__name__.lower():
        return []
    return [exc]


def run_state_machine(
    session,
    *,
    examples: int = DEFAULT_EXAMPLES,
    steps: int = DEFAULT_STEPS,
    seconds: float = DEFAULT_SECONDS,
    seed: int | None = None,
    shrink_examples: int | None = None,
) -> StatefulResult:
    """Run the registration state machine against `session`'s target; never raises for a
    violation (see the module docstring)."""
    if examples < 1 or steps < 1:
        raise ValueError("examples and steps must be at least 1")
    seed = DEFAULT_SEED if seed is None else seed
    started = time.monotonic()
    result = StatefulResult(seed=seed, mode=None)
    try:
        session.issuance()
        mode = session.resolve_mode()
    except Exception as exc:  # the target cannot be set up: every invariant is inconclusive
        result.error = f"setup failed: {type(exc).__name__}: {exc}"
        mode = None
    result.mode = mode
    temps = _temps_of(session) if mode else []
    run = MachineRun(session, mode or "unknown", temps, seconds, max_steps=examples * (steps + WARM_UP_MAX) * SHRINK_FACTOR,
                     shrink_examples=shrink_budget(examples, shrink_examples))
    if not temps:
        result.error = result.error or "phase 1 issued no temp token: the machine has nothing to start from"
        result.verdicts = run.tally.verdicts()
        return result
    machine = hypothesis_seed(seed)(machine_class(run))
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=True,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(machine, settings=config)
    except Exception as exc:  # noqa: BLE001 - violations are recorded; anything else is reported
        others = _unexpected(exc)
        if others:
            first = others[0]
            result.error = f"{type(first).__name__}: {first}"
    result.examples, result.steps = run.examples, run.steps
    result.budget_exhausted, result.budget_spent = run.budget_exhausted, run.budget_spent
    result.first_failure = run.first_failure
    result.trace = run.trace
    result.leftovers = sorted(set(run.leftovers))
    result.verdicts = run.tally.verdicts(run.budget_spent if run.budget_exhausted else "")
    result.elapsed = time.monotonic() - started
    return result


def shrink_budget(examples: int, shrink_examples: int | None) -> int:
    """Examples allowed after the last one that found something new: `shrink_examples`, or by
    default the larger of SHRINK_EXAMPLES_MIN and twice the examples asked for."""
    if shrink_examples is not None:
        return shrink_examples
    return max(SHRINK_EXAMPLES_MIN, SHRINK_EXAMPLES_FACTOR * examples)


@dataclass(frozen=True)
class StatefulSettings:
    examples: int = DEFAULT_EXAMPLES  # 0: no state machine, no checks
    steps: int = DEFAULT_STEPS
    seconds: float = DEFAULT_SECONDS
    seed: int | str = DEFAULT_SEED
    seed_source: str = "default"
    shrink_examples: int | None = None  # None: shrink_budget's default


class StatefulRun(ExplorationRun):
    """The state machine against one session, run once, on first use (the plugin's checks all
    judge the same run)."""

    name = "stateful"
    settings_type = StatefulSettings

    def __init__(self, session, settings: StatefulSettings):
        super().__init__(session, settings)
        self.result: StatefulResult | None = None

    @staticmethod
    def checks(mode: str) -> list[Check]:
        return stateful_checks(mode)

    def _run(self) -> None:
        s = self.settings
        started = time.monotonic()
        try:
            self.result = run_state_machine(self.session, examples=max(s.examples, 1), steps=max(s.steps, 1),
                                            seconds=s.seconds, seed=s.seed, shrink_examples=s.shrink_examples)
        except Exception as exc:  # noqa: BLE001 - never cost the other checks their verdicts
            self.result = StatefulResult(seed=s.seed, mode=None, error=f"{type(exc).__name__}: {exc}",
                                         elapsed=time.monotonic() - started)

    def verdict(self, check: Check) -> tuple[Verdict, list[Exchange]]:
        return check_verdict(self.run().result, check.requirement_id)

    def plan_line(self) -> str:
        s = self.settings
        return (f"stateful flows {s.examples} examples of up to {s.steps} steps within {s.seconds:g} s, "
                f"shrinking ends after {shrink_budget(s.examples, s.shrink_examples)} examples in a row find nothing new, seed {s.seed} ({s.seed_source})")

    def console_line(self) -> str:
        r = self.run().result
        spent = f", {r.budget_spent or 'time'} budget spent" if r.budget_exhausted else ""
        return (f"stateful flows: seed {r.seed} ({self.settings.seed_source}), {r.examples} examples, {r.steps} steps, "
                f"{r.elapsed:.1f} s{spent}" + (f"; {r.error}" if r.error else ""))

    def rerun_args(self) -> list[str]:
        s = self.settings
        return ["--hypothesis-seed", str(s.seed), "--stateful-examples", str(s.examples), "--stateful-steps", str(s.steps),
                "--stateful-seconds", f"{s.seconds:g}", "--stateful-shrink-examples", str(shrink_budget(s.examples, s.shrink_examples))]

    def summary(self, checks: list[Check]) -> dict:
        """The results document's `stateful` member."""
        r, s = self.run().result, self.settings
        by_req = {v.requirement_id: v for v in r.verdicts}
        invariants = []
        for check in checks:
            v = by_req.get(check.requirement_id)
            verdict, _ = check_verdict(r, check.requirement_id)
            invariants.append({
                "check_id": check.id,
                "invariant": v.invariant if v else None,
                "requirement": check.requirement_id,
                "statement": v.statement if v else "",
                "outcome": verdict.outcome,
                "judged": v.judged if v else 0,
                "minimal_steps": list(v.steps) if v is not None and v.outcome == FAIL else [],
                "message": verdict.message,
            })
        return {
            "seed": str(r.seed),
            "seed_source": s.seed_source,
            "examples_requested": s.examples,
            "steps_requested": s.steps,
            "seconds_budget": s.seconds,
            "shrink_examples_budget": shrink_budget(s.examples, s.shrink_examples),
            "examples": r.examples,
            "steps": r.steps,
            "elapsed_seconds": round(r.elapsed, 2),
            "budget_exhausted": r.budget_exhausted,
            "budget_spent": r.budget_spent or None,
            "steps_digest": steps_digest(r.trace),
            "error": r.error,
            "leftovers": list(r.leftovers),
            "invariants": invariants,
        }

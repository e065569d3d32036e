"""The state machine's invariants (profile §6 along registration flows) and their tally: what
the machine judges after every step, which sequences broke an invariant, and each invariant's
verdict at the end. No I/O here; conformance.judging.stateful.machine sends the steps.

Invariants (requirement ids of vectors/requirements.json):

- ``no-5xx`` PROBLEM-no-5xx: no response is a 5xx (catalogued gateway problems exempt)
- ``problem-json`` PROBLEM-content-type: every 4xx/5xx is application/problem+json
- ``single-use`` ISSUE-single-use: a validated token that registered once is refused again
  (judged only when its agent is unregistered, so that 409 duplicate-agent cannot hide it)
- ``replay`` PROOF-replay: an accepted request replayed with the same proof is refused
  (any token presented with a proof, bound or not: the proof is checked either way; heartbeats
  only in required mode)
- ``mismatch`` BIND-mismatch: a bound token with a valid proof by the other key gets 401
- ``bound-noproof`` BIND-bound-noproof: a bound token without a proof is refused (401 in
  required mode, any 4xx in optional mode)
- ``wrong-phase`` TOKEN-wrong-phase-refused: a token outside its phase is refused
- ``binding-kept`` ISSUE-binding-kept: the validated and access tokens of a flow bound to a key
  carry that key's cnf.jkt
- ``unregistered-refused`` (no catalogue requirement yet: ``requirement_id`` None,
  ``catalogued`` False): a heartbeat with the access token of an unregistered agent is refused

Binding invariants apply in modes required and optional only. Refusal-based invariants
(mismatch, bound-noproof, wrong-phase) pass only where the same endpoint accepted a defect-free
request in the run (the positive control); otherwise they are inconclusive, as is any
invariant the run never exercised.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...spec.cases import Expectation
from ...spec.catalogue import slug_of
from ...spec.vocabulary import DPOP_MODES, FAIL, INCONCLUSIVE, MODES, PASS
from ...wire.exchange import Exchange
from ...wire.records import CaseResult
from ..case_judges import CASE_JUDGES, GATEWAY_EXEMPT


@dataclass(frozen=True)
class Invariant:
    name: str
    requirement_id: str | None
    statement: str
    modes: tuple[str, ...] = MODES
    needs_control: bool = False  # judged on refusals: a pass needs an accepted clean request at the endpoint
    catalogued: bool = True


INVARIANTS: tuple[Invariant, ...] = (
    Invariant("no-5xx", "PROBLEM-no-5xx", "No step is answered with a 5xx."),
    Invariant("problem-json", "PROBLEM-content-type", "Every error response is application/problem+json."),
    Invariant("single-use", "ISSUE-single-use", "A validated token that registered an agent is refused at phase 3 afterwards."),
    Invariant("replay", "PROOF-replay", "A request replayed with an already accepted proof is refused.", DPOP_MODES),
    Invariant("mismatch", "BIND-mismatch", "A bound token with a valid proof by another key is refused with 401.", DPOP_MODES, True),
    Invariant("bound-noproof", "BIND-bound-noproof", "A bound token without a proof is refused.", DPOP_MODES, True),
    Invariant("wrong-phase", "TOKEN-wrong-phase-refused", "A token presented outside its phase is refused.", MODES, True),
    Invariant("binding-kept", "ISSUE-binding-kept", "Validated and access tokens of a flow bound to a key carry its cnf.jkt.", DPOP_MODES),
    Invariant(
        "unregistered-refused", None, "A heartbeat with the access token of an unregistered agent is refused.",
        catalogued=False,
    ),
)
INVARIANT_BY_NAME = {inv.name: inv for inv in INVARIANTS}
# What every step's responses are held to: (invariant, the judge of conformance.judging.case_judges).
RESPONSE_JUDGES = (("no-5xx", "ensure_no_5xx"), ("problem-json", "ensure_problem_content_type"))
_ANY_REFUSAL = Expectation("PROBLEM-no-5xx", False, ())


class InvariantViolation(AssertionError):
    """Raised inside the machine so that Hypothesis shrinks; one subclass per invariant, so that
    Hypothesis tells the invariants apart (it distinguishes failures by exception type)."""

    invariant = ""


VIOLATION_TYPES: dict[str, type[InvariantViolation]] = {
    inv.name: type(f"{inv.name.title().replace('-', '')}Violation", (InvariantViolation,), {"invariant": inv.name})
    for inv in INVARIANTS
}


@dataclass
class Violation:
    invariant: str
    requirement_id: str | None
    message: str
    steps: list[str]
    exchange: Exchange | None

    @property
    def exchange_text(self) -> str:
        return self.exchange.describe() if self.exchange is not None else ""


@dataclass
class InvariantVerdict:
    invariant: str
    requirement_id: str | None
    statement: str
    outcome: str  # pass | fail | inconclusive
    message: str = ""
    steps: list[str] = field(default_factory=list)  # the minimal failing sequence (fail only)
    exchange: Exchange | None = None  # the failing exchange (fail only)
    judged: int = 0  # how many steps judged this invariant
    catalogued: bool = True

    @property
    def exchange_text(self) -> str:
        """The failing exchange with tokens and proofs reduced to fingerprints."""
        return self.exchange.describe() if self.exchange is not None else ""


class Tally:
    """Per invariant, over every example of one run: how often it was judged, where it held,
    the shortest sequence that broke it, and where a defect-free request was accepted."""

    def __init__(self, mode: str):
        self.mode = mode
        self.best: dict[str, Violation] = {}
        self.judged: dict[str, int] = {inv.name: 0 for inv in INVARIANTS}
        self.passed_at: dict[str, set[str]] = {inv.name: set() for inv in INVARIANTS}
        self.controls: set[str] = set()  # endpoints that accepted a defect-free request (the positive controls)

    def held(self, name: str, endpoint: str | None) -> None:
        self.judged[name] += 1
        if endpoint:
            self.passed_at[name].add(endpoint)

    def broken(self, name: str, message: str, steps: list[str], ex: Exchange | None) -> Violation:
        self.judged[name] += 1
        return Violation(name, INVARIANT_BY_NAME[name].requirement_id, message, list(steps), ex)

    def record(self, v: Violation) -> bool:
        """Keep, per invariant, the shortest failing sequence seen (the latest among equals:
        Hypothesis' shrinker only tries candidates smaller than its current best). True when it is
        news: the invariant's first failure, or a shorter sequence."""
        old = self.best.get(v.invariant)
        if old is None or len(v.steps) <= len(old.steps):
            self.best[v.invariant] = v
        return old is None or len(v.steps) < len(old.steps)

    def verdicts(self, budget_spent: str = "") -> list[InvariantVerdict]:
        out = []
        for inv in INVARIANTS:
            common = dict(invariant=inv.name, requirement_id=inv.requirement_id, statement=inv.statement,
                          judged=self.judged[inv.name], catalogued=inv.catalogued)
            v = self.best.get(inv.name)
            if v is not None:
                out.append(InvariantVerdict(outcome=FAIL, message=v.message, steps=list(v.steps), exchange=v.exchange, **common))
            elif self.mode not in inv.modes:
                out.append(InvariantVerdict(outcome=INCONCLUSIVE, message=f"not applicable in {self.mode} mode", **common))
            elif not self.judged[inv.name]:
                why = "no step of the run exercised it" + (f" (the {budget_spent} budget ended the run)" if budget_spent else "")
                out.append(InvariantVerdict(outcome=INCONCLUSIVE, message=why, **common))
            elif inv.needs_control and not (self.passed_at[inv.name] & self.controls):
                where = ", ".join(sorted(self.passed_at[inv.name]))
                out.append(InvariantVerdict(
                    outcome=INCONCLUSIVE,
                    message=f"refused at {where}, but no defect-free request was accepted there in the run (positive control)",
                    **common,
                ))
            else:
                out.append(InvariantVerdict(outcome=PASS, message=f"held in {self.judged[inv.name]} judged steps", **common))
        return out


def response_verdicts(ex: Exchange) -> list[tuple[str, bool, str]]:
    """(invariant, held, message) for what every answered response is held to, judged by the
    suite's own judges: no 5xx, and every error response problem+json. A catalogued gateway
    problem about the agent endpoint (a 5xx the profile exempts) is held to neither."""
    if ex.status >= 500 and slug_of(ex.json_member("type")) in GATEWAY_EXEMPT:
        return []
    out = []
    for name, judge in RESPONSE_JUDGES:
        verdict = CASE_JUDGES[judge](ex, _ANY_REFUSAL, CaseResult(ex))
        if verdict.outcome in (PASS, FAIL):  # NOT_APPLICABLE: not an error response, nothing to hold
            out.append((name, verdict.outcome == PASS, verdict.message))
    return out

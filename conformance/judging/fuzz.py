"""Property fuzzing of DPoP proofs and request bodies at the phase-2 endpoint (issues 5, 15).

One Hypothesis run per session (`FuzzRun.run`) sends a stream of examples (`strategies.fuzz_cases`,
malformed bodies from `malformed_strategies.body_changes`)
with the session's bound temp token, records each example's exchanges and judges them with the
pure `judge_example`. Per example the defect-free twin goes first: if it is not accepted the
example says nothing (inconclusive). Properties, each a check `REQ@fuzz:validate`:

- PROOF-defect-combinations: an example with a MUST-level defect is not accepted (a SHOULD-level
  defect alone accepted is a warning);
- PROBLEM-malformed-refused: an example with a malformed body (and a valid proof) is refused with a 4xx;
- PROBLEM-content-type, PROBLEM-members: every refusal is problem+json with the ARCP members;
- BIND-problem-type: a refusal of a MUST-level defect, or of a replay, has type dpop-invalid (profile §6),
  or dpop-binding-mismatch where the proof names a key of its own (not the token's key A);
- PROBLEM-no-5xx: no exchange (twin included) is answered with a 5xx;
- PROOF-replay: a valid proof sent twice is refused the second time.

A failing example is raised to Hypothesis (one exception type per property), which shrinks it;
the minimal failing example per property is the smallest one recorded (Hypothesis' own result
among them), so a property whose failures always come with another's still gets one.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from functools import cached_property

from ..dpop.malformed_strategies import body_changes, build_lazy_parts
from ..dpop.proofs import DEFECTS
from ..dpop.strategies import DEFECTIVE, REPLAY, FuzzCase, corpus, fuzz_cases, key_url_serves, proof_values
from ..spec.cases import Case, Expectation, defect_requirements
from ..spec.catalogue import requirement
from ..spec.checks import Check
from ..spec.requests import BODY_VARIANTS, REQUIRED_MEMBERS
from ..spec.vocabulary import FAIL, INCONCLUSIVE, MUST, NOT_APPLICABLE, PASS, WARN, Verdict
from ..wire.exchange import Exchange
from ..wire.flows import Proof
from ..wire.nonces import take_nonce
from ..wire.records import CaseResult
from .case_judges import CASE_JUDGES, precondition
from .exploration import ExplorationRun

SUBJECT = "fuzz:validate"
DEFAULT_EXAMPLES = 30
DEFAULT_SECONDS = 60.0
DEFAULT_SEED = 5449  # fixed: without --hypothesis-seed every run sends the same examples
REQUESTS_PER_EXAMPLE = 3  # the budget: (corpus + examples) × 3 requests, shrinking included
REFUSE = "PROOF-defect-combinations"
MALFORMED = "PROBLEM-malformed-refused"
# In the order an example's failure is raised to Hypothesis (the first failing one).
PROPERTIES = ("PROOF-replay", REFUSE, MALFORMED, "PROBLEM-no-5xx", "PROBLEM-content-type", "PROBLEM-members", "BIND-problem-type")
# The fixed malformed bodies every run sends first (spec.requests): one per way a body parser can
# stumble (the text, the media type, a member's type); the generated ones combine such changes.
CORPUS_BODIES = tuple(BODY_VARIANTS["validate"][v] for v in ("not-json", "text-plain", "wrong-type"))
_PROBLEM = Expectation(REFUSE, False, (), ("dpop-invalid",), "BIND-problem-type")
# A proof by a key of its own (Defect.own_key) with the token bound to key A: a conformant server
# may refuse it for the key's fit or for the binding, whichever it checks first (profile §6).
_PROBLEM_OWN_KEY = Expectation(REFUSE, False, (), ("dpop-invalid", "dpop-binding-mismatch"), "BIND-problem-type")


def fuzz_checks(mode: str) -> list[Check]:
    """The property checks (none in disabled mode: proofs are ignored there)."""
    if mode == "disabled":
        return []
    return [Check(req, SUBJECT, "fuzz") for req in PROPERTIES]


# --- judging one example (pure) ------------------------------------------------------------------

def defect_levels(case: FuzzCase) -> tuple[list[str], list[str]]:
    """(MUST-level, SHOULD-level) requirements the example's defects break when accepted."""
    reqs = [defect_requirements()[d] for d in case.defects if d != REPLAY]
    reqs += [p.requirement for p in case.items(DEFECTIVE)]
    if _names_own_key(case):
        reqs.append("BIND-mismatch")  # its key is not the bound token's key A either
    must = sorted({r for r in reqs if requirement(r).level == MUST})
    should = sorted({r for r in reqs if requirement(r).level != MUST})
    return must, should


def _names_own_key(case: FuzzCase) -> bool:
    return any(d in DEFECTS and DEFECTS[d].own_key for d in case.defects)


@dataclass
class ExampleResult:
    case: FuzzCase
    twin: Exchange | None
    exchange: Exchange | None  # the example itself (for a replay: the second use)
    outcome: str  # accepted | refused | inconclusive
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # property requirement -> verdict

    def exchanges(self) -> list[Exchange]:
        return [e for e in (self.twin, self.exchange) if e is not None]


def judge_example(case: FuzzCase, twin: Exchange | None, ex: Exchange | None) -> ExampleResult:
    """The properties on one example: `twin` is the defect-free twin (for a replay: the first
    use), `ex` the example (the second use), None when it was not sent."""
    result = ExampleResult(case, twin, ex, INCONCLUSIVE)
    v = result.verdicts
    sent = [e for e in (twin, ex) if e is not None and e.status is not None and not e.throttled]  # a 503 of rate limiting judges nothing
    fives = [e for e in sent if CASE_JUDGES["ensure_no_5xx"](e, _PROBLEM, CaseResult(e)).outcome == FAIL]
    if fives:
        which = "the defect-free twin" if fives[0] is twin else "the example"
        v["PROBLEM-no-5xx"] = Verdict(FAIL, f"{which} was answered {fives[0].summary()}: {str(fives[0].json_member('detail'))[:200]}")
    elif sent:
        v["PROBLEM-no-5xx"] = Verdict(PASS)
    if precondition(CaseResult(twin)) or not twin.ok or ex is None or precondition(CaseResult(ex)):
        return result  # the twin was not accepted (or the example not answered): says nothing
    result.outcome = "accepted" if ex.ok else "refused"
    must, should = defect_levels(case)
    if case.body is not None:
        if ex.ok:
            v[MALFORMED] = Verdict(FAIL, f"accepted a malformed body: {ex.summary()}")
        elif not 400 <= ex.status < 500:
            v[MALFORMED] = Verdict(FAIL, f"a malformed body was not refused with a 4xx: {ex.summary()}")
        else:
            v[MALFORMED] = Verdict(PASS)
    elif case.replay:
        if ex.ok:
            v["PROOF-replay"] = Verdict(FAIL, f"the second use of a proof was accepted: {ex.summary()}")
        elif not 400 <= ex.status < 500:  # as validate:bound:replay: a refusal is a 4xx (a 5xx is no refusal)
            v["PROOF-replay"] = Verdict(FAIL, f"the second use of a proof was not refused with a 4xx: {ex.summary()}")
        else:
            v["PROOF-replay"] = Verdict(PASS)
    elif ex.ok and must:
        v[REFUSE] = Verdict(FAIL, f"accepted a proof breaking {', '.join(must)}: {ex.summary()}")
    elif ex.ok and should:
        v[REFUSE] = Verdict(WARN, f"accepted a proof breaking only SHOULD-level {', '.join(should)}: {ex.summary()}")
    elif must or should:
        v[REFUSE] = Verdict(PASS)
    if ex.is_error:
        for req, judge in (("PROBLEM-content-type", "ensure_problem_content_type"), ("PROBLEM-members", "ensure_problem_members")):
            v[req] = CASE_JUDGES[judge](ex, _PROBLEM, CaseResult(ex))
        if case.replay or must:
            expectation = _PROBLEM_OWN_KEY if _names_own_key(case) else _PROBLEM
            v["BIND-problem-type"] = CASE_JUDGES["ensure_problem_type"](ex, expectation, CaseResult(ex))
    return result


# --- the run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class FuzzSettings:
    examples: int = DEFAULT_EXAMPLES
    seconds: float = DEFAULT_SECONDS
    seed: int | str = DEFAULT_SEED
    seed_source: str = "default"  # default | --hypothesis-seed


_FAILURES = {req: type(f"FuzzFailure_{i}", (AssertionError,), {"requirement": req}) for i, req in enumerate(PROPERTIES)}


def _raised_on_purpose(exc: Exception, raise_for: str | None) -> bool:
    """Did pass 2 raise `exc` itself: the failure of the property it shrinks, or Hypothesis' report
    that the target did not answer the same way twice? Pass 1 raises nothing on purpose."""
    from hypothesis.errors import Flaky

    return raise_for is not None and isinstance(exc, (_FAILURES[raise_for], Flaky))


class FuzzRun(ExplorationRun):
    """The example stream against one session, run once; the checks judge what it recorded."""

    name = "fuzz"
    settings_type = FuzzSettings

    def __init__(self, session, settings: FuzzSettings):
        super().__init__(session, settings)
        self.results: list[ExampleResult] = []
        self.requests = 0
        self.stopped: str | None = None  # why sending stopped early: "time" or "requests"
        self.reason = ""  # why nothing could be sent
        self._digest = hashlib.sha256()
        self._key_urls: dict[str, str] = {}  # what a key URL serves -> the run's URL serving it (jku-instead, x5u-instead)

    @staticmethod
    def checks(mode: str) -> list[Check]:
        return fuzz_checks(mode)

    def _prepare(self) -> None:
        build_lazy_parts()

    @cached_property
    def corpus(self) -> list[FuzzCase]:  # the budget reads it once per example
        return corpus(bodies=CORPUS_BODIES)

    @property
    def budget(self) -> int:
        return (self.settings.examples + len(self.corpus)) * REQUESTS_PER_EXAMPLE

    def _run(self) -> None:
        if self.settings.examples <= 0:
            self.reason = "fuzzing disabled (--fuzz-examples 0)"
            return
        who, token, why = self.session._token_for(Case("validate", "bound", "valid"))  # as for validate:bound:valid
        if who is None or token is None:
            self.reason = why or "no bound temp token"
            return
        self._who, self._token = who, token
        self._url = self.session.client.url(self.session.endpoints.validate)
        self._deadline = time.monotonic() + self.settings.seconds

        # Pass 1 sends the corpus, then generates and records, raising nothing (a raise would end
        # generation early, and one property's failure would hide the others'). Pass 2, per failing
        # property whose smallest recorded example is not yet minimal, replays the same generated
        # stream (same seed) up to its first failure and lets Hypothesis shrink it; both within
        # the request budget.
        self._probe(None)
        for req in PROPERTIES:
            worst = self.minimal(req)
            if worst is not None and worst.case.size_key()[:3] != (1, 0, 0) and not self.stopped:
                self._probe(req)

    def _probe(self, raise_for: str | None) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, example, given, seed, settings

        phases = (Phase.generate, Phase.shrink) if raise_for else (Phase.explicit, Phase.generate)
        # only the member names and JSON types of the valid body are drawn from: the same seed, the same examples
        bodies = body_changes(self.session.flows.phase2_body(self._who), REQUIRED_MEMBERS["validate"])

        @seed(self.settings.seed)
        @settings(max_examples=self.settings.examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck), phases=phases,
                  report_multiple_bugs=False, verbosity=Verbosity.quiet, print_blob=False)
        @given(fuzz_cases(bodies=bodies))
        def probe(case: FuzzCase) -> None:
            result = self._example(case)
            verdict = None if result is None or raise_for is None else result.verdicts.get(raise_for)
            if verdict is not None and verdict.outcome == FAIL:
                raise _FAILURES[raise_for](f"{raise_for}: {case.summary()}: {verdict.message}")

        for case in reversed(self.corpus):  # decorators apply bottom-up: the corpus goes in its own order
            probe = example(case)(probe)

        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - the failures are recorded; Hypothesis' report (or Flaky) adds nothing
            if not _raised_on_purpose(exc, raise_for):
                # a bug of the suite, not of the target: raised to every fuzz check (an internal
                # error of the run), never a shorter stream reported as if it were whole
                raise

    def _example(self, case: FuzzCase) -> ExampleResult | None:
        if time.monotonic() > self._deadline:
            self.stopped = self.stopped or "time"
            return None
        if self.requests + 2 > self.budget:
            self.stopped = self.stopped or "requests"
            return None
        flows, key = self.session.flows, self.session.key_a
        if case.replay:
            # the target's newest nonce, fixed: a replay is the same proof twice, never retried
            values = tuple(proof_values(case.twin(), key, self._url, access_token=self._token, nonce=self.session.client.nonce))
            twin = flows.phase2(self._who, self._token, Proof(replay=values))
            ex = flows.phase2(self._who, self._token, Proof(replay=values)) if twin.ok else None
        elif case.body is not None:  # the valid request, then the same with the malformed body
            twin = flows.phase2(self._who, self._token, _FuzzProof(case.twin(), key))
            raw = case.body.apply(flows.phase2_body(self._who))
            ex = flows.send_malformed("POST", self.session.endpoints.validate, self._token, _FuzzProof(case, key), raw=raw) if twin.ok else None
        else:
            twin = flows.phase2(self._who, self._token, _FuzzProof(case.twin(), key))
            proof = _FuzzProof(case, key, self.session.key_b, self._key_url(case))
            ex = flows.phase2(self._who, self._token, proof) if twin.ok else None
        self.requests += 1 + (ex is not None)
        result = judge_example(case, twin, ex)
        self.results.append(result)
        self._digest.update((case.summary() + "\n").encode())
        return result

    def _key_url(self, case: FuzzCase) -> str | None:
        """The key URL the example's proof names, if any: one per kind for the whole run, on the
        session's agent endpoint (the fuzz properties judge acceptance, not whether it is fetched)."""
        serves = key_url_serves(case)
        if serves is not None and serves not in self._key_urls:
            self._key_urls[serves] = self.session.key_url(serves)
        return self._key_urls.get(serves) if serves else None

    # --- what the checks and the report read

    def minimal(self, req: str, outcome: str = FAIL) -> ExampleResult | None:
        hits = [r for r in self.results if r.verdicts.get(req) is not None and r.verdicts[req].outcome == outcome]
        return min(hits, key=lambda r: r.case.size_key()) if hits else None

    def verdict(self, check: Check) -> tuple[Verdict, list[Exchange]]:
        self.run()
        req = check.requirement_id
        seed_note = f"seed {self.settings.seed}, {len(self.results)} examples"
        if not self.results:
            return Verdict(INCONCLUSIVE, f"no fuzz example was sent: {self.reason or self.stopped or 'nothing generated'}"), []
        for outcome in (FAIL, WARN):
            worst = self.minimal(req, outcome)
            if worst is not None:
                message = (f"minimal {'failing' if outcome == FAIL else 'warning'} example: {worst.case.summary()}; "
                           f"{worst.verdicts[req].message} ({seed_note})")
                return Verdict(outcome, message), worst.exchanges()
        judged = [r for r in self.results if req in r.verdicts]
        if judged:
            return Verdict(PASS, f"held on {len(judged)} examples ({seed_note})"), []
        if not any(r.outcome != INCONCLUSIVE for r in self.results):
            return Verdict(INCONCLUSIVE, f"every example was inconclusive: the defect-free twin was not accepted ({seed_note})"), []
        return Verdict(NOT_APPLICABLE, f"no example this property applies to ({seed_note})"), []

    def plan_line(self) -> str:
        s = self.settings
        return f"fuzzing {s.examples} examples within {s.seconds:g} s, seed {s.seed} ({s.seed_source})"

    def console_line(self) -> str:
        s = self.settings
        stopped = f", stopped early ({self.stopped} budget spent)" if self.stopped else ""
        crash = f"; ended on an error of the suite: {self.crash}" if self.crash else ""
        return f"fuzzing: seed {s.seed} ({s.seed_source}), {len(self.results)} examples, {self.requests} requests{stopped}{crash}"

    def rerun_args(self) -> list[str]:
        s = self.settings
        return ["--hypothesis-seed", str(s.seed), "--fuzz-examples", str(s.examples), "--fuzz-seconds", f"{s.seconds:g}"]

    def summary(self, checks: list[Check]) -> dict:
        """The results document's `fuzz` member."""
        counts = {k: sum(r.outcome == k for r in self.results) for k in ("accepted", "refused", "inconclusive")}
        properties = {}
        for check in checks:
            verdict = Verdict(INCONCLUSIVE, f"the fuzz run ended on an error of the suite: {self.crash}") if self.crash else self.verdict(check)[0]
            worst = self.minimal(check.requirement_id) or self.minimal(check.requirement_id, WARN)
            properties[check.id] = {
                "verdict": verdict.outcome,
                "minimal_example": None if worst is None else {
                    **worst.case.describe(),
                    "outcome": worst.outcome,
                    "message": worst.verdicts[check.requirement_id].message,
                },
            }
        return {
            "seed": str(self.settings.seed),
            "seed_source": self.settings.seed_source,
            "examples_requested": self.settings.examples,
            "corpus_examples": len(self.corpus),
            "seconds_budget": self.settings.seconds,
            "examples_run": len(self.results),
            "requests": self.requests,
            "stopped": self.stopped,
            "reason": self.reason or None,
            "error": self.crash,
            "elapsed_seconds": round(self.elapsed, 2),
            "defect_sets": len({r.case.defects for r in self.results}),
            "examples_digest": "sha256:" + self._digest.hexdigest()[:16],
            **counts,
            "properties": properties,
        }


@dataclass(frozen=True)
class _FuzzProof:
    """A flows.Proof look-alike that builds the example's proof afresh for each attempt."""

    case: FuzzCase
    key: object
    other_key: object = None
    key_url: str | None = None

    def headers(self, method: str, url: str, token: str | None) -> list[str]:
        # with the nonce the client hands over, like every proof (a fuzzed defect is judged for itself)
        return proof_values(self.case, self.key, url, access_token=token, other_key=self.other_key, nonce=take_nonce(),
                            key_url=self.key_url)

"""A Hypothesis rule-based state machine over ARCP's registration flow (profile §3, §6).

The machine strings the registration phases and the agent operations together in orders the
fixed situations of the suite never try, and after every step checks the invariants of profile
§6 that the wire shows. A violation is recorded as data (invariant, requirement id, the minimal
step sequence, the offending exchange), and also raised as its own exception type, so that
Hypothesis shrinks each broken invariant to a short sequence of its own.

Rules (one step each; Hypothesis orders rules by name and shrinks towards the first, so the
method names carry a letter: a_advance is the simplest step, i_wrong_phase the most unusual):

- ``warm_up``         (first, once) 0–3 ``advance`` steps, so some examples start deep in the flow
- ``advance``         the next step of the ordinary flow (validate, register, unregister, and
                      again), so that deep states are reached in few steps
- ``validate``        phase 2 with a temp token and a proof by its key or none, then the poll
- ``register``        phase 3 with an unused validated token, a proof by its key or none
- ``heartbeat``       ``POST /agents/{id}/heartbeat`` with an access token, a proof or none
- ``unregister``      ``DELETE /agents/{id}`` of a registered agent, proof by the token's key
- ``replay``          an earlier accepted request sent again byte for byte (same proof ``jti``)
- ``reuse_validated`` phase 3 again with a validated token that already registered
- ``switch_keys``     a bound token with a valid proof by the other key
- ``wrong_phase``     temp token at phase 3, validated token at heartbeat, access token at phase 2

Phase 1 is no rule: it is slow (≥ 1.8 s on upstream) and rate limited. The machine reuses the
temp tokens the session's main flow already obtained (``session.issuance()``: T0 proved by key
A, T1 sent without a proof where the target issued one) and makes no phase-1 call of its own;
temp tokens are reusable at phase 2, validated tokens are made per example.

How a step is judged: conformance.judging.stateful.invariants. How a run is driven and read:
conformance.judging.stateful.run. A step answered 429 (or 503, 423, a lockout) after the client
honoured Retry-After, or not at all, judges nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from ...dpop.keys import KeyPair
from ...dpop.tokens import jkt_of
from ...spec.vocabulary import DPOP_MODES
from ...wire.exchange import Exchange
from ...wire.flows import NO_PROOF, Flows, Identity, Proof, request_headers
from .invariants import VIOLATION_TYPES, Tally, Violation, response_verdicts

WARM_UP_MAX = 3  # ordinary steps an example may start with: validate, register, unregister
REPLAY_MAX_AGE = 90.0  # seconds: well inside ARCP's 120 s proof window, so a refusal is not for age
SWITCH_ENDPOINTS = {"validate": "temp", "register": "validated", "heartbeat": "access", "unregister": "access"}  # -> token kind
WRONG_PHASES = {"temp at register": "temp", "validated at heartbeat": "validated", "access at validate": "access"}


# --- what the machine holds ------------------------------------------------------------------

@dataclass(eq=False)
class Tok:
    label: str  # T0, V1, X2: the only name a step description uses
    kind: str  # temp | validated | access
    value: str
    who: Identity
    jkt: str | None  # cnf.jkt as issued
    used: bool = False  # validated: registered an agent once


@dataclass(eq=False)
class Sent:
    """An accepted request whose proof the replay rule may send again."""

    step: int
    endpoint: str
    exchange: Exchange
    tok: Tok
    at: float
    replayed: bool = False


class MachineRun:
    """State shared by all examples of one run: the target, the keys, the budget, the trace and
    the invariants' tally."""

    def __init__(self, session, mode: str, temps: list[Tok], seconds: float, max_steps: int | None = None,
                 shrink_examples: int | None = None):
        self.session = session
        self.client = session.client
        self.endpoints = session.endpoints
        self.flows = Flows(session.client, session.endpoints, session.settings.agent_key or "", keys=(session.key_a, session.key_b))
        self.keys: dict[str, KeyPair] = {"A": session.key_a, "B": session.key_b}
        self.mode = mode
        self.temps = temps
        self.deadline = time.monotonic() + seconds
        self.max_steps = max_steps  # counted, not timed: a seed cuts the run at the same step every time
        self.budget_exhausted = False
        self.budget_spent = ""  # "time", "steps" or "shrink"
        # counted too: examples allowed after the last one that found something new, an invariant
        # broken for the first time or a shorter failing sequence (None: no bound). Most of a run
        # against a known-bad target goes to shrinking failures it already found.
        self.shrink_examples = shrink_examples
        self.first_failure: int | None = None  # the example (1-based) that first broke an invariant
        self.last_progress: int | None = None  # the example that last found something new
        self.examples = 0
        self.steps = 0
        self.trace: list[list[str]] = []
        self.leftovers: list[str] = []
        self.tally = Tally(mode)

    def exhausted(self) -> bool:
        if not self.budget_exhausted:
            if self.max_steps is not None and self.steps >= self.max_steps:
                self.budget_exhausted, self.budget_spent = True, "steps"
            elif (self.last_progress is not None and self.shrink_examples is not None
                  and self.examples - self.last_progress >= self.shrink_examples):
                self.budget_exhausted, self.budget_spent = True, "shrink"
            elif time.monotonic() > self.deadline:
                self.budget_exhausted, self.budget_spent = True, "time"
        return self.budget_exhausted

    def record(self, violation) -> None:
        """Keep a violation of the current example; the shrink budget counts from the last example
        that broke a new invariant or shortened a failing sequence."""
        if self.tally.record(violation):
            self.last_progress = self.examples
        if self.first_failure is None:
            self.first_failure = self.examples

    def agent_locks(self) -> list:
        """The session's registering locks of the agents the machine registers (those its temp
        tokens name), in a fixed order: the phase-3 situations register the same agents, maybe on
        other threads at the same time, and a second registration would be a duplicate."""
        registering = getattr(self.session, "registering", None)
        if registering is None:
            return []
        who = {t.who.agent_id: t.who for t in self.temps}
        return [registering(who[agent_id]) for agent_id in sorted(who)]

    def key_letter(self, key: KeyPair | None) -> str:
        return next((name for name, k in self.keys.items() if k is key), "none")

    def own_key(self, tok: Tok) -> KeyPair:
        return next((k for k in self.keys.values() if k.thumbprint == tok.jkt), self.keys["A"])

    def other_key(self, tok: Tok) -> KeyPair:
        own = self.own_key(tok)
        return self.keys["B"] if own is self.keys["A"] else self.keys["A"]

    def bound_to_ours(self, tok: Tok) -> bool:
        return tok.jkt is not None and any(k.thumbprint == tok.jkt for k in self.keys.values())


def _accepted(ex: Exchange) -> bool:
    return ex.ok  # 202 included


def _refused(ex: Exchange) -> bool:
    """A real refusal: a 4xx that is not rate limiting (a 429 or a lockout says nothing about the rule)."""
    return ex.status is not None and 400 <= ex.status < 500 and not ex.throttled


def _answered(ex: Exchange) -> bool:
    """Answered and judged by the target: not throttled (429, 503, 423, a lockout), not unanswered."""
    return ex.status is not None and not ex.throttled


def _draw(data, universe, label, allowed=None):
    """One of `universe` (a list that only grows during an example, or a fixed one), restricted to
    `allowed`. Drawing an index into the whole list, not into the allowed part, keeps a choice
    meaning the same item when the shrinker deletes earlier steps (which changes what is allowed)."""
    strategy = st.sampled_from(universe)
    if allowed is not None:
        strategy = strategy.filter(allowed)
    return data.draw(strategy, label=label)


# --- the machine -------------------------------------------------------------------------------

class RegistrationMachine(RuleBasedStateMachine):
    """Bound to a run by `machine_class`; one instance per example."""

    run: MachineRun  # set on the subclass `machine_class` makes

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []
        self.validated: list[Tok] = []
        self.access: list[Tok] = []
        self.registered: dict[str, Tok] = {}  # agent id -> the access token of its current registration
        self.unregistered: set[int] = set()  # id() of access tokens whose agent we unregistered
        self.sent: list[Sent] = []
        self._held: list = []  # the agent locks this example holds, from its first step to its teardown
        if not self.run.exhausted():  # examples after the budget ran out send nothing: not counted
            self.run.examples += 1
            self.run.trace.append(self.steps)
        self._violations: list[Violation] = []

    # -- bookkeeping

    def _begin(self, description: str) -> bool:
        if self.run.exhausted():
            return False
        if not self._held:
            self._held = self.run.agent_locks()
            for lock in self._held:
                lock.acquire()
        self.steps.append(description)
        self.run.steps += 1
        self._violations = []
        self._first_exchange = len(self.run.client.own_exchanges())
        return True

    def _judge(self, name: str, ok: bool, message: str, ex: Exchange | None, endpoint: str | None = None) -> None:
        if ok:
            self.run.tally.held(name, endpoint)
        else:
            self._violations.append(self.run.tally.broken(name, message, self.steps, ex))

    def _end(self) -> None:
        """The checks every step gets, then record the step's violations and raise the first."""
        # this thread's exchanges only: a step sends every request itself, on the machine's thread,
        # while other threads may be sending situations ahead (wire.overlap)
        for ex in self.run.client.own_exchanges()[self._first_exchange:]:
            if _answered(ex):
                for name, held, message in response_verdicts(ex):
                    self._judge(name, held, message, ex)
        for v in self._violations:
            self.run.record(v)
        if self._violations:
            first = self._violations[0]
            raise VIOLATION_TYPES[first.invariant](f"{first.requirement_id or first.invariant}: {first.message}")

    def _dpop_judged(self, endpoint: str) -> bool:
        """Are binding rules judged at `endpoint` in this mode (profile §6: the agent endpoints
        are DPoP-protected in required mode only)?"""
        if self.run.mode not in DPOP_MODES:
            return False
        return endpoint in ("validate", "register") or self.run.mode == "required"

    def _control(self, endpoint: str, ex: Exchange) -> None:
        if _accepted(ex):
            self.run.tally.controls.add(endpoint)

    def _judge_binding(self, endpoint: str, tok: Tok, proof: str, ex: Exchange, clean: bool) -> None:
        """Bound token × no proof, or × a valid proof by the other key (profile §6 table)."""
        if not clean or not self.run.bound_to_ours(tok) or not self._dpop_judged(endpoint) or not _answered(ex):
            return
        if proof == "none":
            want_401 = self.run.mode == "required"
            ok = _refused(ex) and (ex.status == 401 or not want_401)
            self._judge("bound-noproof", ok, f"{tok.label} (bound) without a proof: {ex.summary()}", ex, endpoint)
        elif proof == "other":
            ok = ex.status == 401
            self._judge("mismatch", ok, f"{tok.label} (bound) with a proof by another key: {ex.summary()}", ex, endpoint)

    def _proof(self, tok: Tok, choice: str) -> Proof:
        if choice == "none":
            return NO_PROOF
        return Proof(key=self.run.own_key(tok) if choice == "own" else self.run.other_key(tok))

    def _describe_proof(self, proof: Proof) -> str:
        return f"proof={self.run.key_letter(proof.key)}"

    def _send(self, method: str, path: str, tok: Tok | None, proof: Proof) -> Exchange:
        return self.run.client.send(method, path, lambda url: request_headers(tok.value if tok else None, proof, method, url))

    def _agent_path(self, who: Identity, suffix: str = "") -> str:
        return self.run.endpoints.unregister.format(agent_id=who.agent_id) + suffix

    def _add(self, kind: str, value: str, who: Identity) -> Tok:
        pool = self.validated if kind == "validated" else self.access
        tok = Tok(f"{'V' if kind == 'validated' else 'X'}{len(pool)}", kind, value, who, jkt_of(value))
        pool.append(tok)
        return tok

    def _registered_by(self, ex: Exchange, who: Identity) -> Tok | None:
        """After an accepted phase 3: the new access token, now the agent's current one."""
        self.run.flows.registered.clear()  # the machine keeps its own list
        access = ex.json_member("access_token")
        if not isinstance(access, str):
            return None
        tok = self._add("access", access, who)
        self.registered[who.agent_id] = tok
        return tok

    def _universe(self, kind: str) -> list[Tok]:
        return {"temp": self.run.temps, "validated": self.validated, "access": self.access}[kind]

    def _is_current(self, tok: Tok) -> bool:
        return self.registered.get(tok.who.agent_id) is tok

    # -- rules

    @initialize(depth=st.integers(0, WARM_UP_MAX))
    def warm_up(self, depth: int) -> None:
        """Start some examples deeper in the flow: `depth` ordinary steps (each recorded as a step)."""
        for _ in range(depth):
            self.a_advance()

    @rule()
    def a_advance(self) -> None:
        """The next step of the ordinary flow: validate, register, unregister, again. It makes the
        deeper states (a used validated token, an unregistered agent) reachable in a few steps;
        the other rules branch off from them."""
        current = [self.registered[a] for a in sorted(self.registered)]
        if current:
            self._do_unregister(current[0])
            return
        free = [v for v in self.validated if not v.used and v.who.agent_id not in self.registered]
        if free:
            self._do_register(free[0], "own")
        else:
            self._do_validate(self.run.temps[0], "own")

    @rule(data=st.data())
    def b_validate(self, data) -> None:
        self._do_validate(_draw(data, self.run.temps, "temp"), _draw(data, ["own", "none"], "proof"))

    def _do_validate(self, temp: Tok, choice: str) -> None:
        proof = self._proof(temp, choice)
        if not self._begin(f"validate {temp.label} {self._describe_proof(proof)}"):
            return
        flows = self.run.flows
        accepted = flows.phase2(temp.who, temp.value, proof)
        self._judge_binding("validate", temp, choice, accepted, clean=True)
        if _accepted(accepted):
            if choice == "own":
                self._control("validate", accepted)
                self.sent.append(Sent(len(self.steps), "validate", accepted, temp, time.monotonic()))
            last, token = flows.poll(temp.value, accepted)
            if token is not None:
                v = self._add("validated", token, temp.who)
                if temp.jkt is not None and self.run.mode in DPOP_MODES:
                    self._judge("binding-kept", v.jkt == temp.jkt,
                                f"{v.label} from {temp.label} (bound) carries cnf.jkt {'none' if v.jkt is None else 'of another key'}", last)
        self._end()

    @precondition(lambda self: any(not v.used for v in self.validated))
    @rule(data=st.data())
    def c_register(self, data) -> None:
        self._do_register(_draw(data, self.validated, "validated", lambda v: not v.used), _draw(data, ["own", "none"], "proof"))

    def _do_register(self, v: Tok, choice: str) -> None:
        proof = self._proof(v, choice)
        if not self._begin(f"register {v.label} {self._describe_proof(proof)}"):
            return
        clean = v.who.agent_id not in self.registered
        ex = self.run.flows.phase3(v.who, v.value, proof)
        self._judge_binding("register", v, choice, ex, clean)
        if _accepted(ex):
            v.used = True
            if clean and choice == "own":
                self._control("register", ex)
            x = self._registered_by(ex, v.who)
            if x is not None and v.jkt is not None and self.run.mode in DPOP_MODES:
                self._judge("binding-kept", x.jkt == v.jkt,
                            f"{x.label} from {v.label} (bound) carries cnf.jkt {'none' if x.jkt is None else 'of another key'}", ex)
        self._end()

    @precondition(lambda self: bool(self.access))
    @rule(data=st.data())
    def d_heartbeat(self, data) -> None:
        self._do_heartbeat(_draw(data, self.access, "access"), _draw(data, ["own", "none"], "proof"))

    def _do_heartbeat(self, x: Tok, choice: str) -> None:
        proof = self._proof(x, choice)
        if not self._begin(f"heartbeat {x.label} {self._describe_proof(proof)}"):
            return
        clean = self._is_current(x)
        ex = self._send("POST", self._agent_path(x.who, "/heartbeat"), x, proof)
        self._judge_binding("heartbeat", x, choice, ex, clean)
        if clean and choice == "own" and _accepted(ex):
            self._control("heartbeat", ex)
            self.sent.append(Sent(len(self.steps), "heartbeat", ex, x, time.monotonic()))
        gone = x.who.agent_id not in self.registered and id(x) in self.unregistered
        if gone and choice == "own" and _answered(ex):
            self._judge("unregistered-refused", _refused(ex), f"{x.label} after its agent was unregistered: {ex.summary()}", ex)
        self._end()

    @precondition(lambda self: bool(self.registered))
    @rule(data=st.data())
    def e_unregister(self, data) -> None:
        self._do_unregister(_draw(data, self.access, "agent", self._is_current))

    def _do_unregister(self, x: Tok) -> None:
        proof = self._proof(x, "own")
        if not self._begin(f"unregister {x.label} {self._describe_proof(proof)}"):
            return
        ex = self._send("DELETE", self._agent_path(x.who), x, proof)
        if _accepted(ex):
            self._control("unregister", ex)
            self._forget(x.who)
        self._end()

    def _forget(self, who: Identity) -> None:
        self.registered.pop(who.agent_id, None)
        self.unregistered.update(id(t) for t in self.access if t.who.agent_id == who.agent_id)

    def _replayable(self) -> list[Sent]:
        # No clock here: what the machine may do next depends on the steps, not on how fast the
        # target answered, so that a seed fixes the path (a replay too old to judge is still sent).
        out = []
        for s in self.sent:
            if s.replayed or not self._dpop_judged(s.endpoint):
                continue
            if s.endpoint == "heartbeat" and not self._is_current(s.tok):
                continue
            out.append(s)
        return out

    @precondition(lambda self: bool(self._replayable()))
    @rule(data=st.data())
    def g_replay(self, data) -> None:
        allowed = self._replayable()
        s = _draw(data, self.sent, "sent", lambda x: x in allowed)
        if not self._begin(f"replay the request of step {s.step} ({s.endpoint} {s.tok.label})"):
            return
        s.replayed = True
        old = s.exchange
        ex = self.run.client.send(old.method, old.path, lambda url: list(old.request_headers), old.request_json)
        fresh = time.monotonic() - s.at <= REPLAY_MAX_AGE  # older: a refusal could be for age, not for the replay
        if _answered(ex) and (fresh or _accepted(ex)):
            # The first use was accepted: that is this check's positive control.
            self._judge("replay", _refused(ex), f"the proof of step {s.step} sent again: {ex.summary()}", ex, s.endpoint)
        self._end()

    def _reusable(self) -> list[Tok]:
        return [v for v in self.validated if v.used and v.who.agent_id not in self.registered]

    @precondition(lambda self: bool(self._reusable()))
    @rule(data=st.data())
    def f_reuse_validated(self, data) -> None:
        allowed = self._reusable()
        v = _draw(data, self.validated, "validated", lambda x: x in allowed)
        proof = self._proof(v, "own")
        if not self._begin(f"register again with the used {v.label} {self._describe_proof(proof)}"):
            return
        ex = self.run.flows.phase3(v.who, v.value, proof)
        if _answered(ex):
            # as the fixed check ISSUE-single-use: only a second registration breaks it (a 5xx is no-5xx's)
            self._judge("single-use", not _accepted(ex), f"{v.label} registered a second time: {ex.summary()}", ex)
        if _accepted(ex):
            self._registered_by(ex, v.who)
        self._end()

    def _switchable(self) -> dict[str, list[Tok]]:
        if self.run.mode not in DPOP_MODES:
            return {}
        bound = self.run.bound_to_ours
        options = {
            "validate": [t for t in self.run.temps if bound(t)],
            "register": [v for v in self.validated if bound(v) and not v.used and v.who.agent_id not in self.registered],
            "heartbeat": [x for x in self.access if bound(x) and self._is_current(x)],
            "unregister": [x for x in self.access if bound(x) and self._is_current(x)],
        }
        return {k: v for k, v in options.items() if v}

    @precondition(lambda self: bool(self._switchable()))
    @rule(data=st.data())
    def h_switch_keys(self, data) -> None:
        options = self._switchable()
        endpoint = _draw(data, list(SWITCH_ENDPOINTS), "endpoint", lambda e: e in options)
        tok = _draw(data, self._universe(SWITCH_ENDPOINTS[endpoint]), "token", lambda t: t in options[endpoint])
        proof = self._proof(tok, "other")
        if not self._begin(f"switch keys: {endpoint} {tok.label} {self._describe_proof(proof)}"):
            return
        flows = self.run.flows
        if endpoint == "validate":
            ex = flows.phase2(tok.who, tok.value, proof)
        elif endpoint == "register":
            ex = flows.phase3(tok.who, tok.value, proof)
        elif endpoint == "heartbeat":
            ex = self._send("POST", self._agent_path(tok.who, "/heartbeat"), tok, proof)
        else:
            ex = self._send("DELETE", self._agent_path(tok.who), tok, proof)
        self._judge_binding(endpoint, tok, "other", ex, clean=True)
        if _accepted(ex):
            if endpoint == "register":
                tok.used = True
                self._registered_by(ex, tok.who)
            elif endpoint == "unregister":
                self._forget(tok.who)
        self._end()

    def _wrong_phase_options(self) -> dict[str, list[Tok]]:
        options = {
            "temp at register": [t for t in self.run.temps if t.who.agent_id not in self.registered],
            "validated at heartbeat": [v for v in self.validated if v.who.agent_id in self.registered],
            "access at validate": list(self.access),
        }
        return {k: v for k, v in options.items() if v}

    @precondition(lambda self: bool(self._wrong_phase_options()))
    @rule(data=st.data())
    def i_wrong_phase(self, data) -> None:
        options = self._wrong_phase_options()
        which = _draw(data, list(WRONG_PHASES), "which", lambda w: w in options)
        tok = _draw(data, self._universe(WRONG_PHASES[which]), "token", lambda t: t in options[which])
        proof = self._proof(tok, "own")
        if not self._begin(f"wrong phase: {tok.label} {which.split(' ', 1)[1]} {self._describe_proof(proof)}"):
            return
        flows = self.run.flows
        if which == "temp at register":
            endpoint, ex = "register", flows.phase3(tok.who, tok.value, proof)
        elif which == "validated at heartbeat":
            endpoint, ex = "heartbeat", self._send("POST", self._agent_path(tok.who, "/heartbeat"), tok, proof)
        else:
            endpoint, ex = "validate", flows.phase2(tok.who, tok.value, proof)
        if _answered(ex):
            self._judge("wrong-phase", _refused(ex), f"{tok.kind} token {tok.label} {which.split(' ', 1)[1]}: {ex.summary()}", ex, endpoint)
        if _accepted(ex) and endpoint == "register":
            self._registered_by(ex, tok.who)
        self._end()

    # -- cleanup

    def teardown(self) -> None:
        """Unregister every agent this example registered (with its newest access token first),
        then let the phase-3 situations register them again."""
        try:
            self._unregister_all()
        finally:
            for lock in reversed(self._held):
                lock.release()
            self._held = []

    def _unregister_all(self) -> None:
        for agent_id in sorted(self.registered):
            tokens = [t for t in reversed(self.access) if t.who.agent_id == agent_id]
            done = False
            for x in tokens:
                ex = self._send("DELETE", self._agent_path(x.who), x, Proof(key=self.run.own_key(x)))
                if ex.ok or ex.status == 404:
                    done = True
                    break
            if not done:
                self.run.leftovers.append(agent_id)
        self.registered.clear()
        self.run.flows.registered.clear()


def machine_class(run: MachineRun) -> type[RegistrationMachine]:
    return type("ArcpRegistrationMachine", (RegistrationMachine,), {"run": run})

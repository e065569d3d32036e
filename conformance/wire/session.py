"""One conformance run against one target: discovery, the shared tokens, and each situation sent once.

Phase 1 is slow on real servers (≥ 1.8 s on upstream) and rate limited, so the run makes its
phase-1 calls at once and shares what they yield: the main flow's three and the two agents of
the operation situations (wire.operation_agents); two more for the nonce checks where the target
gives DPoP-Nonce values, one per other listed algorithm (wire.algorithm_flows), and two for the
operations' proof-less agents in optional mode. Everything else is obtained lazily, the first
time a check needs it, and cached.
"""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..dpop.key_documents import key_document
from ..dpop.keys import SUPPORTED_ALGS, KeyPair, generate_key
from ..dpop.proofs import DEFECTS, own_key_of
from ..dpop.tokens import ForgeRefused, Forger, jkt_of
from ..spec.cases import NONCE_PROOFS, OPERATIONS, OPTIONAL_ENDPOINTS, REFRESH, REFRESH_CASES, TAMPERED_TOKENS, Case
from ..spec.checks import ALG_SUBJECT, BODY_SUBJECT, Check, body_binding_checks
from ..spec.requests import PHASE1, POLL, MalformedCase
from ..spec.vocabulary import AUTO, MODE_CHOICES
from .agent_endpoint import AgentEndpoint, KeyFetch
from .client import DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUESTS, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_CAP, DEFAULT_RUN_TIMEOUT, TargetClient, TargetError
from .exchange import Exchange
from .flows import NO_PROOF, Endpoints, Flows, Identity, Proof
from .algorithm_flows import AlgorithmFlows
from .malformed_requests import MalformedRequests
from .body_bindings import send_body_bindings
from .once import Once
from .overlap import Overlap
from .preflight import diagnose_no_temp_token, diagnose_phase1, diagnose_phase2
from .operation_agents import PROVEN_SLOTS, AgentSlot, OperationAgents, Sourced
from .records import BodyBinding, CaseResult, Issuance, NotApplicable
from .tampered_tokens import TamperedTokens

PHASE1_DEFECT = "signature-bad"  # the defect of the defective phase-1 call
NO_NONCE = "the target issues no DPoP-Nonce"  # why the nonce checks do not apply (profile §5)
PREFERRED_ALGS = ("EdDSA", "ES256")
# Seconds after a situation's response in which a target that fetches a proof's key URL in the
# background is still caught doing it; bounded, since a conformant target never does.
KEY_FETCH_WAIT = 1.0


# The environment variables that hold a run's settings where no option gives them (the plugin's
# options and the reproducers read the same ones); the secrets among them are never printed.
ENV = {
    "target_url": "ARCP_CONFORMANCE_TARGET_URL",
    "agent_key": "ARCP_CONFORMANCE_AGENT_KEY",
    "jwt_secret": "ARCP_CONFORMANCE_JWT_SECRET",
    "agent_endpoint_host": "ARCP_CONFORMANCE_AGENT_ENDPOINT_HOST",
}


@dataclass(frozen=True)
class Settings:
    target_url: str
    agent_key: str | None = None
    agent_type: str | None = None
    dpop_mode: str = AUTO
    jwt_secret: str | None = None
    agent_endpoint_host: str = "127.0.0.1"
    timeout: float = DEFAULT_REQUEST_TIMEOUT  # seconds per request, connection to last byte
    retry_cap: float = DEFAULT_RETRY_CAP  # seconds of Retry-After honoured per request
    max_requests: int | None = DEFAULT_MAX_REQUESTS  # requests per run
    run_timeout: float | None = DEFAULT_RUN_TIMEOUT  # seconds per run, discovery included
    concurrency: int = DEFAULT_CONCURRENCY  # requests in flight at once (1: one after another)
    keep_exchanges: bool = False  # every exchange kept on the client (a reproducer's transcript)


@dataclass
class FlowState:
    """What the main flow obtained and the situations reuse."""

    id_a: Identity | None = None  # proves key A throughout
    id_u: Identity | None = None  # sent no proof at phase 1
    temp_a: str | None = None
    temp_u: str | None = None
    validated_a: str | None = None




@dataclass
class Discovery:
    config: dict
    version: str | None
    agent_types: list[str]
    algs: list[str]
    config_exchange: Exchange | None = None  # GET /.well-known/arcp-configuration (preflight reads its status)


def independent(case: Case | MalformedCase) -> bool:
    """May the situation be sent at any time, alongside others? Not the unregister situations:
    after every other use of their agent, one at a time (an accepted one gives the next a fresh
    agent); nor phase 3's malformed requests, which share a validated token. (Phase 3's other
    situations are: each registers and unregisters the main flow's agent under its lock.)"""
    return case.endpoint != "unregister" and not (isinstance(case, MalformedCase) and case.endpoint == "register")


class ConformanceSession(OperationAgents, AlgorithmFlows, TamperedTokens, MalformedRequests):
    def __init__(self, settings: Settings):
        if settings.dpop_mode not in MODE_CHOICES:
            raise TargetError(f"--dpop-mode must be one of {', '.join(MODE_CHOICES)}, got {settings.dpop_mode!r}")
        self.settings = settings
        self.client = TargetClient(settings.target_url, timeout=settings.timeout, retry_cap=settings.retry_cap,
                                   max_requests=settings.max_requests, run_timeout=settings.run_timeout,
                                   concurrency=settings.concurrency, keep_exchanges=settings.keep_exchanges)
        self._lock = threading.RLock()  # small shared state only: never held while a request is in flight
        self._once = Once()  # what is built lazily and shared: the main flow, the agents, each situation's result
        self._overlap: Overlap | None = None
        self._agent_endpoint: AgentEndpoint | None = None
        self._case_token: dict[str, str | None] = {}  # case id -> the token its request presented
        self._key_urls: dict[str, str] = {}  # case id -> the key URL its proof names (jku-instead, x5u-instead)
        self._issuance: Issuance | None = None
        self._slots: dict[str, AgentSlot | str] = {}  # slot name -> the agent, or why there is none
        self._unregister_lock = threading.Lock()  # the alg flows unregister their agents one at a time
        self.state = FlowState()
        self.discovery = self._discover()
        self.endpoints = Endpoints().overridden_by(self.discovery.config, self.client)
        self.agent_type = settings.agent_type or (self.discovery.agent_types[0] if self.discovery.agent_types else "testing")
        # ARCP's default algorithms first, then any other the target lists that the suite signs
        alg = next((a for a in (*PREFERRED_ALGS, *SUPPORTED_ALGS) if a in self.discovery.algs), PREFERRED_ALGS[0])
        self.key_a: KeyPair = generate_key(alg)
        self.key_b: KeyPair = generate_key(alg)
        self.flows = Flows(self.client, self.endpoints, settings.agent_key or "", keys=(self.key_a, self.key_b))
        self._own_ids: set[str] = set()
        self.forger = Forger(settings.jwt_secret, self._own_ids) if settings.jwt_secret else None
        self._forged: set[str] = set()  # the tokens the suite forged (a reproducer then needs the secret too)
        self.mode_source = "given" if settings.dpop_mode != AUTO else "detected"
        self.mode = settings.dpop_mode if settings.dpop_mode != AUTO else None

    # --- discovery

    def _discover(self) -> Discovery:
        health = self.client.send("GET", "/health")
        if health.error:
            raise TargetError(f"target {self.client.base_url} is unreachable: {health.error}")
        config_ex = self.client.send("GET", "/.well-known/arcp-configuration")
        config = config_ex.json() if config_ex.ok and isinstance(config_ex.json(), dict) else {}
        types_ex = self.client.send("GET", "/public/agent_types")
        types = types_ex.json_member("allowed_agent_types") if types_ex.ok else None
        algs = config.get("dpop_signing_alg_values_supported")
        version = health.json_member("version") or config.get("service_version")
        return Discovery(
            config=config,
            version=str(version) if version is not None else None,
            agent_types=[t for t in types if isinstance(t, str)] if isinstance(types, list) else [],
            algs=[a for a in algs if isinstance(a, str)] if isinstance(algs, list) else list(PREFERRED_ALGS),
            config_exchange=config_ex,
        )

    @property
    def agent_endpoint(self) -> AgentEndpoint:
        with self._lock:
            if self._agent_endpoint is None:
                self._agent_endpoint = AgentEndpoint(self.settings.agent_endpoint_host)
            return self._agent_endpoint

    def key_url(self, serves: str) -> str:
        """A new URL on the agent endpoint serving key A as `serves` says (dpop.key_documents: a
        JWK Set for jku, a certificate for x5u); the endpoint records every request to it."""
        document = key_document(serves, self.key_a)
        return self.agent_endpoint.key_url(document.body, document.content_type, document.suffix)

    def key_fetches(self, case: Case) -> tuple[KeyFetch, ...] | None:
        """The requests to the key URL the situation's proof named, waiting for the first up to
        KEY_FETCH_WAIT after its response; None when it named none or was not answered."""
        result = self.result(case)
        if result.key_url is None or result.exchange is None or not result.exchange.received_at:
            return None
        return self.agent_endpoint.key_fetches(result.key_url, until=result.exchange.received_at + KEY_FETCH_WAIT)

    def identity(self, label: str) -> Identity:
        who = Identity.create(self.agent_type, self.agent_endpoint, label)
        self._own_ids.add(who.agent_id)
        return who

    def close(self) -> None:
        self.finish_overlap()
        try:
            # the suite's agents are unregistered even when a budget is spent: one request each
            self.client.allow(len(self.flows.registered))
            self.flows.cleanup()
        finally:
            if self._agent_endpoint is not None:
                self._agent_endpoint.close()
            self.client.close()

    def finish_overlap(self) -> None:
        """Send nothing more ahead of its check, and wait for what is in flight (before the client closes)."""
        if self._overlap is not None:
            self._overlap.stop()

    # --- the main flow: phase 1 (three ways, at once), then 2 and 3 with proofs by A

    def issuance(self) -> Issuance:
        return self._once.get("issuance", self._build_issuance)

    def _build_issuance(self) -> Issuance:
        self._issuance = self._run_main_flow()
        self._phase1_nonce(self._issuance)
        return self._issuance

    def nonce_issued(self) -> bool:
        """Did the target give a DPoP-Nonce in the main flow (so the nonce checks apply)?"""
        return self.issuance().nonce_issued

    def _phase1_nonce(self, iss: Issuance) -> None:
        """Where the target gave a DPoP-Nonce (anywhere in the flow), phase 1 once with each proof
        that ignores it (spec.cases.NONCE_PROOFS), at once: two more phase-1 calls, on such targets only."""
        if not self.settings.agent_key:
            for proof in NONCE_PROOFS:
                iss.reasons[f"phase1:{proof}"] = "no --agent-key given: the suite cannot register"
            iss.nonce_unknown = "no --agent-key given: the suite cannot register"
            return
        iss.nonce_issued = self.client.nonce is not None
        main = iss.phase1
        if not iss.nonce_issued and (main is None or main.error or main.throttled):
            # a target that did not answer may still give nonces: the nonce checks are not known not to apply
            iss.nonce_unknown = f"phase 1 got no answer that could carry a DPoP-Nonce ({main.summary() if main else 'not sent'})"
        if not iss.nonce_issued or self.mode == "disabled":
            return
        calls = {proof: (self.identity("n"), self.nonce_proof(proof)) for proof in NONCE_PROOFS}
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = {proof: pool.submit(self.flows.phase1, who, p) for proof, (who, p) in calls.items()}
            iss.phase1_nonce = {proof: f.result()[0] for proof, f in futures.items()}

    def nonce_proof(self, proof: str) -> Proof:
        """A valid proof by key A that ignores the target's nonce: none, or one the target never gave."""
        return Proof(key=self.key_a).with_nonce(None if proof == "nonce-missing" else f"arcp-conformance-{uuid.uuid4().hex}")

    def _run_main_flow(self) -> Issuance:
        iss = Issuance(jkt=self.key_a.thumbprint)
        if not self.settings.agent_key:
            for k in ("phase1", "temp", "validated", "access", "poll", "register", "phase1_noproof", "phase1_defective"):
                iss.reasons[k] = "no --agent-key given: the suite cannot register"
            return iss
        st = self.state
        st.id_a, st.id_u, id_d = self.identity("a"), self.identity("u"), self.identity("d")
        calls = {
            "a": (st.id_a, Proof(key=self.key_a)),
            "u": (st.id_u, NO_PROOF),
            "d": (id_d, Proof(key=self.key_a, defects=(PHASE1_DEFECT,))),
            # the proven agents of the operation situations: phase 1 is slow, so at once with the rest
            **{slot: (self.identity(self.SLOTS[slot][0]), Proof(key=self.key_a)) for slot in PROVEN_SLOTS},
        }
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = {name: pool.submit(self.flows.phase1, who, proof) for name, (who, proof) in calls.items()}
            got = {name: f.result() for name, f in futures.items()}
        for slot in PROVEN_SLOTS:
            self._slots[slot] = self._slot_from(calls[slot][0], calls[slot][1], *got[slot])
        iss.phase1, st.temp_a = got["a"]
        iss.phase1_noproof, st.temp_u = got["u"]
        iss.phase1_defective, _ = got["d"]
        if st.temp_a is None:
            iss.reasons["validated"] = iss.reasons["poll"] = f"phase 1 with a valid proof failed: {iss.phase1.summary()}"
            return iss
        iss.validate, iss.poll, st.validated_a = self.flows.validate(st.id_a, st.temp_a, Proof(key=self.key_a))
        if st.validated_a is None:
            iss.reasons["register"] = iss.reasons["access"] = f"phase 2 gave no validated token ({(iss.poll or iss.validate).summary()})"
            return iss
        iss.register = self.flows.phase3(st.id_a, st.validated_a, Proof(key=self.key_a))
        if iss.register.ok:
            iss.unregistered = self.flows.unregister_last(st.id_a)
            if iss.unregistered:
                iss.reregister = self.flows.phase3(st.id_a, st.validated_a, Proof(key=self.key_a))
                if iss.reregister.ok:
                    self.flows.unregister_last(st.id_a)
        return iss

    def preflight(self) -> str | None:
        """Why this run cannot test (one line for the user), or None: the main flow, the
        positive control of every check, failed for a reason the server is not to blame for."""
        iss, st = self.issuance(), self.state
        phase1 = iss.phase1
        if phase1 is not None and not phase1.sent:  # other senders' phase-1 calls made the client give up on it
            phase1 = self.client.answer_before_giving_up(phase1.method, phase1.url) or phase1
        cause = diagnose_phase1(self.client.base_url, self.discovery.config_exchange, phase1, self.agent_type,
                                self.discovery.agent_types)
        if cause is None and phase1 is not None and phase1.ok and st.temp_a is None:
            return diagnose_no_temp_token(phase1)
        if cause or st.temp_a is None or st.validated_a is not None:
            return cause
        endpoint = st.id_a.endpoint
        called = f"{urlsplit(endpoint).path}/health" in self.agent_endpoint.calls
        return diagnose_phase2(iss.validate, iss.poll, endpoint, called)

    def body_bindings(self) -> dict[str, BodyBinding]:
        """Phase 2 with a body naming key B (wire.body_bindings), each variant the mode has, all at
        once the first time a check needs them; kept on the main flow's record."""
        iss = self.issuance()
        with self._once.lock("body_bindings"):
            if not iss.body_bindings:
                variants = [c.subject[len(BODY_SUBJECT):] for c in body_binding_checks(self.resolve_mode())]
                if not self.settings.agent_key:
                    iss.body_bindings = {v: BodyBinding(v, self.key_a.thumbprint, self.key_b.thumbprint, reason=iss.reasons["phase1"])
                                         for v in variants}
                else:
                    st = self.state
                    iss.body_bindings = send_body_bindings(self.flows, Proof(key=self.key_a), self.key_b.thumbprint,
                                                           (st.id_a, st.temp_a), (st.id_u, self._unbound_temp()[1]), variants,
                                                           self.registering)
            return iss.body_bindings

    # --- the mode, when the user asked us to detect it

    def resolve_mode(self) -> str:
        """The given mode, or one detected from behaviour (a heuristic: see the README)."""
        if self.mode:
            return self.mode
        self.issuance()
        st = self.state
        who, temp = (st.id_u, st.temp_u) if st.temp_u else (st.id_a, st.temp_a)
        if temp is None:
            iss = self._issuance
            why = "give --agent-key" if not self.settings.agent_key or iss.phase1 is None else f"phase 1 gave none: {iss.phase1.summary()}"
            raise TargetError(f"--dpop-mode auto needs a temp token from the target ({why}), or give --dpop-mode")
        if not self.flows.phase2(who, temp, NO_PROOF).ok:
            self.mode = "required"
        elif not self.flows.phase2(who, temp, Proof(key=self.key_a, defects=("htm-wrong",))).ok:
            self.mode = "optional"
        else:
            self.mode = "optional" if self.discovery.config.get("dpop_signing_alg_values_supported") else "disabled"
        return self.mode

    # --- tokens per kind: (identity the token names, token, why there is none)

    def _forge(self, who: Identity | None, make, reason_without: str) -> Sourced:
        if self.forger is None:
            return None, None, f"{reason_without}; give --jwt-secret to forge one"
        try:
            token = make(self.forger)
        except ForgeRefused as exc:
            return None, None, str(exc)
        self._forged.add(token)
        return who, token, ""

    def _bound(self, who: Identity | None, token: str | None, what: str) -> Sourced:
        """`token` if the target bound it to key A, else a bound copy forged from it."""
        if token is None or jkt_of(token) == self.key_a.thumbprint:
            return who, token, "" if token else f"no {what} token"
        return self._forge(who, lambda f: f.bound(token, self.key_a.thumbprint), f"the target issued no bound {what} token")

    def _bound_temp(self) -> Sourced:
        return self._bound(self.state.id_a, self.state.temp_a, "temp")

    def _fresh_validated(self) -> Sourced:
        """A validated token of its own for one phase-3 situation (they are single use), got as a
        client would: phase 2 with the temp token phase 1 issued to key A, and a proof by A."""
        who, temp = self.state.id_a, self.state.temp_a
        if temp is None:
            return None, None, "phase 1 issued no temp token"
        if self.state.validated_a is None:
            # the main flow's own phase 2 failed: the same request would fail again, once per situation
            # (thousands of requests to a target already shown unable to give one), so not tried again
            return None, None, f"the main flow's {self.issuance().reasons['register']}: not tried again for each situation"
        accepted, last, token = self.flows.validate(who, temp, Proof(key=self.key_a))
        if token is None:
            return None, None, f"phase 2 gave no validated token ({(last or accepted).summary()})"
        return who, token, ""

    def no_unbound_token(self) -> str:
        """Why a conformant target has no unbound token to give ('' when it could have one): in
        required mode it refused phase 1 without a proof (profile §6), so every token it issues is
        bound. A refusal that says nothing about the target (no response, rate limited) is no reason."""
        ex = self.issuance().phase1_noproof
        if self.resolve_mode() != "required" or ex is None or ex.error or ex.throttled or not 400 <= ex.status < 500:
            return ""
        return f"in required mode a conformant target issues no unbound token (phase 1 without a proof: {ex.summary()})"

    def _not_applicable_unless_issued(self, sourced: Sourced) -> Sourced:
        """An unbound token, or NotApplicable where a conformant target has none. The suite never
        forges an unbound token: one would stand for nothing a conformant required-mode target
        issues. (Situations whose tokens are forged, legacy and expired ones, stay inconclusive
        without --jwt-secret even here: they stand for tokens such a target can meet, one issued
        before DPoP was required or one past its lifetime, and the user can give the secret.)"""
        if sourced[1] is None and (why := self.no_unbound_token()):
            raise NotApplicable(why)
        return sourced

    def _unbound_temp(self) -> Sourced:
        temp = self.state.temp_u
        if temp is None:
            return None, None, "phase 1 without a proof issued no token"
        if jkt_of(temp) is not None:
            return None, None, "phase 1 without a proof issued a bound token"
        return self.state.id_u, temp, ""

    def _unbound_validated(self) -> Sourced:
        """A target-issued validated token without cnf: from a proof-less flow, else whatever the target gives."""
        who, temp, _ = self._unbound_temp()
        if temp is not None:
            _, _, token = self.flows.validate(who, temp, NO_PROOF)
            if token is not None and jkt_of(token) is None:
                return who, token, ""
        who, token, why = self._fresh_validated()
        if token is not None and jkt_of(token) is None:
            return who, token, ""
        if token is None:  # phase 2 failed: that says nothing about what the target binds
            return None, None, why
        return self._not_applicable_unless_issued((None, None, "the target issues only bound validated tokens"))

    def _token_for(self, case: Case) -> Sourced:
        who, token, why = self._token_of_kind(case)
        own = own_key_of(case.proof) if case.token == "bound" else None
        if own is None or token is None:
            return who, token, why
        # The proof names a key of its own: with a token bound to key A a server could refuse it
        # for the binding alone (and may check that first), hiding whether it checks the key. So
        # the token is bound to the proof's own jwk, and the key is the proof's only defect.
        return self._forge(who, lambda f: f.bound(token, own.thumbprint),
                           f"the proof names a key of its own ({case.proof}), and the target issues no token bound to it")

    def unlisted_alg(self, case: Case) -> str:
        """Why a situation does not apply because its proof names an alg the target does not list
        (a proof with a key of its own): refused for its alg alone, it would say nothing; '' otherwise."""
        own = own_key_of(case.proof)
        if own is None or own.alg in self.discovery.algs:
            return ""
        return (f"the proof ({case.proof}) says alg {own.alg}, which the target does not list "
                f"({', '.join(self.discovery.algs)}); it would be refused for its alg alone")

    def _token_of_kind(self, case: Case) -> Sourced:
        self.issuance()
        if case.endpoint in OPTIONAL_ENDPOINTS:
            return self._operation_token(case)
        st, kind = self.state, case.token
        phase3 = case.endpoint == "register"
        if st.temp_a is None:
            return None, None, "phase 1 issued no temp token"
        if kind in ("bound", "mismatched"):
            if phase3:
                if self.forger is None and jkt_of(st.validated_a) != self.key_a.thumbprint:
                    # known from the main flow: no need to spend a phase-2 validation to see it again
                    return None, None, "the target issued no bound validated token; give --jwt-secret to forge one"
                who, token, why = self._fresh_validated()
                return self._bound(who, token, "validated") if token else (None, None, why)
            return self._bound_temp()
        if kind == "unbound":
            return self._unbound_validated() if phase3 else self._not_applicable_unless_issued(self._unbound_temp())
        if kind == "wrong-phase":  # each endpoint given the other phase's token
            return (st.id_a, st.temp_a, "") if phase3 else (st.id_a, st.validated_a, "" if st.validated_a else "no validated token")
        if kind == "missing":
            return st.id_a, None, ""
        if kind == "malformed":
            return st.id_a, "not-a-jwt", ""
        if phase3:
            # an unused validated token: one already spent would be refused as used, which
            # says nothing about the expiry or signature check under test
            _, template, why = self._fresh_validated()
            if template is None:
                return None, None, why
        else:
            template = st.temp_a
        if kind in TAMPERED_TOKENS:
            second = self._second_validated if phase3 else (lambda: self._second_temp(template))
            return self._tampered(st.id_a, kind, template, second, "validated" if phase3 else "temp")
        if kind == "expired":
            return self._forge(st.id_a, lambda f: f.expired(template), "an expired token can only be forged")
        if kind == "legacy":
            who, fresh, why = self._fresh_validated() if phase3 else (st.id_a, template, "")
            if fresh is None:
                return None, None, why
            return self._forge(who, lambda f: f.legacy(fresh), "a legacy token can only be forged")
        raise ValueError(f"unknown token kind {kind!r}")

    def proof_for(self, case: Case) -> tuple[Proof, str]:
        if case.proof == "none" or case.token == "missing":
            return NO_PROOF, "Bearer"
        if case.token == "mismatched":
            return Proof(key=self.key_b), "Bearer"
        if case.proof in ("valid", "replay"):
            return Proof(key=self.key_a), "Bearer"
        if case.proof == "dpop-scheme":
            return Proof(key=self.key_a), "DPoP"
        if case.proof in NONCE_PROOFS:
            return self.nonce_proof(case.proof), "Bearer"
        return Proof(key=self.key_a, defects=(case.proof,), other_key=self.key_b, key_url=self._case_key_url(case)), "Bearer"

    def _case_key_url(self, case: Case) -> str | None:
        """The key URL of the situation's proof, one of its own (so that a request to it says which
        proof was dereferenced); None when its defect names none."""
        serves = DEFECTS[case.proof].key_url_serves if case.proof in DEFECTS else None
        if serves is None:
            return None
        with self._lock:
            if case.id not in self._key_urls:
                self._key_urls[case.id] = self.key_url(serves)
            return self._key_urls[case.id]

    # --- situations

    def result(self, case: Case | MalformedCase) -> CaseResult:
        """The situation's result: sent once, by whichever thread needs it first (wire.overlap)."""
        return self._once.get(("case", case.id), lambda: self._run_case(case))

    def recorded(self, case: Case | MalformedCase) -> CaseResult | None:
        """The result of a situation already sent, without sending anything."""
        return self._once.peek(("case", case.id))

    def overlap(self, cases: list[Case | MalformedCase], threads: int | None = None) -> None:
        """Send the independent ones among `cases` (in this order) ahead of their checks, on
        `threads` threads (default concurrency - 1: the caller's thread is a sender too, and sends
        the others when it judges them)."""
        threads = self.settings.concurrency - 1 if threads is None else threads
        if threads > 0 and self._overlap is None:
            unique: dict[str, Case | MalformedCase] = {}
            for case in cases:
                if independent(case):
                    unique.setdefault(case.id, case)  # each once, at its first place
            self._overlap = Overlap(self.result, list(unique.values()), threads)

    def bound_temp_forged(self) -> bool:
        """Is the run's bound temp token (phase 2's, the fuzz run's) forged: did the target issue
        no temp token bound to key A?"""
        return self.forger is not None and self.state.temp_a is not None and jkt_of(self.state.temp_a) != self.key_a.thumbprint

    def _run_case(self, case: Case | MalformedCase) -> CaseResult:
        result = self._send_case(case)
        result.forged = self._case_token.get(case.id) in self._forged
        result.key_url = self._key_urls.get(case.id)
        return result

    def _send_case(self, case: Case | MalformedCase) -> CaseResult:
        if isinstance(case, MalformedCase):
            return self._send_malformed(case)
        if case.proof in NONCE_PROOFS and not self.nonce_issued():
            return CaseResult(None, NO_NONCE)  # a proof without the nonce of a target that gives none is simply valid
        if self.unlisted_alg(case):
            return CaseResult(None, self.unlisted_alg(case), not_applicable=True)
        try:
            who, token, why = self._token_for(case)
        except NotApplicable as exc:
            return CaseResult(None, str(exc), not_applicable=True)
        self._case_token[case.id] = token
        if who is None or (token is None and case.token != "missing"):
            return CaseResult(None, why or "no token of this kind")
        proof, scheme = self.proof_for(case)
        if case.endpoint in OPERATIONS:
            return self._send_operation(case, who, token, proof, scheme)
        if case.endpoint == REFRESH:
            return self._send_refresh(who, token, proof, scheme)
        if case.endpoint == "validate":
            if case.proof == "replay":
                # the target's newest nonce, fixed: a replay is the same proof, and is not retried
                values = tuple(proof.with_nonce(self.client.nonce).headers("POST", self.client.url(self.endpoints.validate), token))
                first = self.flows.phase2(who, token, Proof(replay=values))
                if not (first.ok or first.status == 202):
                    return CaseResult(None, f"the first use of the proof was refused ({first.summary()})")
                return CaseResult(self.flows.phase2(who, token, Proof(replay=values)))
            return CaseResult(self.flows.phase2(who, token, proof, scheme))
        with self.registering(who):
            ex = self.flows.phase3(who, token, proof, scheme)
            if ex.ok:
                self.flows.unregister_last(who)
        return CaseResult(ex)

    def registering(self, who: Identity):
        """Held from a registration of `who` to its unregistration: phase 3's situations register the
        main flow's agent, and one registered by another would make theirs a duplicate."""
        return self._once.lock(("registering", who.agent_id))

    def control_cases(self, endpoint: str) -> list[Case]:
        """The defect-free requests that make the positive control of `endpoint`, in the order tried
        (none for phase 1 and the poll: the main flow's are theirs)."""
        if endpoint in (PHASE1, POLL):
            return []
        if endpoint == REFRESH:
            return [Case(REFRESH, *REFRESH_CASES[self.resolve_mode()][0])]
        kinds = [("unbound", "none")] if self.resolve_mode() == "disabled" else [("bound", "valid"), ("unbound", "valid"), ("unbound", "none")]
        return [Case(endpoint, token, proof) for token, proof in kinds]

    def control_ok(self, endpoint: str) -> bool:
        """Did the endpoint accept some defect-free request in this run (the positive control)?"""
        if endpoint in (PHASE1, POLL):
            iss = self.issuance()
            ex = {PHASE1: iss.phase1, POLL: iss.poll}[endpoint]  # the main flow's phase 1 with a proof by A, its poll
            return ex is not None and ex.ok
        for case in self.control_cases(endpoint):
            ex = self.result(case).exchange
            if ex is not None and ex.ok:
                return True
        return False

    # --- what a check saw (conformance.judging.judge_check judges it)

    def exchanges_for(self, check: Check) -> list[Exchange]:
        if check.case is None and check.subject.startswith(ALG_SUBJECT):
            flow = self.alg_flow(check.subject[len(ALG_SUBJECT):])
            return flow.exchanges if flow is not None else []
        if check.case is None and check.subject.startswith(BODY_SUBJECT):
            binding = self.body_bindings().get(check.subject[len(BODY_SUBJECT):])
            return binding.exchanges if binding is not None else []
        if check.case is not None:
            result = self.result(check.case)
            return [e for e in (result.exchange, result.follow_up) if e is not None]
        iss = self.issuance()
        return [e for e in (iss.exchange(check.subject),) if e is not None]

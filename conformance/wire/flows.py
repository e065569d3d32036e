"""ARCP's three registration phases as the wire has them (profile §3), with or without proofs.

Nothing here judges: each step returns the Exchange it recorded and what it obtained.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ..dpop.keys import KeyPair
from ..dpop.malformed import RawBody
from ..dpop.proofs import build_proof, own_key_of
from ..dpop.tokens import jkt_of
from .agent_endpoint import AgentEndpoint
from .client import TargetClient
from .exchange import Exchange, HeaderList
from .nonces import take_nonce

POLL_FIRST_WAIT = 0.02  # then doubling up to POLL_MAX_WAIT: quick servers answer in ms, slow ones in seconds
POLL_MAX_WAIT = 0.1  # upstream with Redis validates in 0.5-1 s: a longer wait would add up to 0.4 s to each validation
POLL_DEADLINE = 30.0


@dataclass
class Endpoints:
    token: str = "/auth/agent/request_temp_token"
    validate: str = "/auth/agent/validate_compliance"
    poll: str = "/auth/agent/validation/{validation_id}"
    register: str = "/agents/register"
    unregister: str = "/agents/{agent_id}"  # also GET: the agent's info
    heartbeat: str = "/agents/{agent_id}/heartbeat"
    metrics: str = "/agents/{agent_id}/metrics"
    refresh: str = "/tokens/refresh"

    def overridden_by(self, config: dict, client: TargetClient) -> "Endpoints":
        """Apply /.well-known/arcp-configuration, keeping only URLs on the target itself."""
        changes = {}
        for ours, theirs in (("token", "token_endpoint"), ("validate", "validation_endpoint"), ("register", "registration_endpoint")):
            url = config.get(theirs)
            if isinstance(url, str) and url and client.same_origin(client.url(url)):
                changes[ours] = urlsplit(client.url(url)).path
        return replace(self, **changes)


# The agent operations (spec.cases.OPERATIONS) as the wire has them: (method, Endpoints field, body).
METRICS_BODY = {"avg_response_time": 0.05, "success_rate": 1.0}
OPERATION_REQUESTS = {
    "heartbeat": ("POST", "heartbeat", None),
    "metrics-post": ("POST", "metrics", METRICS_BODY),
    "metrics-get": ("GET", "metrics", None),
    "agent-info": ("GET", "unregister", None),
    "unregister": ("DELETE", "unregister", None),
}


@dataclass(frozen=True)
class Proof:
    """How a request proves possession: a fresh proof by `key` with `defects`, or exact `replay` values."""

    key: KeyPair | None = None
    defects: tuple[str, ...] = ()
    other_key: KeyPair | None = None
    replay: tuple[str, ...] = ()
    htu: str | None = None  # override the URL the proof names (never the URL the request goes to)
    # A fresh proof carries the newest DPoP-Nonce the client hands it (wire.nonces), defects or
    # not, so that a defect is judged for itself; with follow_nonce False it carries `nonce`
    # instead (None: no nonce claim), and the client does not retry it for its nonce.
    follow_nonce: bool = True
    nonce: str | None = None
    key_url: str | None = None  # the URL a jku-instead or x5u-instead proof names (on the agent endpoint)

    def headers(self, method: str, url: str, token: str | None) -> list[str]:
        if self.replay:
            return list(self.replay)
        if self.key is None:
            return []
        nonce = take_nonce() if self.follow_nonce else self.nonce
        return build_proof(self.key, method, self.htu or url, access_token=token, defects=self.defects,
                           other_key=self.other_key, nonce=nonce, key_url=self.key_url)

    def with_nonce(self, nonce: str | None) -> "Proof":
        """This proof with a fixed nonce (None: none) instead of the one the client hands over."""
        return replace(self, follow_nonce=False, nonce=nonce)


NO_PROOF = Proof()


@dataclass
class Identity:
    agent_id: str
    agent_type: str
    endpoint: str

    @classmethod
    def create(cls, agent_type: str, agent_endpoint: AgentEndpoint, label: str) -> "Identity":
        # ≤ 64 characters: upstream caps agent_id at 64 at phase 2
        agent_id = f"arcp-conf-{label}-{uuid.uuid4().hex[:10]}"[:64]
        return cls(agent_id, agent_type, agent_endpoint.url_for(agent_id))


def request_headers(token: str | None, proof: Proof, method: str, url: str, scheme: str = "Bearer",
                    authorization: str | None = None) -> HeaderList:
    """Authorization (`scheme token`, or exactly `authorization` where given: a junk header) and
    the DPoP proof, whose ath names `token`."""
    headers: HeaderList = []
    if authorization is not None:
        headers.append(("Authorization", authorization))
    elif token is not None:
        headers.append(("Authorization", f"{scheme} {token}"))
    for value in proof.headers(method, url, token):
        headers.append(("DPoP", value))
    return headers


@dataclass
class Flows:
    client: TargetClient
    endpoints: Endpoints
    agent_key: str
    keys: tuple[KeyPair, ...] = ()  # the suite's keys, to prove possession of a bound access token
    registered: list[tuple[Identity, str, Proof]] = field(default_factory=list)
    # situations on several threads register and unregister: the list changes under this lock
    _registry_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def phase1_body(self, identity: Identity, agent_key: str | None = None) -> dict:
        return {"agent_id": identity.agent_id, "agent_type": identity.agent_type, "agent_key": agent_key or self.agent_key}

    def phase1(self, identity: Identity, proof: Proof = NO_PROOF, agent_key: str | None = None) -> tuple[Exchange, str | None]:
        body = self.phase1_body(identity, agent_key)
        ex = self.client.send("POST", self.endpoints.token, lambda url: request_headers(None, proof, "POST", url), body)
        token = ex.json_member("temp_token") if ex.ok else None
        return ex, token if isinstance(token, str) else None

    def phase2_body(self, identity: Identity) -> dict:
        return {
            "agent_id": identity.agent_id,
            "agent_type": identity.agent_type,
            "endpoint": identity.endpoint,
            "capabilities": ["conformance-check"],
            "communication_mode": "remote",
            "version": "1.0.0",
        }

    def phase2(self, identity: Identity, temp: str | None, proof: Proof, scheme: str = "Bearer", extra: dict | None = None) -> Exchange:
        """Phase 2 (validate); `extra`: members added to the body."""
        body = {**self.phase2_body(identity), **(extra or {})}
        return self.client.send("POST", self.endpoints.validate, lambda url: request_headers(temp, proof, "POST", url, scheme), body)

    def poll(self, temp: str, accepted: Exchange) -> tuple[Exchange | None, str | None]:
        """Poll a 202 until it passes or fails; returns the last poll and the validated token."""
        validation_id = accepted.json_member("validation_id")
        location = accepted.header("location") or accepted.json_member("polling_url")
        if isinstance(location, str) and self.client.same_origin(self.client.url(location)):
            path = urlsplit(self.client.url(location)).path
        elif isinstance(validation_id, str):
            path = self.endpoints.poll.format(validation_id=validation_id)
        else:
            return None, None
        deadline = time.monotonic() + POLL_DEADLINE
        last, wait = None, POLL_FIRST_WAIT
        while time.monotonic() < deadline:
            last = self.client.send("GET", path, lambda url: request_headers(temp, NO_PROOF, "GET", url))
            status = last.json_member("status")
            if not last.ok or status != "pending":
                break
            time.sleep(wait)
            wait = min(wait * 2, POLL_MAX_WAIT)
        token = last.json_member("validated_token") if last is not None and last.ok else None
        return last, token if isinstance(token, str) else None

    def validate(self, identity: Identity, temp: str, proof: Proof, extra: dict | None = None) -> tuple[Exchange, Exchange | None, str | None]:
        accepted = self.phase2(identity, temp, proof, extra=extra)
        if accepted.status != 202 and not accepted.ok:
            return accepted, None, None
        last, token = self.poll(temp, accepted)
        return accepted, last, token

    def registration_body(self, identity: Identity) -> dict:
        return {
            "name": "ARCP conformance agent",
            "agent_id": identity.agent_id,
            "agent_type": identity.agent_type,
            "endpoint": identity.endpoint,
            "context_brief": "Short-lived agent registered by the arcp-conformance suite.",
            "capabilities": ["conformance-check"],
            "owner": "arcp-conformance",
            "public_key": "arcp-conformance-" + "0" * 32,
            "metadata": {"created_by": "arcp-conformance"},
            "version": "1.0.0",
            "communication_mode": "remote",
        }

    def phase3(self, identity: Identity, validated: str | None, proof: Proof, scheme: str = "Bearer") -> Exchange:
        ex = self.client.send(
            "POST", self.endpoints.register, lambda url: request_headers(validated, proof, "POST", url, scheme), self.registration_body(identity)
        )
        self.note_registration(identity, ex, proof)
        return ex

    def note_registration(self, identity: Identity, ex: Exchange, proof: Proof) -> None:
        """Keep the access token of a registration the target accepted, to unregister the agent later."""
        access = ex.json_member("access_token") if ex.ok else None
        if isinstance(access, str):
            with self._registry_lock:
                self.registered.append((identity, access, proof))

    def operation(self, name: str, identity: Identity, access: str | None, proof: Proof, scheme: str = "Bearer") -> Exchange:
        """One agent operation on `identity`'s own agent, presenting `access` (None: no Authorization)."""
        method, path = self.operation_target(name, identity)
        body = OPERATION_REQUESTS[name][2]
        return self.client.send(method, path, lambda url: request_headers(access, proof, method, url, scheme), body)

    def refresh(self, token: str | None, proof: Proof, scheme: str = "Bearer") -> Exchange:
        """POST /tokens/refresh presenting `token` (no body)."""
        return self.client.send("POST", self.endpoints.refresh, lambda url: request_headers(token, proof, "POST", url, scheme))

    def operation_target(self, name: str, identity: Identity) -> tuple[str, str]:
        """(method, path) of the agent operation `name` on `identity`'s agent."""
        method, field_name, _ = OPERATION_REQUESTS[name]
        return method, getattr(self.endpoints, field_name).format(agent_id=identity.agent_id)

    def body_for(self, endpoint: str, identity: Identity) -> dict | None:
        """The valid body of an endpoint of profile §3 (None for those that take none)."""
        makers = {"phase1": self.phase1_body, "validate": self.phase2_body, "register": self.registration_body,
                  "metrics-post": lambda who: dict(METRICS_BODY)}
        return makers[endpoint](identity) if endpoint in makers else None

    def target_of(self, endpoint: str, identity: Identity) -> tuple[str, str]:
        """(method, path) of an endpoint of profile §3 for `identity`'s agent (not the poll: its
        path comes from the validation it polls)."""
        fixed = {"phase1": self.endpoints.token, "validate": self.endpoints.validate, "register": self.endpoints.register,
                 "refresh": self.endpoints.refresh}
        if endpoint in fixed:
            return "POST", fixed[endpoint]
        return self.operation_target(endpoint, identity)

    def send_malformed(self, method: str, path: str, token: str | None, proof: Proof, *, raw: RawBody | None = None,
                       json_body: object = None, authorization: str | None = None) -> Exchange:
        """One request whose body is `raw` (bytes as they are) or `json_body`, presenting `token`
        with the proof, or the exact `authorization` value given (the proof's ath still names `token`)."""
        return self.client.send(method, path, lambda url: request_headers(token, proof, method, url, authorization=authorization),
                                json_body, raw)

    def unregister(self, identity: Identity, access: str, proof: Proof) -> Exchange:
        path = self.endpoints.unregister.format(agent_id=identity.agent_id)
        # The key the access token is bound to, which is not the registration proof's key when a
        # target wrongly accepted a proof by another key.
        bound = next((k for k in self.keys if k.thumbprint == jkt_of(access)), None)
        key = bound or proof.key
        fresh = Proof(key=key) if key else NO_PROOF
        own = next((d for d in proof.defects if (k := own_key_of(d)) and k.thumbprint == jkt_of(access)), None)
        if bound is None and own:  # registered by a proof with a key of its own, which a lenient target accepted
            fresh = Proof(key=key, defects=(own,))
        return self.client.send("DELETE", path, lambda url: request_headers(access, fresh, "DELETE", url))

    def unregister_agent(self, identity: Identity) -> Exchange | None:
        """Unregister the agent `identity` registered last (None: it registered none), keeping the
        exchange; an accepted one leaves the list of agents to clean up."""
        with self._registry_lock:
            entry = next((r for r in reversed(self.registered) if r[0].agent_id == identity.agent_id), None)
        if entry is None:
            return None
        ex = self.unregister(*entry)
        if ex.ok:
            with self._registry_lock:
                self.registered[:] = [r for r in self.registered if r is not entry]
        return ex

    def unregister_last(self, identity: Identity) -> bool:
        """Remove the agent `identity` registered last, so that the identity can register again."""
        ex = self.unregister_agent(identity)
        return ex is None or ex.ok

    def forget(self, identity: Identity) -> None:
        """`identity` was unregistered by a request of its own: nothing left to clean up."""
        with self._registry_lock:
            self.registered[:] = [r for r in self.registered if r[0].agent_id != identity.agent_id]

    def cleanup(self) -> None:
        with self._registry_lock:
            left = list(reversed(self.registered))
        for identity, access, proof in left:
            self.unregister(identity, access, proof)
        with self._registry_lock:
            self.registered.clear()

"""DPoP-Nonce as a client (wire.client, wire.nonces) and on the model (RFC 9449 §8, §9): the suite
carries the newest nonce it was given, retries a request refused for its nonce once (counted and
recorded), never changes a replayed proof or a proof made without the nonce on purpose, and sends
exactly what it sent before to a target that gives no nonce."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conformance.dpop.keys import generate_key
from conformance.dpop.proofs import decode_unverified
from conformance.model_target import start_model
from conformance.report import transcript
from conformance.report.results import exchange_record
from conformance.wire import nonces
from conformance.wire.client import TargetClient
from conformance.wire.exchange import Exchange
from conformance.wire.flows import NO_PROOF, Endpoints, Flows, Identity, Proof, request_headers


@pytest.fixture(scope="module")
def nonce_model():
    with start_model("required", nonce=True) as model:
        yield model


@pytest.fixture(scope="module")
def plain_model():
    with start_model("required") as model:
        yield model


def flows_for(model, **client_options) -> Flows:
    return Flows(TargetClient(model.url, **client_options), Endpoints(), model.config.agent_key)


def identity(label: str) -> Identity:
    return Identity(f"arcp-conf-nonce-{label}", "testing", "http://127.0.0.1:9/agent")


def proof_claims(ex: Exchange) -> dict:
    values = [v for k, v in ex.request_headers if k.lower() == "dpop"]
    assert len(values) == 1
    return decode_unverified(values[0])[1]


KEY = generate_key("EdDSA")


# --- the client against the model

def test_a_target_without_nonces_gets_no_nonce_claim_and_no_retry(plain_model):
    flows = flows_for(plain_model)
    ex, token = flows.phase1(identity("plain"), Proof(key=KEY))
    assert token and ex.attempts == 1 and ex.retried_after is None
    assert "nonce" not in proof_claims(ex) and not ex.headers("dpop-nonce")
    assert (flows.client.nonce, flows.client.nonce_retries, flows.client.requests) == (None, 0, 1)
    assert "retried_after" not in exchange_record(ex)


def test_the_first_request_is_refused_for_its_nonce_and_retried_once_with_it(nonce_model):
    flows = flows_for(nonce_model)
    ex, token = flows.phase1(identity("first"), Proof(key=KEY))
    first = ex.retried_after
    assert token and ex.ok and ex.attempts == 2 and flows.client.requests == 2 and flows.client.nonce_retries == 1
    assert first.status == 400 and first.json_member("error") == nonces.NONCE_ERROR and "nonce" not in proof_claims(first)
    assert proof_claims(ex)["nonce"] == nonces.nonce_of(first)  # the retry carries the nonce the refusal gave
    assert flows.client.nonce == nonces.nonce_of(ex)  # ... and the client now holds the newest one


def test_later_proofs_carry_the_newest_nonce_without_a_retry(nonce_model):
    flows = flows_for(nonce_model)
    flows.phase1(identity("warm"), Proof(key=KEY))
    newest = flows.client.nonce
    ex, token = flows.phase1(identity("again"), Proof(key=KEY, defects=("htm-wrong",)))
    # a defective proof still carries the nonce, so it is refused for its defect, not for a nonce
    assert ex.status == 401 and ex.attempts == 1 and ex.retried_after is None
    assert proof_claims(ex)["nonce"] == newest and "invalid_dpop_proof" in ex.header("www-authenticate")


@pytest.mark.parametrize("nonce", [None, "never-given-by-the-target"])
def test_a_proof_that_ignores_the_nonce_on_purpose_is_sent_once_as_made(nonce_model, nonce):
    flows = flows_for(nonce_model)
    flows.phase1(identity("warm2"), Proof(key=KEY))
    before = flows.client.requests
    ex, _ = flows.phase1(identity("ignores"), Proof(key=KEY).with_nonce(nonce))
    assert ex.status == 400 and ex.attempts == 1 and ex.retried_after is None
    assert flows.client.requests == before + 1 and proof_claims(ex).get("nonce") == nonce


def test_a_replayed_proof_is_sent_byte_for_byte_and_not_retried(nonce_model):
    flows = flows_for(nonce_model)
    url = flows.client.url(flows.endpoints.token)
    values = tuple(Proof(key=KEY).headers("POST", url, None))  # built outside a send: no nonce
    ex, _ = flows.phase1(identity("replay"), Proof(replay=values))
    assert [v for k, v in ex.request_headers if k == "DPoP"] == list(values)
    assert ex.status == 400 and ex.attempts == 1 and ex.retried_after is None


def test_the_retry_counts_in_the_request_budget(nonce_model):
    flows = flows_for(nonce_model, max_requests=1)
    ex, token = flows.phase1(identity("budget"), Proof(key=KEY))
    assert token is None and not ex.sent and "request budget" in ex.error
    assert ex.retried_after is not None and ex.retried_after.status == 400 and flows.client.requests == 1


def test_requests_without_a_proof_are_not_retried(nonce_model):
    flows = flows_for(nonce_model)
    ex, _ = flows.phase1(identity("noproof"), NO_PROOF)
    assert ex.status == 401 and ex.attempts == 1 and ex.retried_after is None  # required mode: dpop-required


def test_concurrent_clients_of_one_target_all_get_through(nonce_model):
    flows = flows_for(nonce_model)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: flows.phase1(identity(f"thread-{n}"), Proof(key=KEY)), range(12)))
    assert all(token for _, token in results)
    assert flows.client.requests == 12 + flows.client.nonce_retries and flows.client.nonce_retries <= 12


def test_the_report_shows_both_attempts(nonce_model):
    flows = flows_for(nonce_model)
    ex, _ = flows.phase1(identity("report"), Proof(key=KEY))
    record = exchange_record(ex)
    assert record["attempts"] == 2 and record["retried_after"]["status"] == 400
    text = transcript.render(ex, "1. JUDGED")
    assert "first attempt: refused for its DPoP nonce" in text and "sent again with the target's fresh DPoP-Nonce" in text
    assert text.count("> POST ") == 2
    assert "retried once with the target's fresh DPoP-Nonce after POST" in ex.describe()
    from conformance.report.html import check_extra

    html = check_extra({"verdict": "pass", "id": "X@phase1", "level": "MUST", "requirement": "X", "exchanges": [record]})
    assert "first attempt, refused for its DPoP nonce" in html and html.count("&gt; POST ") == 2


# --- the client against a tiny fake that never lets the nonce through

class AlwaysNonce(BaseHTTPRequestHandler):
    """Every request: 401 use_dpop_nonce with a fresh DPoP-Nonce (a target that is never satisfied)."""

    counter = 0
    lock = threading.Lock()

    def do_GET(self):
        with AlwaysNonce.lock:
            AlwaysNonce.counter += 1
            fresh = f"fresh-{AlwaysNonce.counter}"
        body = json.dumps({"type": "about:blank", "status": 401}).encode()
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'DPoP algs="EdDSA", error="use_dpop_nonce"')
        self.send_header("DPoP-Nonce", fresh)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def never_satisfied():
    server = ThreadingHTTPServer(("127.0.0.1", 0), AlwaysNonce)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_nonce_retry_is_bounded_to_one(never_satisfied):
    client = TargetClient(never_satisfied)
    ex = client.send("GET", "/resource", lambda url: request_headers("tok", Proof(key=KEY), "GET", url))
    assert ex.status == 401 and ex.attempts == 2 and client.requests == 2 and client.nonce_retries == 1
    assert proof_claims(ex.retried_after).get("nonce") is None and proof_claims(ex)["nonce"] == nonces.nonce_of(ex.retried_after)
    again = client.send("GET", "/resource", lambda url: request_headers("tok", Proof(key=KEY), "GET", url))
    assert again.attempts == 2 and client.requests == 4  # each request once more at most, never a loop


# --- recognising a request for a nonce

@pytest.mark.parametrize("status, headers, body, asks", [
    (401, [("WWW-Authenticate", 'DPoP error="use_dpop_nonce", algs="ES256"')], "", True),
    (401, [("WWW-Authenticate", "DPoP algs=\"ES256\", error=use_dpop_nonce")], "", True),
    (401, [("WWW-Authenticate", 'DPoP error="invalid_dpop_proof"')], "", False),
    (400, [], '{"error": "use_dpop_nonce"}', True),
    (400, [], '{"error": "invalid_dpop_proof"}', False),
    (403, [], '{"error": "use_dpop_nonce"}', False),
])
def test_asks_for_nonce(status, headers, body, asks):
    ex = Exchange("POST", "http://t.test/x", [], status=status, response_headers=headers, body_text=body)
    assert nonces.asks_for_nonce(ex) is asks


def test_take_nonce_outside_a_send_is_none_and_inside_marks_the_slot():
    assert nonces.take_nonce() is None
    with nonces.handing("n-1") as slot:
        assert not slot.taken and nonces.take_nonce() == "n-1" and slot.taken
    assert nonces.take_nonce() is None


# --- the model gives nonces where proofs are checked, and only there

def test_the_model_gives_a_fresh_nonce_on_dpop_endpoints_only(nonce_model, plain_model):
    client = TargetClient(nonce_model.url)
    assert not client.send("GET", "/health").headers("dpop-nonce")
    one = client.send("POST", "/auth/agent/request_temp_token", json_body={})
    two = client.send("POST", "/auth/agent/validate_compliance", json_body={})
    assert one.headers("dpop-nonce") and two.headers("dpop-nonce") and nonces.nonce_of(one) != nonces.nonce_of(two)
    assert not TargetClient(plain_model.url).send("POST", "/auth/agent/request_temp_token", json_body={}).headers("dpop-nonce")


def test_a_nonce_fault_starts_the_model_with_nonces():
    from conformance.model_target import ModelConfig

    with start_model("optional", ["nonce-any-accepted"]) as model:
        assert model.config.nonce
    with pytest.raises(ValueError, match="needs the model option nonce=True"):
        ModelConfig(mode="required", faults=frozenset({"nonce-not-checked"}))

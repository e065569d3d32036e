"""Proofs that name their key by reference (profile §5): the agent endpoint's key URLs and its
record of requests to them, and how the model treats such proofs, strictly and with its faults."""
import threading
import time

import httpx
import pytest

from conformance.dpop.key_documents import JWK_SET, jwk_set, key_document
from conformance.dpop.keys import generate_key
from conformance.dpop.proofs import build_proof
from conformance.model_target import start_model
from conformance.model_target.key_refs import SeenKeys, is_loopback_http, key_from_set
from conformance.wire.agent_endpoint import AgentEndpoint

KEY = generate_key("EdDSA")


@pytest.fixture
def endpoint():
    served = AgentEndpoint()
    yield served
    served.close()


# --- the agent endpoint

def test_a_key_url_serves_its_document_and_records_every_request(endpoint):
    document = key_document(JWK_SET, KEY)
    url = endpoint.key_url(document.body, document.content_type, document.suffix)
    other = endpoint.key_url(b"other", "text/plain")
    assert url.startswith(endpoint.base_url + "/keys/") and url.endswith(".json") and url != other
    assert len(url.rpartition("/")[2]) >= 24  # unguessable: 18 random bytes
    assert endpoint.key_fetches(url) == ()
    response = httpx.get(url, headers={"User-Agent": "unit"})
    assert response.status_code == 200 and response.json() == jwk_set(KEY)
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert httpx.head(url).status_code == 200
    fetches = endpoint.key_fetches(url)
    assert [(f.method, f.client, f.user_agent) for f in fetches] == [("GET", "127.0.0.1", "unit"), ("HEAD", "127.0.0.1", fetches[1].user_agent)]
    assert endpoint.key_fetches(other) == ()  # each URL its own record


def test_a_guessed_key_url_is_recorded_and_not_served(endpoint):
    guessed = endpoint.base_url + "/keys/guess.json"
    assert httpx.get(guessed).status_code == 404
    assert [f.path for f in endpoint.key_fetches(guessed)] == ["/keys/guess.json"]


def test_the_health_answers_are_unchanged(endpoint):
    health = endpoint.url_for("agent-1") + "/health"
    assert httpx.get(health).json() == {"status": "healthy", "agent_id": "agent-1"}
    assert httpx.get(endpoint.base_url + "/agent-2/health").status_code == 404
    assert httpx.post(health).status_code == 501  # only key URLs take other methods


def test_waiting_for_a_fetch_ends_at_the_first_one_or_at_the_deadline(endpoint):
    url = endpoint.key_url(b"{}", "application/json")
    started = time.time()
    assert endpoint.key_fetches(url, until=started + 0.2) == ()
    assert 0.15 <= time.time() - started < 1.0  # bounded by `until`, never longer
    threading.Timer(0.1, httpx.get, (url,)).start()
    started = time.time()
    (fetch,) = endpoint.key_fetches(url, until=started + 5)
    assert time.time() - started < 2 and fetch.at >= started  # back as soon as it was requested


# --- the model: strict, and with its faults

def phase1(server, key, defects=(), key_url=None, agent_id="unit-agent"):
    url = server.url + "/auth/agent/request_temp_token"
    proof = build_proof(key, "POST", url, defects=defects, key_url=key_url)[0]
    body = {"agent_id": agent_id, "agent_type": "testing", "agent_key": server.config.agent_key}
    return httpx.post(url, headers={"DPoP": proof}, json=body)


def key_urls(endpoint, key):
    return {name: endpoint.key_url(*_document(kind, key)) for name, kind in (("jku-instead", "jwk-set"), ("x5u-instead", "certificate"))}


def _document(kind, key):
    document = key_document(kind, key)
    return document.body, document.content_type, document.suffix


@pytest.mark.parametrize("mode", ["required", "optional"])
def test_the_strict_model_refuses_every_key_reference_and_fetches_nothing(endpoint, mode):
    urls = key_urls(endpoint, KEY)
    with start_model(mode) as server:
        assert phase1(server, KEY).status_code == 200  # key A seen in a valid proof
        for defect in ("kid-instead", "jku-instead", "x5u-instead", "x5c-instead"):
            response = phase1(server, KEY, (defect,), urls.get(defect))
            assert response.status_code == 401 and response.json()["type"].endswith("/dpop-invalid"), defect
            assert "no jwk" in response.json()["detail"]
    assert all(endpoint.key_fetches(url) == () for url in urls.values())


def test_kid_lookup_accepted_takes_a_key_it_saw_and_no_other(endpoint):
    unseen = generate_key("EdDSA")
    with start_model("required", ("kid-lookup-accepted",)) as server:
        assert phase1(server, unseen, ("kid-instead",)).status_code == 401  # never seen: no key
        assert phase1(server, KEY).status_code == 200
        response = phase1(server, KEY, ("kid-instead",))
        assert response.status_code == 200, response.text
        assert phase1(server, KEY, ("jku-instead",), key_urls(endpoint, KEY)["jku-instead"]).status_code == 401


def test_jku_fetched_requests_the_url_and_takes_the_key_of_a_jku(endpoint):
    urls = key_urls(endpoint, KEY)
    with start_model("optional", ("jku-fetched",)) as server:
        assert phase1(server, KEY, ("jku-instead",), urls["jku-instead"]).status_code == 200
        assert phase1(server, KEY, ("x5u-instead",), urls["x5u-instead"]).status_code == 401  # fetched, not used
        assert phase1(server, KEY, ("kid-instead",)).status_code == 401
        # a JWK Set holding another key: the proof's signature does not verify under it
        other = endpoint.key_url(*_document("jwk-set", generate_key("EdDSA")))
        assert phase1(server, KEY, ("jku-instead",), other).status_code == 401
    assert [len(endpoint.key_fetches(url)) for url in (*urls.values(), other)] == [1, 1, 1]
    assert endpoint.key_fetches(urls["jku-instead"])[0].user_agent.startswith("arcp-model-target")


@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:8000/keys/a.json", True), ("http://[::1]:8000/k", True), ("http://localhost/k", True),
    ("http://127.8.9.10/k", True), ("https://127.0.0.1/k", False), ("http://10.0.0.1/k", False),
    ("http://example.com/k", False), ("http://127.0.0.1:x/k", False), ("file:///etc/passwd", False), ("", False),
])
def test_the_fault_fetches_only_loopback_http(url, loopback):
    assert is_loopback_http(url) is loopback


def test_key_from_set_prefers_the_kid_then_the_first_key_that_fits():
    ec, ed, ed2 = generate_key("ES256"), KEY, generate_key("EdDSA")
    document = b'{"keys": [%s, %s, %s]}' % tuple(
        httpx.Response(200, json=jwk_set(k)["keys"][0]).content for k in (ec, ed, ed2))
    assert key_from_set(document, ed2.thumbprint, "OKP", "Ed25519") == ed2.public_jwk
    assert key_from_set(document, None, "OKP", "Ed25519") == ed.public_jwk
    assert key_from_set(document, None, "EC", "P-256") == ec.public_jwk
    assert key_from_set(document, None, "RSA", None) is None
    assert key_from_set(b"not json", None, "OKP", "Ed25519") is None and key_from_set(None, None, "OKP", "Ed25519") is None


def test_seen_keys_are_bounded_and_forget_the_oldest():
    seen = SeenKeys(size=2)
    for name in ("a", "b", "c"):
        seen.remember(name, {"kty": name})
    assert seen.get("a") is None and seen.get("c") == {"kty": "c"} and seen.get(["c"]) is None

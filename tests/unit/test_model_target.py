"""The model target's own pieces: htu normalization, problem+json, the replay store, the server
lifecycle and the fault catalogue. (The suite-against-model self-test lives elsewhere.)"""
import json
import re
import time
from pathlib import Path

import httpx
import jwt
import pytest

from conformance.spec.catalogue import requirements
from conformance.dpop.keys import generate_key
from conformance.model_target import FAULTS, ModelConfig, ModelServer, start_model
from conformance.model_target.dpop import ReplayStore
from conformance.model_target.htu import normalize_uri
from conformance.model_target.problems import PROBLEM_TYPES
from conformance.dpop.proofs import build_proof

MODEL_SOURCES = Path(__file__).resolve().parents[2] / "conformance" / "model_target"


@pytest.mark.parametrize(
    "given, normalized",
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/%7euser/a%2db", "http://example.com/~user/a-b"),
        ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/../a", "http://example.com/a"),
        ("http://example.com/a?q=1#f", "http://example.com/a"),
        ("http://[::1]:80/a", "http://[::1]/a"),
    ],
)
def test_htu_normalization(given, normalized):
    assert normalize_uri(given) == normalized


@pytest.mark.parametrize("bad", ["/relative", "ftp://example.com/", "http://example.com:99999/", "not a url"])
def test_htu_normalization_refuses_what_is_not_an_http_uri(bad):
    with pytest.raises(ValueError):
        normalize_uri(bad)


def test_replay_store_forgets_a_jti_after_the_window():
    now = [1000.0]
    store = ReplayStore(window=180, clock=lambda: now[0])
    assert store.first_use("a")
    assert not store.first_use("a")
    now[0] += 179
    assert not store.first_use("a")
    now[0] += 2
    assert store.first_use("a")  # expired, so a first use again
    assert len(store) == 1


@pytest.fixture
def client_for():
    """(httpx client on a running model target, its config) per mode; all closed after the test."""
    servers = []

    def make(mode):
        servers.append(start_model(mode))
        return httpx.Client(base_url=servers[-1].url), servers[-1].config

    yield make
    for server in servers:
        server.close()


def test_a_401_is_a_problem_with_a_dpop_challenge(client_for):
    client, _ = client_for("required")
    response = client.post("/agents/register", headers={"Authorization": "Bearer not-a-jwt"}, json={})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'DPoP algs="EdDSA ES256", error="invalid_token"'
    body = response.json()
    assert body["type"] == "https://arcp.0x001.tech/docs/problems/token-invalid"
    assert body["title"] == PROBLEM_TYPES["token-invalid"][0] == "Invalid or Expired Token"
    assert body["status"] == 401
    assert body["detail"] and body["instance"] == "/agents/register" and body["request_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])


def test_no_credentials_gives_a_challenge_without_error(client_for):
    client, _ = client_for("optional")
    response = client.post("/auth/agent/validate_compliance", json={})
    assert response.status_code == 401
    assert response.json()["type"].endswith("/authentication-failed")
    assert response.headers["www-authenticate"] == 'DPoP algs="EdDSA ES256"'


def test_garbage_proof_and_body_get_4xx_problems(client_for):
    client, config = client_for("required")
    for headers, content in [({"DPoP": "é.x.y".encode()}, b"{}"), ({}, b"\xff{"), ({"DPoP": "a.b"}, b"[]")]:
        response = client.post("/auth/agent/request_temp_token", headers=headers, content=content)
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"] == "application/problem+json"


PHASE1_BODY = '{"agent_id": "unit-agent", "agent_type": "testing", "agent_key": "%s"}'


@pytest.mark.parametrize("content_type, content, status, slug", [
    ("application/json; charset=utf-8", PHASE1_BODY, 200, None),  # the valid request, its media type written otherwise
    ("application/json", PHASE1_BODY[:-1], 400, "invalid-input"),  # not JSON
    ("text/plain", PHASE1_BODY, 400, "invalid-input"),  # JSON as another media type
    (None, PHASE1_BODY, 400, "invalid-input"),
    ("application/json", "", 400, "invalid-input"),
    ("application/json", PHASE1_BODY.replace("unit-agent", "unit-agent\udcff"), 400, "invalid-input"),  # not UTF-8
    ("application/json", "[]", 422, "validation-failed"),
    ("application/json", PHASE1_BODY.replace('"unit-agent"', '["unit-agent"]'), 422, "validation-failed"),
    ("application/json", PHASE1_BODY.replace('"agent_type": "testing", ', ""), 422, "validation-failed"),
    ("application/json", PHASE1_BODY.replace("unit-agent", "a" * 20000), 413, "request-too-large"),
])
def test_malformed_bodies_get_4xx_problems(client_for, content_type, content, status, slug):
    client, config = client_for("disabled")
    headers = {"Content-Type": content_type} if content_type else {}
    body = (content % config.agent_key if "%s" in content else content).encode("utf-8", "surrogateescape")
    response = client.post("/auth/agent/request_temp_token", headers=headers, content=body)
    assert response.status_code == status, response.text
    if slug:
        assert response.headers["content-type"] == "application/problem+json" and response.json()["type"].endswith("/" + slug)


def test_junk_authorization_headers_get_401_authentication_failed(client_for):
    client, _ = client_for("required")
    for value in ("Token not-a-jwt", "", "Bearer not-a-jwt\x01\x7f<>", "Bearer a b"):
        response = client.post("/tokens/refresh", headers=[("Authorization", value)])
        assert response.status_code == 401 and response.json()["type"].endswith("/authentication-failed"), value
        assert response.headers["www-authenticate"].startswith("DPoP ")


@pytest.mark.parametrize("fault, content_type, content, status, media_type", [
    ("500-on-malformed-json", "application/json", b"{", 500, "application/problem+json"),
    ("500-on-wrong-content-type", "text/plain", b"{}", 500, "application/problem+json"),
    ("500-on-wrong-member-type", "application/json", b"[]", 500, "application/problem+json"),
    ("plain-text-malformed-error", "application/json", b"{", 400, "text/plain; charset=utf-8"),
])
def test_the_malformed_body_faults_mishandle_only_their_kind(fault, content_type, content, status, media_type):
    with start_model("disabled", (fault,)) as server:
        response = httpx.post(server.url + "/auth/agent/request_temp_token", headers={"Content-Type": content_type}, content=content)
        assert (response.status_code, response.headers["content-type"]) == (status, media_type)
        other = b'{"agent_id": "unit-agent"}'  # another kind of malformed body: refused as the strict model does
        response = httpx.post(server.url + "/auth/agent/request_temp_token", headers={"Content-Type": "application/json"}, content=other)
        assert response.status_code == 422 and response.headers["content-type"] == ("text/plain; charset=utf-8" if "plain" in fault else "application/problem+json")


def test_the_junk_authorization_faults():
    with start_model("optional", ("plain-text-junk-auth",)) as server:
        response = httpx.post(server.url + "/tokens/refresh", headers={"Authorization": "Token x"})
        assert response.status_code == 401 and response.headers["content-type"].startswith("text/plain") and "www-authenticate" in response.headers
        assert httpx.post(server.url + "/tokens/refresh").headers["content-type"] == "application/problem+json"  # a missing header is no junk
    with start_model("disabled", ("any-auth-scheme",)) as server:
        response = httpx.post(server.url + "/tokens/refresh", headers={"Authorization": "Token not-a-jwt"})
        assert response.json()["type"].endswith("/token-invalid")  # taken for a Bearer token


def test_phase1_binds_the_temp_token_to_the_proving_key(client_for):
    client, config = client_for("optional")
    key = generate_key("EdDSA")
    url = str(client.base_url).rstrip("/") + "/auth/agent/request_temp_token"
    body = {"agent_id": "unit-agent", "agent_type": "testing", "agent_key": config.agent_key}
    response = client.post(url, headers={"DPoP": build_proof(key, "POST", url)[0]}, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    claims = jwt.decode(response.json()["temp_token"], config.jwt_secret, algorithms=["HS256"], audience="arcp:validate")
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert claims["exp"] - claims["iat"] == response.json()["expires_in"] == config.temp_ttl
    assert response.json()["token_type"] == "DPoP"
    unbound = client.post(url, json=body).json()  # optional mode: no proof, an unbound token
    assert unbound["token_type"] == "Bearer"


def test_unknown_or_misplaced_fault_is_refused():
    with pytest.raises(ValueError, match="no-such-fault"):
        ModelConfig(mode="required", faults=frozenset({"no-such-fault"}))
    with pytest.raises(ValueError, match="disabled-checks-proofs"):
        ModelConfig(mode="required", faults=frozenset({"disabled-checks-proofs"}))
    with pytest.raises(ValueError, match="sometimes"):
        ModelConfig(mode="sometimes")


def test_fault_catalogue_names_known_requirements_and_modes():
    known = requirements()
    for fault in FAULTS.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fault.name)
        named = {*fault.breaks, *fault.fuzz, *fault.stateful}  # fixed checks, fuzz properties, state-machine invariants
        assert fault.summary and fault.modes and named, fault.name
        assert set(fault.modes) <= {"required", "optional", "disabled"}
        assert named <= set(known), fault.name


def test_every_fault_is_implemented():
    code = "\n".join(p.read_text(encoding="utf-8") for p in MODEL_SOURCES.glob("*.py"))
    # The -no-cnf faults and the access-no-<claim> faults are named through small tables.
    spelled = set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', code)) | {"access-no-aud", "access-no-token-type"}
    assert set(FAULTS) - spelled == set()


def test_model_server_starts_and_stops():
    started = time.monotonic()
    with start_model("disabled") as server:
        assert isinstance(server, ModelServer) and server.config.mode == "disabled"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        assert httpx.get(server.url + "/health").json() == {"status": "healthy", "version": "model-0.1"}
        config = httpx.get(server.url + "/.well-known/arcp-configuration").json()
        assert config["token_endpoint"] == server.url + "/auth/agent/request_temp_token"
        url = server.url
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=1)
    assert time.monotonic() - started < 6


def test_catalogue_file_is_the_one_loaded():
    data = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "model-faults.json").read_text(encoding="utf-8"))
    assert set(data["faults"]) == set(FAULTS)


def test_a_model_spec_names_mode_faults_and_options():
    from conformance.model_target import parse_spec

    assert parse_spec("model:") == ("required", (), {})
    assert parse_spec("model:optional:skip-htm,nonce,algs=EdDSA+ES384") == (
        "optional", ("skip-htm",), {"nonce": True, "algs": ("EdDSA", "ES384")})
    with pytest.raises(ValueError, match="unknown model option"):
        parse_spec("model:required:colour=blue")
    assert parse_spec("model:required:latency=20") == ("required", (), {"latency_ms": 20})
    with pytest.raises(ValueError, match="whole number of milliseconds"):
        parse_spec("model:required:latency=-5")


def test_latency_delays_every_answer_and_concurrent_answers_overlap():
    from concurrent.futures import ThreadPoolExecutor

    def timed_health(client):
        started = time.monotonic()
        assert client.get(server.url + "/health").status_code == 200
        return time.monotonic() - started

    with start_model("required", latency_ms=300) as server, httpx.Client() as client:
        assert timed_health(client) >= 0.3
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            assert all(took >= 0.3 for took in pool.map(lambda _: timed_health(client), range(4)))
        assert time.monotonic() - started < 4 * 0.3  # one after another would take 1.2 s


# --- the algorithms the model lists and accepts (ModelConfig.algs)

ALL_ALGS = ("EdDSA", "ES256", "ES384", "ES512", "RS256", "PS256")


def phase1(server, key, *, alg=None, agent_id="unit-agent"):
    """Phase 1 with a proof by `key`; with `alg`, its header names that alg (signed by the key's own)."""
    from conformance.dpop.proofs import _encode_signed_by, proof_parts

    url = server.url + "/auth/agent/request_temp_token"
    parts = proof_parts(key, "POST", url)
    parts.header["alg"], parts.signing_alg = alg or key.alg, key.alg
    body = {"agent_id": agent_id, "agent_type": "testing", "agent_key": server.config.agent_key}
    return httpx.post(url, headers={"DPoP": _encode_signed_by(parts, parts.claims)}, json=body)


def test_the_model_lists_and_accepts_its_configured_algs():
    algs = ("ES384", "EdDSA", "PS256")
    with start_model("required", algs=algs) as server:
        config = httpx.get(server.url + "/.well-known/arcp-configuration").json()
        assert config["dpop_signing_alg_values_supported"] == list(algs)
        refused = httpx.post(server.url + "/agents/register", headers={"Authorization": "Bearer not-a-jwt"}, json={})
        assert refused.headers["www-authenticate"].startswith('DPoP algs="ES384 EdDSA PS256"')
        for alg in algs:
            key = generate_key(alg)
            response = phase1(server, key)
            assert response.status_code == 200, (alg, response.text)
            claims = jwt.decode(response.json()["temp_token"], server.config.jwt_secret, algorithms=["HS256"], audience="arcp:validate")
            assert claims["cnf"] == {"jkt": key.thumbprint}
        for alg in ("ES256", "RS256", "ES512"):  # not listed: refused as a proof failure
            response = phase1(server, generate_key(alg))
            assert response.status_code == 401 and response.json()["type"].endswith("/dpop-invalid"), alg


def test_the_model_refuses_a_listed_alg_with_a_key_that_does_not_fit_it():
    with start_model("required", algs=ALL_ALGS) as server:
        # an RSA key's RS256 signature in a proof that says PS256: the jwk fits the alg, the signature does not
        assert phase1(server, generate_key("RS256"), alg="PS256").status_code == 401
        # a P-256 key in a proof that says ES384: the jwk does not fit the alg
        response = phase1(server, generate_key("ES256"), alg="ES384")
        assert response.status_code == 401 and "needs EC P-384" in response.json()["detail"]
        response = phase1(server, generate_key("EdDSA"), alg="RS256")
        assert response.status_code == 401 and "needs RSA" in response.json()["detail"]


def test_the_model_refuses_an_alg_it_cannot_check():
    with pytest.raises(ValueError, match="HS256"):
        ModelConfig(mode="required", algs=("EdDSA", "HS256"))
    with pytest.raises(ValueError, match="at least one"):
        ModelConfig(mode="required", algs=())


@pytest.mark.parametrize("algs, refused", [(("EdDSA", "ES256"), "ES256"), (("ES384", "EdDSA", "PS256"), "PS256"), (("EdDSA",), None)])
def test_listed_alg_refused_refuses_the_last_listed_alg_only(algs, refused):
    with start_model("optional", ("listed-alg-refused",), algs=algs) as server:
        listed = httpx.get(server.url + "/.well-known/arcp-configuration").json()["dpop_signing_alg_values_supported"]
        assert listed == list(algs)
        for n, alg in enumerate(algs):
            response = phase1(server, generate_key(alg), agent_id=f"unit-agent-{n}")
            assert (response.status_code == 401) is (alg == refused), (alg, response.text)


# --- the proof defects of issue 15 (1a): refused by the strict model for their own reason, and
# accepted with exactly the fault that skips that check

NEW_DEFECT_RULES = {  # defect -> (the model's ProofError rule, the fault that skips it)
    "htm-lowercase": ("htm", "htm-case-insensitive"),
    "htu-path-case": ("htu", "htu-path-case-insensitive"),
    "exp-past": ("exp", "exp-nbf-ignored"),
    "nbf-future": ("nbf", "exp-nbf-ignored"),
    "jwk-x25519": ("jwk-fit", "jwk-fit-not-checked"),
    "jwk-x448": ("jwk-fit", "jwk-fit-not-checked"),
    "jwk-crv-unknown": ("jwk-fit", "jwk-fit-not-checked"),
    "jwk-curve-mismatch": ("jwk-fit", "jwk-fit-not-checked"),
    "jwk-rsa-for-ec": ("jwk-fit", "jwk-fit-not-checked"),
    "jwk-rsa-short": ("jwk-rsa-short", "rsa-short-accepted"),
}
PS256_TOO = ("EdDSA", "ES256", "PS256")  # so that the PS256 proof of jwk-rsa-short meets its key check


def checker(*faults):
    from conformance.model_target.dpop import ProofChecker

    return ProofChecker(ModelConfig(mode="required", faults=frozenset(faults), algs=PS256_TOO), ReplayStore(180))


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize("name", sorted(NEW_DEFECT_RULES))
def test_the_model_refuses_each_new_defect_for_its_own_reason_and_its_fault_skips_only_that(name, alg):
    from conformance.model_target.dpop import ProofError

    url = "http://127.0.0.1:8001/agents/a1/heartbeat"
    key = generate_key(alg)
    rule, fault = NEW_DEFECT_RULES[name]

    def outcome(faults, defects):
        (proof,) = build_proof(key, "POST", url, access_token="token", defects=defects)
        try:
            checker(*faults).check(proof, "POST", url, "token")
            return "accepted"
        except ProofError as exc:
            return exc.rule

    assert outcome((), ()) == "accepted"
    assert outcome((), (name,)) == rule
    assert outcome((fault,), (name,)) == "accepted"
    # the fault skips its own check only: the other new defects are still refused
    others = [n for n, (r, f) in NEW_DEFECT_RULES.items() if f != fault]
    assert all(outcome((fault,), (other,)) == NEW_DEFECT_RULES[other][0] for other in others)


def test_the_model_keeps_the_case_of_the_htu_path():
    assert normalize_uri("HTTP://Example.COM/Agents/%41b/x") == "http://example.com/Agents/Ab/x"


def test_a_new_defect_is_a_401_dpop_invalid_at_the_model():
    with start_model("required", algs=PS256_TOO) as server:
        url = server.url + "/auth/agent/request_temp_token"
        body = {"agent_id": "unit-agent", "agent_type": "testing", "agent_key": server.config.agent_key}
        for name, detail in (("jwk-x25519", "needs OKP Ed25519"), ("jwk-rsa-short", "shorter than 2048"), ("exp-past", "expired")):
            response = httpx.post(url, headers={"DPoP": build_proof(generate_key("EdDSA"), "POST", url, defects=[name])[0]}, json=body)
            assert response.status_code == 401 and response.json()["type"].endswith("/dpop-invalid"), (name, response.text)
            assert detail in response.json()["detail"], name

"""The Python reproducers of conformance.reproduce: every check gets a compilable, secret-free
script; the scripts' proofs are the proof builder's; and a representative set of them, run as
separate processes against the model target, reproduce the fault that broke their check and
find nothing against the fault-free model."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import reproduce
from conformance.checks import FAIL, PASS, WARN, all_checks
from conformance.dpop.keys import generate_key
from conformance.model_target import start_model
from conformance.dpop.proofs import CONTROLS, DEFECTS, build_proof, decode_unverified, htu_for
from conformance.reproduce import (
    ENV_AGENT_ENDPOINT_HOST, ENV_AGENT_KEY, ENV_JWT_SECRET, ENV_TARGET_URL, EXIT_MISSING_SETTING, EXIT_NOT_REPRODUCED,
    EXIT_REPRODUCED, NOT_REPRODUCIBLE, proof_recipe, python_snippet,
)
from conformance.wire.session import ConformanceSession, Settings

MODES = ("required", "optional", "disabled")
SNIPPET_TIMEOUT = 60
ALL_PROOF_NAMES = [(), *[(name,) for name in DEFECTS], *[(name,) for name in CONTROLS]]


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_model():
    """One fault-free model per mode, started on first use, shared by the module."""
    models = {}

    def get(mode):
        if mode not in models:
            models[mode] = start_model(mode)
        return models[mode]

    yield get
    for model in models.values():
        model.close()


def session_for(model) -> ConformanceSession:
    cfg = model.config
    return ConformanceSession(Settings(target_url=model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode=cfg.mode))


@pytest.fixture(scope="module")
def judged_session(clean_model):
    """Per mode: a session against the fault-free model that has judged every check, so that
    its client recorded every token and proof the run used."""
    sessions = {}

    def get(mode):
        if mode not in sessions:
            session = session_for(clean_model(mode))
            for check in all_checks(mode):
                session.judge(check)
            sessions[mode] = session
        return sessions[mode]

    yield get
    for session in sessions.values():
        session.close()


def check_by_id(mode: str, check_id: str):
    return next(c for c in all_checks(mode) if c.id == check_id)


def env_for(model, *, agent_key=True, jwt_secret=True) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCP_CONFORMANCE_")}
    env[ENV_TARGET_URL] = model.url
    if agent_key:
        env[ENV_AGENT_KEY] = model.config.agent_key
    if jwt_secret:
        env[ENV_JWT_SECRET] = model.config.jwt_secret
    return env


def start_snippet(path: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=SNIPPET_TIMEOUT)
    return process.returncode, out + err


def runtime_namespace() -> dict:
    """The generic part of every script, loaded as a module (its main() not run)."""
    namespace = {"__name__": "reproducer_runtime"}
    exec(compile(reproduce._IMPORTS + "\nPLAN = {}\n" + reproduce._RUNTIME, "reproducer-runtime", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def runtime():
    return runtime_namespace()


# --- every check: a compilable script that embeds no secret ----------------------------------

def secrets_of(session: ConformanceSession) -> set[str]:
    """Everything secret the run handled: its agent key and signing secret, its keys, and every
    token and proof its client sent or received."""
    jwt_shape = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
    found = {session.settings.agent_key, session.settings.jwt_secret}
    for key in (session.key_a, session.key_b):
        found |= {v for k, v in key.private_jwk.items() if k in ("x", "y", "d")}
    for ex in session.client.exchanges:
        for name, value in ex.request_headers:
            if name.lower() == "authorization":
                found.add(value.partition(" ")[2])
            elif name.lower() == "dpop":
                found.add(value)
        found |= set(jwt_shape.findall(ex.body_text))
        body = ex.json()
        if isinstance(body, dict):
            found |= {v for k, v in body.items() if k.endswith("token") and isinstance(v, str)}
    found.discard("not-a-jwt")  # the malformed token of the situations: a fixed, public string
    return {s for s in found if s and len(s) >= 8}


def leaked(text: str, secrets: set[str]) -> list[str]:
    """The secrets found in `text` (searched in its runs of token characters, one per line)."""
    runs = "\n".join(set(re.findall(r"[A-Za-z0-9_\-.~+/=]{8,}", text)))
    return [s for s in secrets if s in runs]


def test_the_runtime_embeds_no_secret_and_compiles():
    compile(reproduce._IMPORTS + "\nPLAN = {}\n" + reproduce._RUNTIME, "runtime", "exec")
    assert not re.search(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.", reproduce._RUNTIME)


@pytest.mark.parametrize("mode", MODES)
def test_every_check_has_a_compilable_snippet_without_secrets(mode, judged_session):
    session = judged_session(mode)
    secrets = secrets_of(session)
    assert len(secrets) > 20  # the run did record tokens and proofs
    assert not leaked(reproduce._RUNTIME, secrets)
    none_for, compiled_whole = set(), set()
    for check in all_checks(mode):
        text = python_snippet(session, check)
        if text is None:
            none_for.add(check.requirement_id)
            continue
        # The runtime is the same text in every script (compiled whole once per judge and
        # situation kind below); what differs per check is the part before it.
        assert text.endswith(reproduce._RUNTIME), check.id
        prefix = text[: -len(reproduce._RUNTIME)]
        compile(prefix, check.id, "exec")
        shape = (check.judge, check.case.token if check.case else check.subject, check.case.endpoint if check.case else "")
        if shape not in compiled_whole:
            compile(text, check.id, "exec")
            compiled_whole.add(shape)
        assert not leaked(prefix, secrets), check.id
        assert check.id in prefix and check.requirement.statement.split()[0] in prefix
        assert ENV_TARGET_URL in prefix and ENV_AGENT_KEY in prefix
    assert none_for <= set(NOT_REPRODUCIBLE), f"None without a reason in NOT_REPRODUCIBLE: {none_for - set(NOT_REPRODUCIBLE)}"
    assert all(isinstance(why, str) and why for why in NOT_REPRODUCIBLE.values())


def test_a_snippet_documents_its_check_and_embeds_the_expectation(judged_session):
    session = judged_session("required")
    check = check_by_id("required", "DPOP-4.3-iat-old@register:bound:iat-old")
    text = python_snippet(session, check)
    doc = text.split('"""')[1]
    req = check.requirement
    for part in (check.id, req.id, req.level, req.statement, req.source, "refused with 401, problem type dpop-invalid"):
        assert part in doc
    namespace = {"__name__": "not-main"}
    exec(compile(text, "snippet", "exec"), namespace)
    plan = namespace["PLAN"]
    assert plan["case"]["expect"] == {
        "requirement": "DPOP-4.3-iat-old", "accept": False, "statuses": [401], "types": ["dpop-invalid"],
        "challenge_errors": ["invalid_dpop_proof"],
    }
    assert ["iat", {"now": -600}] in plan["case"]["proof"]["claims"]
    assert plan["needs"] == {"agent_key": True, "jwt_secret": False}
    assert plan["target_url"] == session.client.base_url


# --- proofs: the scripts build what build_proof builds ----------------------------------------

URLS = [
    "http://127.0.0.1:8000/auth/agent/validate_compliance",
    "https://arcp.example/agents/register",
    "http://[::1]:65535/agents/register",
]


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("defects", ALL_PROOF_NAMES, ids=lambda d: d[0] if d else "valid")
def test_a_recipe_rebuilds_the_proof_of_build_proof(runtime, alg, url, defects):
    key_a, key_b = generate_key(alg), generate_key(alg)
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    now, jti = 1_700_000_000, "6f1c2a9e-5b7d-4c1e-9a2f-8d6b4e0c7a15"
    expected = build_proof(key_a, "POST", url, access_token=token, defects=defects, other_key=key_b, now=now, jti=jti)
    recipe = proof_recipe(alg, "POST", url, defects=defects, other="B")
    keys = {"A": runtime["Key"](alg, key_a.private_key), "B": runtime["Key"](alg, key_b.private_key)}
    got = runtime["make_proofs"](recipe, keys, "POST", url, token, now=now, jti=jti)
    assert len(got) == len(expected)
    assert [decode_unverified(p)[0] for p in got] == [decode_unverified(p)[0] for p in expected]
    assert decode_unverified(got[0])[1] == decode_unverified(expected[0])[1]
    if alg == "EdDSA":  # Ed25519 signatures are deterministic: the very same proof
        assert got[0] == expected[0]
    else:
        assert got[0].rpartition(".")[0] == expected[0].rpartition(".")[0]


@pytest.mark.parametrize("defects", ALL_PROOF_NAMES, ids=lambda d: d[0] if d else "valid")
def test_a_recipe_keeps_its_defect_on_another_target_url(runtime, defects):
    """The script may be pointed at another URL than the run's: the htu keeps its difference."""
    run_url = "http://127.0.0.1:8000/auth/agent/validate_compliance"
    recipe = proof_recipe("EdDSA", "POST", run_url, defects=defects, other="B")
    keys = {"A": runtime["Key"]("EdDSA"), "B": runtime["Key"]("EdDSA")}
    for url in ("http://127.0.0.1:9001/auth/agent/validate_compliance", "https://arcp.example/auth/agent/validate_compliance"):
        claims = decode_unverified(runtime["make_proofs"](recipe, keys, "POST", url, "t0k3n")[0])[1]
        name = defects[0] if defects else "valid"
        if name.startswith("htu-") and name in DEFECTS and name != "htu-missing":
            assert claims["htu"] != htu_for(url)
        elif name == "htu-with-query":
            assert htu_for(claims["htu"]) == htu_for(url) and "?" in claims["htu"]
        elif name == "htu-unnormalized":
            assert claims["htu"].lower().startswith(url.split(":")[0] + "://") and claims["htu"] != htu_for(url)
        elif "htu" in claims:
            assert claims["htu"] == htu_for(url)


def test_a_recipe_on_a_url_of_the_same_shape_matches_build_proof_exactly(runtime):
    run_url, url = "http://127.0.0.1:8000/agents/register", "http://localhost:9001/agents/register"
    for defects in ALL_PROOF_NAMES:
        want = decode_unverified(build_proof(generate_key("EdDSA"), "POST", url, access_token="t", defects=defects, other_key=generate_key("EdDSA"))[0])[1]
        recipe = proof_recipe("EdDSA", "POST", run_url, defects=defects, other="B")
        keys = {"A": runtime["Key"]("EdDSA"), "B": runtime["Key"]("EdDSA")}
        got = decode_unverified(runtime["make_proofs"](recipe, keys, "POST", url, "t")[0])[1]
        assert got.get("htu") == want.get("htu"), defects


def test_a_recipe_holds_symbols_not_material():
    recipe = proof_recipe("ES256", "POST", URLS[0], defects=("jwk-private",))
    assert ["jwk", {"jwk": "A private"}] in recipe["header"]
    assert proof_recipe("EdDSA", "POST", URLS[0], defects=("alg-hs256",))["signer"] == {"hmac": ["A", "x"]}
    assert proof_recipe("EdDSA", "POST", URLS[0], defects=("alg-none",))["signer"] == "none"
    assert proof_recipe("EdDSA", "POST", URLS[0], defects=("signature-other-key",), other="B")["signer"] == "B"
    assert proof_recipe("EdDSA", "POST", URLS[0], defects=("signature-bad",))["flip_signature"] is True
    assert proof_recipe("EdDSA", "POST", URLS[0], defects=("two-headers",))["copies"] == 2
    claims = dict(map(tuple, [(n, json.dumps(s)) for n, s in proof_recipe("EdDSA", "POST", URLS[0], defects=("ath-wrong",))["claims"]]))
    assert claims["ath"] == json.dumps({"ath": "other"}) and claims["jti"] == json.dumps({"fresh": "uuid"})
    assert dict(proof_recipe("EdDSA", "POST", URLS[0], defects=("htu-port",))["claims"])["htu"] == {"htu": {"port": {"offset": 1}}}
    assert dict(proof_recipe("EdDSA", "POST", URLS[1], defects=("htu-scheme",))["claims"])["htu"] == {"htu": {"scheme": "swap", "port": "effective"}}


# --- representative scripts, run against the model with and without the breaking fault ------

# (mode, check id, faults that break it)
REPRODUCIBLE = [
    # DPoP proof defects and controls, at both endpoints
    ("required", "DPOP-4.3-htm@validate:bound:htm-wrong", ("skip-htm",)),
    ("required", "DPOP-4.3-htu@register:bound:htu-path", ("ignore-htu-path",)),
    ("optional", "DPOP-4.3-iat-old@register:bound:iat-old", ("skip-iat-old",)),
    ("required", "DPOP-4.3-single-header@validate:bound:two-headers", ("accept-two-headers",)),
    ("required", "DPOP-4.3-alg@register:bound:alg-none", ("accept-alg-none",)),
    ("optional", "JWS-7515-unknown-header@validate:bound:unknown-header", ("reject-unknown-header",)),
    # token kinds: mismatched, forged bound copy, forged legacy, target-issued unbound, expired, wrong phase
    ("required", "BIND-6-mismatch@validate:mismatched:valid", ("skip-binding-compare",)),
    ("required", "DPOP-4.3-htm@validate:bound:htm-wrong", ("temp-no-cnf", "skip-htm")),
    ("required", "BIND-6-unbound-proof-required@register:legacy:valid", ("accept-unbound-required",)),
    ("optional", "BIND-6-unbound-proof-optional@validate:unbound:valid", ("refuse-unbound-optional",)),
    ("optional", "TOKEN-6-invalid@validate:expired:valid", ("accept-expired",)),
    ("required", "TOKEN-6-wrong-phase@validate:wrong-phase:valid", ("accept-wrong-phase",)),
    ("disabled", "BIND-6-disabled-ignored@validate:unbound:htm-wrong", ("disabled-checks-proofs",)),
    # replay and the DPoP scheme
    ("required", "DPOP-11.1-replay@validate:bound:replay", ("accept-replay",)),
    ("optional", "BIND-7.1-dpop-scheme@register:bound:dpop-scheme", ("refuse-dpop-scheme",)),
    # problem details and challenges
    ("required", "PROB-7-content-type@validate:expired:valid", ("plain-json-errors",)),
    ("optional", "PROB-7-title@register:bound:htm-wrong", ("problem-wrong-title",)),
    ("disabled", "PROB-7-no-5xx@register:malformed:valid", ("500-on-garbage-token",)),
    ("required", "AUTH-9449-challenge-error@validate:bound:htm-wrong", ("challenge-wrong-error",)),
    ("optional", "AUTH-9449-algs@register:bound:none", ("challenge-no-algs",)),
    # issuance
    ("required", "ISS-6-cnf-jkt@phase1", ("temp-no-cnf",)),
    ("optional", "ISS-6-single-use@register", ("validated-reusable",)),
    ("optional", "ISS-6-defective-proof@phase1", ("skip-signature",)),
    ("required", "ISS-6-noproof-required@phase1", ("phase1-noproof-issued",)),
    ("optional", "ISS-6-binding-kept@validated", ("validated-no-cnf",)),
    ("required", "ISS-4-aud@access", ("access-no-aud",)),
    ("disabled", "ISS-4-token-type@access", ("access-no-token-type",)),
    ("required", "ISS-6-lifetime@temp", ("expires-in-wrong",)),
    ("disabled", "ISS-6-no-store@poll", ("no-cache-headers",)),
    ("optional", "ISS-5-token-type-dpop@phase1", ("token-type-bearer",)),
]


@pytest.mark.parametrize("mode, check_id, faults", REPRODUCIBLE, ids=[f"{c}[{'+'.join(f)}]" for _, c, f in REPRODUCIBLE])
def test_the_snippet_reproduces_the_fault_and_not_without_it(mode, check_id, faults, clean_model, tmp_path):
    model = start_model(mode, faults)
    session = session_for(model)
    try:
        check = check_by_id(mode, check_id)
        assert session.judge(check).outcome in (FAIL, WARN)
        text = python_snippet(session, check)
    except BaseException:
        session.close()
        model.close()
        raise
    path = tmp_path / "reproduce.py"
    path.write_text(text, encoding="utf-8")
    # The secret is passed only where the run forged the token, so every other script is shown
    # to need none.
    forged = f"{ENV_JWT_SECRET:38} the target's token signing secret (required" in text
    assert forged == (check.case is not None and (check.case.token in ("legacy", "expired") or "temp-no-cnf" in faults))
    clean = clean_model(mode)
    try:
        broken_run = start_snippet(path, env_for(model, jwt_secret=forged))
        clean_run = start_snippet(path, env_for(clean, jwt_secret=forged))  # the same script, pointed elsewhere
        session.close()  # meanwhile (its agent endpoint takes a while to stop)
        (broken_code, broken_out), (clean_code, clean_out) = finish(broken_run), finish(clean_run)
    finally:
        model.close()
    assert broken_code == EXIT_REPRODUCED, broken_out
    assert f"REPRODUCED: {check_id}" in broken_out
    assert clean_code == EXIT_NOT_REPRODUCED, clean_out
    assert f"not reproduced: {check_id}" in clean_out
    assert "look at:" in clean_out
    for secret in (model.config.agent_key, model.config.jwt_secret, clean.config.agent_key, clean.config.jwt_secret):
        assert secret not in broken_out + clean_out


def registered_agents(model) -> dict:
    return model._server.config.app.state.model.agents


def test_the_snippet_unregisters_what_it_registered(clean_model, judged_session, tmp_path):
    mode = "optional"
    model = clean_model(mode)
    session = judged_session(mode)
    before = dict(registered_agents(model))
    for check_id in ("BIND-6-bound-valid@register:bound:valid", "ISS-6-single-use@register", "ISS-6-no-store@register"):
        check = check_by_id(mode, check_id)
        assert session.judge(check).outcome == PASS
        path = tmp_path / "reproduce.py"
        path.write_text(python_snippet(session, check), encoding="utf-8")
        code, out = finish(start_snippet(path, env_for(model, jwt_secret=False)))
        assert code == EXIT_NOT_REPRODUCED, out
        assert "unregister: DELETE /agents/arcp-repro-" in out
        assert registered_agents(model) == before


def test_missing_settings_exit_2_with_a_clear_message(tmp_path):
    mode = "required"
    model = start_model(mode, ["accept-unbound-required"])
    session = session_for(model)
    try:
        legacy = check_by_id(mode, "BIND-6-unbound-proof-required@validate:legacy:valid")
        session.judge(legacy)
        path = tmp_path / "legacy.py"
        path.write_text(python_snippet(session, legacy), encoding="utf-8")
        code, out = finish(start_snippet(path, env_for(model, jwt_secret=False)))
        assert code == EXIT_MISSING_SETTING and f"set {ENV_JWT_SECRET}" in out, out
        code, out = finish(start_snippet(path, env_for(model, agent_key=False)))
        assert code == EXIT_MISSING_SETTING and f"set {ENV_AGENT_KEY}" in out, out
    finally:
        session.close()
        model.close()


def test_a_request_without_a_token_needs_no_agent_key(tmp_path):
    mode = "disabled"
    model = start_model(mode, ["missing-auth-403"])
    session = session_for(model)
    try:
        check = check_by_id(mode, "TOKEN-6-missing-auth@validate:missing:none")
        assert session.judge(check).outcome == FAIL
        path = tmp_path / "missing.py"
        path.write_text(python_snippet(session, check), encoding="utf-8")
        env = env_for(model, agent_key=False, jwt_secret=False)
        env[ENV_AGENT_ENDPOINT_HOST] = "127.0.0.1"
        code, out = finish(start_snippet(path, env))
        assert code == EXIT_REPRODUCED, out
        assert "> Authorization" not in out
    finally:
        session.close()
        model.close()


def test_the_judged_request_is_shown_with_fingerprints_only(clean_model, judged_session, tmp_path):
    mode = "required"
    model, session = clean_model(mode), judged_session(mode)
    check = check_by_id(mode, "BIND-6-type@register:bound:ath-wrong")
    path = tmp_path / "reproduce.py"
    path.write_text(python_snippet(session, check), encoding="utf-8")
    code, out = finish(start_snippet(path, env_for(model, jwt_secret=False)))
    assert code == EXIT_NOT_REPRODUCED, out
    assert re.search(r"> Authorization: Bearer <token sha256:[0-9a-f]{12}>", out)
    assert re.search(r"> DPoP: <proof sha256:[0-9a-f]{12}>", out)
    assert "< 401" in out and "< www-authenticate: DPoP" in out and "application/problem+json" in out
    assert not re.search(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.", out)  # no whole JWT printed
    shown = [json.loads(line.split(">     ", 1)[1]) for line in out.splitlines() if line.startswith(">     {")]
    assert shown and set(shown[-1]["claims"]) == {"jti", "htm", "htu", "iat", "ath"}  # the judged proof, decoded
    assert shown[-1]["header"]["jwk"]["x"].endswith("...")  # key material shortened


@pytest.mark.parametrize("changes", [
    {"sub": "admin"}, {"role": "Administrator"}, {"roles": ["user", "admin"]}, {"scope": "agents:read admin"},
    {"scopes": ["root"]}, {"is_admin": True}, {"is_superuser": "yes"}, {"agent_id": "someone-else"},
])
def test_a_reproducer_never_forges_an_administrator_or_a_foreign_agent(runtime, changes):
    import types

    import jwt

    run = types.SimpleNamespace(own_ids={"arcp-repro-a-1"}, secret="s" * 32)
    runtime["PLAN"]["forge_algorithm"] = "HS256"
    template = jwt.encode({"sub": "arcp-repro-a-1", "agent_id": "arcp-repro-a-1", "iat": 1, "exp": 301}, "s" * 32, algorithm="HS256")
    assert runtime["Run"].forge(run, template, sub="arcp-repro-a-1")  # its own agent: allowed
    with pytest.raises(runtime["Stop"], match="refusing to forge"):
        runtime["Run"].forge(run, template, **changes)

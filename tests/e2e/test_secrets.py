"""Secrets (issue 6, item 5): the agent key, the signing secret, the private keys the suite made
and every whole token the target issued or the suite sent never appear in any output (console,
HTML, JSON, JUnit, reproducers), against the model target and against the hostile target (which
also echoes the agent key back). Tokens are shown as their decoded header and claims plus a hash.
The secrets are learnt independently of the suite's own bookkeeping: the server side records the
tokens, a probe plugin in the suite's process records every key pair created. (conformance.wire.redact
on its own: tests/unit/test_redact.py.)"""
from __future__ import annotations

import json
import re

import pytest

from conformance.report import results
from conformance.wire import redact
from conformance.wire.exchange import Exchange
from support.hostile_target import _is_jws, read_probe, run_probed, shared_hostile_run

FAULTS = "model:required:accept-replay,skip-htm"  # failures, so console details and reproducers are written too
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_JWK_D = re.compile(r'"d"\s*:\s*"[A-Za-z0-9_-]{20,}"')


def secrets_of(probe: dict, agent_key: str, jwt_secret: str, tokens) -> dict[str, str]:
    found = {"agent key": agent_key, "JWT secret": jwt_secret}
    for i, key in enumerate(probe["private_keys"]):
        found[f"private key {i} (d)"] = key["d"]
        found[f"private key {i} (PEM)"] = key["pem"][:48]
    for token in tokens:
        if _is_jws(token):  # the suite's "not-a-jwt" malformed token is no secret
            found[f"token {redact.fingerprint(token)}"] = token
    return found


def leaks(outputs: dict[str, str], secrets: dict[str, str]) -> list[tuple[str, str]]:
    """(output, what) for each secret found in an output, and for any private JWK member, PEM
    private key or whole JWS at all."""
    found = []
    for where, text in outputs.items():
        found += [(where, name) for name, value in secrets.items() if value and value in text]
        if "PRIVATE KEY" in text or _JWK_D.search(text):
            found.append((where, "a private key"))
        found += [(where, f"a whole JWS {m[:24]}…") for m in _JWS.findall(text) if _is_jws(m)]
    return found


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    run = run_probed(tmp_path_factory.mktemp("model-run"), "--target-url", FAULTS, "--fuzz-examples", "5", "--stateful-examples", "2")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    return run


def test_no_secret_in_any_output_of_a_model_run(model_run):
    probe = read_probe(model_run)
    assert probe["agent_key"] and probe["jwt_secret"] and len(probe["private_keys"]) >= 2 and probe["issued"]
    secrets = secrets_of(probe, probe["agent_key"], probe["jwt_secret"], probe["issued"] + probe["received"])
    outputs = model_run.outputs()
    assert any(k.startswith("reports/reproducers/") for k in outputs)
    assert leaks(outputs, secrets) == []


def test_no_secret_in_any_output_of_a_hostile_run(tmp_path_factory):
    _, target, run = shared_hostile_run(tmp_path_factory)
    rec = target.recorder
    assert rec.issued and rec.received and read_probe(run)["private_keys"]
    secrets = secrets_of(read_probe(run), target.config.agent_key, target.config.jwt_secret, rec.issued | rec.received)
    assert leaks(run.outputs(), secrets) == []
    doc = json.loads((run.reports / "conformance.json").read_text(encoding="utf-8"))
    # its re-signed tokens are shown decoded, hostile claim included (the HTML escapes it)
    views = [v for c in doc["checks"] for ex in c["exchanges"] for k, v in ex["request_headers"] if k == "Authorization"]
    assert any('"hostile":"<script>' in v for v in views)


def test_the_scanner_finds_each_kind_of_planted_secret(model_run):
    probe = read_probe(model_run)
    secrets = secrets_of(probe, probe["agent_key"], probe["jwt_secret"], probe["issued"])
    token = probe["issued"][0]
    pem = "-----BEGIN PRIVATE KEY-----\n" + probe["private_keys"][0]["pem"] + "\n-----END PRIVATE KEY-----"
    for planted, what in [(probe["agent_key"], "agent key"), (probe["jwt_secret"], "JWT secret"),
                          (f'"d": "{probe["private_keys"][1]["d"]}"', "private key 1 (d)"), (pem, "private key 0 (PEM)"),
                          (token, f"token {redact.fingerprint(token)}")]:
        outputs = model_run.outputs()
        outputs["reports/conformance.html"] += planted
        assert ("reports/conformance.html", what) in leaks(outputs, secrets), what


def test_tokens_are_shown_as_decoded_header_and_claims_with_a_hash(model_run):
    doc = json.loads((model_run.reports / "conformance.json").read_text(encoding="utf-8"))
    check = next(c for c in doc["checks"] if c["id"] == "ISSUE-audience@access")
    auth = dict(check["exchanges"][0]["request_headers"])
    assert re.fullmatch(r'Bearer <token sha256:[0-9a-f]{12} header=\{"alg":"HS256".*\} claims=\{.*"aud":"arcp:register".*\}>', auth["Authorization"])
    assert re.match(r'<proof sha256:[0-9a-f]{12} header=\{.*"typ":"dpop\+jwt".*\} claims=\{.*"htm":"POST"', auth["DPoP"])
    private = next(c for c in doc["checks"] if c["id"].endswith("@validate:bound:jwk-private"))
    proof = dict(private["exchanges"][0]["request_headers"])["DPoP"]
    assert '"d":"<private key member removed>"' in proof
    html = (model_run.reports / "conformance.html").read_text(encoding="utf-8")
    assert "header={&#34;alg&#34;:&#34;HS256&#34;" in html  # escaped by Jinja2


def test_a_record_with_redaction_switched_off_leaks_and_the_scan_says_so(model_run, monkeypatch):
    """The deliberately leaking variant: the same record built with redaction off is caught."""
    probe = read_probe(model_run)
    token = probe["issued"][0]
    def exchange() -> Exchange:  # a fresh one each time: an exchange's record is made once and kept
        return Exchange("POST", "http://127.0.0.1:1/agents/register", [("Authorization", f"Bearer {token}")],
                        {"agent_key": probe["agent_key"]}, 400, [], json.dumps({"detail": f"bad key {probe['agent_key']}", "t": token}))
    secrets = secrets_of(probe, probe["agent_key"], probe["jwt_secret"], [token])
    assert leaks({"json": json.dumps(results.exchange_record(exchange()))}, secrets) == []
    monkeypatch.setattr(redact, "redact_text", lambda text, secrets=(): text)
    monkeypatch.setattr(redact, "token_view", lambda token, kind="jwt": token)
    leaked = {what for _, what in leaks({"json": json.dumps(results.exchange_record(exchange()))}, secrets)}
    assert {"agent key", f"token {redact.fingerprint(token)}"} <= leaked

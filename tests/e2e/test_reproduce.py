"""Reproducers (conformance.report.reproduce): every check that did not pass gets a secret-free
plan; a plan re-enacts its check with the package's own flows and judges, reproduces the fault
that broke it (exit 1) and finds nothing on the fault-free model (exit 0), through every judge;
and it prints what was sent and answered with tokens as fingerprints only."""
from __future__ import annotations

import io
import json
import re

import pytest

from conformance.dpop.proofs import own_key_of
from conformance.judging.case_judges import CASE_JUDGES
from conformance.judging.fuzz import FuzzRun, FuzzSettings
from conformance.judging.issuance_judges import ISSUANCE_JUDGES
from conformance.judging.judge_check import judge_check, known_checks
from conformance.judging.stateful.run import StatefulRun, StatefulSettings
from conformance.model_target import start_model
from conformance.model_target.faults import fault_options
from conformance.report import reproduce
from conformance.report.reproduce import EXIT_MISSING_SETTING, EXIT_NOT_REPRODUCED, EXIT_REPRODUCED, plan_for
from conformance.spec.checks import fixed_checks
from conformance.spec.vocabulary import FAIL, MODES, PASS, WARN
from conformance.wire.session import ENV, ConformanceSession, Settings


# --- helpers -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_model():
    """One fault-free model per mode, started on first use, shared by the module."""
    models = {}

    def get(mode, **options):
        """The fault-free model of `mode` with `options` (those a fault needs: fault_options)."""
        key = (mode, tuple(sorted(options.items())))
        if key not in models:
            models[key] = start_model(mode, **options)
        return models[key]

    yield get
    for model in models.values():
        model.close()


def session_for(model) -> ConformanceSession:
    cfg = model.config
    return ConformanceSession(Settings(target_url=model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode=cfg.mode,
                                                 keep_exchanges=True))


def environ_for(model, *, agent_key=True, jwt_secret=True) -> dict:
    env = {}
    if agent_key:
        env[ENV["agent_key"]] = model.config.agent_key
    if jwt_secret:
        env[ENV["jwt_secret"]] = model.config.jwt_secret
    return env


def check_by_id(mode: str, check_id: str):
    return next(c for c in known_checks(mode) if c.id == check_id)


EXPLORATIONS = {"fuzz": (FuzzRun, FuzzSettings()), "stateful": (StatefulRun, StatefulSettings(seed=5449))}


def judged_plan(session: ConformanceSession, check) -> tuple[str, dict]:
    """Judge `check` as the plugin does and write its plan, as if the run was given the http URL."""
    exploration = None
    if check.judge in EXPLORATIONS:
        run_type, settings = EXPLORATIONS[check.judge]
        exploration = run_type(session, settings)
        verdict, _ = exploration.verdict(check)
    else:
        verdict = judge_check(session, check)
    plan = plan_for(session, check, spec=session.client.base_url, seen=(verdict.outcome, verdict.message), exploration=exploration)
    return verdict.outcome, json.loads(reproduce.dumps(plan))


def run_plan(plan: dict, model, **environ_options) -> tuple[int, str]:
    out = io.StringIO()
    code = reproduce.reproduce(plan, target_url=model.url, environ=environ_for(model, **environ_options), out=out)
    return code, out.getvalue()


# --- every judge, through a reproducer: the fault reproduced, the fault-free model not ----------

# (mode, check id, the fault that breaks it): every judge at least once, and every token kind
REPRODUCIBLE = [
    # ensure_outcome: proof defects and controls, token kinds (mismatched, forged bound, forged legacy,
    # target-issued unbound, expired, wrong phase), replay and the DPoP scheme
    ("required", "PROOF-htm-mismatch@validate:bound:htm-wrong", ("skip-htm",)),
    ("required", "PROOF-htu-mismatch@register:bound:htu-path", ("ignore-htu-path",)),
    ("required", "PROOF-alg@register:bound:alg-none", ("accept-alg-none",)),
    # a proof by a key of its own, presented with a token forged bound to that key
    ("optional", "PROOF-jwk-fit@register:bound:jwk-rsa-for-ec", ("jwk-fit-not-checked",)),
    ("optional", "PROOF-unknown-header-ignored@validate:bound:unknown-header", ("reject-unknown-header",)),
    ("required", "BIND-mismatch@validate:mismatched:valid", ("skip-binding-compare",)),
    ("required", "PROOF-single-header@validate:bound:two-headers", ("temp-no-cnf", "accept-two-headers")),
    ("required", "BIND-unbound-proof-required@register:legacy:valid", ("accept-unbound-required",)),
    ("optional", "BIND-unbound-proof-optional@validate:unbound:valid", ("refuse-unbound-optional",)),
    ("optional", "TOKEN-invalid@validate:expired:valid", ("accept-expired",)),
    # tampered target-issued tokens, made afresh by the reproducer (no secret needed)
    ("optional", "TOKEN-alg-none@heartbeat:alg-none:valid", ("alg-none-token-accepted",)),
    ("disabled", "TOKEN-invalid@register:alg-hmac-other:valid", ("token-header-alg-ignored",)),
    ("required", "TOKEN-invalid@refresh:signature-other:valid", ("token-issued-signature-trusted",)),
    ("required", "TOKEN-invalid@validate:bad-signature:valid", ("token-signature-unchecked",)),
    ("required", "TOKEN-wrong-phase-refused@validate:wrong-phase:valid", ("accept-wrong-phase",)),
    ("disabled", "BIND-disabled-ignored@validate:unbound:htm-wrong", ("disabled-checks-proofs",)),
    ("required", "PROOF-replay@validate:bound:replay", ("accept-replay",)),
    ("optional", "BIND-dpop-scheme@register:bound:dpop-scheme", ("refuse-dpop-scheme",)),
    # the agent operations and refresh
    ("required", "BIND-bound-noproof@heartbeat:bound:none", ("operations-skip-dpop",)),
    ("optional", "PROOF-replay@metrics-get:bound:replay", ("operations-accept-replay",)),
    ("required", "BIND-mismatch@unregister:mismatched:valid", ("operations-skip-binding",)),
    ("required", "ISSUE-refresh-proof-required@refresh:mismatched:valid", ("refresh-without-proof",)),
    ("optional", "ISSUE-refresh-keeps-binding@refresh:bound:valid", ("refresh-drops-claims",)),
    ("disabled", "ISSUE-refresh-token-works@refresh:unbound:none", ("refresh-token-unusable",)),
    # the other case judges
    ("required", "BIND-problem-type@register:bad-signature:valid", ("wrong-problem-type",)),
    ("required", "TOKEN-wrong-phase-401@validate:wrong-phase:valid", ("wrong-phase-403",)),
    ("disabled", "PROBLEM-no-5xx@register:malformed:valid", ("500-on-garbage-token",)),
    ("required", "PROBLEM-content-type@validate:expired:valid", ("plain-json-errors",)),
    ("required", "PROBLEM-members@validate:bound:htm-wrong", ("problem-no-detail",)),
    ("optional", "PROBLEM-status-match@register:bound:none", ("problem-status-mismatch",)),
    ("optional", "PROBLEM-recommended@validate:missing:none", ("problem-no-request-id",)),
    ("optional", "PROBLEM-title@register:bound:htm-wrong", ("problem-wrong-title",)),
    ("disabled", "CHALLENGE-present@validate:expired:valid", ("no-www-authenticate",)),
    ("required", "CHALLENGE-dpop-scheme@register:bound:typ-wrong", ("bearer-challenge",)),
    ("optional", "CHALLENGE-algs@register:bound:none", ("challenge-no-algs",)),
    ("required", "CHALLENGE-error@validate:bound:htm-wrong", ("challenge-wrong-error",)),
    # the issuance judges
    ("required", "ISSUE-cnf-jkt@phase1", ("temp-no-cnf",)),
    ("optional", "ISSUE-token-type-dpop@phase1", ("token-type-bearer",)),
    ("optional", "ISSUE-defective-proof@phase1", ("phase1-accepts-bad-proof",)),
    ("required", "ISSUE-noproof-required@phase1", ("phase1-noproof-issued",)),
    ("optional", "ISSUE-binding-kept@validated", ("validated-no-cnf",)),
    ("required", "ISSUE-audience@access", ("access-no-aud",)),
    ("disabled", "ISSUE-token-type-claim@access", ("access-no-token-type",)),
    ("required", "ISSUE-lifetime@temp", ("expires-in-wrong",)),
    ("disabled", "ISSUE-no-store@poll", ("no-cache-headers",)),
    ("optional", "ISSUE-single-use@register", ("validated-reusable",)),
    ("required", "ISSUE-listed-alg-works@alg:ES256", ("listed-alg-refused",)),
    ("optional", "ISSUE-binding-from-proof@body:dpop_jkt-noproof", ("body-jkt-trusted",)),
    # the nonce checks (a model that gives DPoP-Nonce values: the faults switch the option on)
    ("required", "PROOF-nonce-missing@validate:bound:nonce-missing", ("nonce-not-checked",)),
    ("optional", "CHALLENGE-nonce@register:bound:nonce-unknown", ("nonce-refusal-bare",)),
    ("required", "PROOF-nonce-unknown@phase1:nonce-unknown", ("nonce-any-accepted",)),
    ("optional", "CHALLENGE-nonce@phase1:nonce-missing", ("nonce-refusal-bare",)),
    # proofs naming their key by reference: the key URL is a new one of the reproducer's own agent endpoint
    ("required", "PROOF-key-reference@heartbeat:bound:kid-instead", ("kid-lookup-accepted",)),
    ("optional", "PROOF-key-reference@validate:bound:jku-instead", ("jku-fetched",)),
    ("optional", "PROOF-key-url-not-fetched@register:bound:x5u-instead", ("jku-fetched",)),
    # malformed requests: raw bodies and junk Authorization headers, sent again as recorded
    ("disabled", "PROBLEM-malformed-refused@malformed:validate:not-json", ("500-on-malformed-json",)),
    ("required", "PROBLEM-no-5xx@malformed:phase1:text-plain", ("500-on-wrong-content-type",)),
    ("optional", "PROBLEM-malformed-refused@malformed:metrics-post:wrong-type", ("500-on-wrong-member-type",)),
    ("required", "PROBLEM-content-type@malformed:register:not-utf8", ("plain-text-malformed-error",)),
    ("optional", "BIND-problem-type@malformed:poll:auth-odd-chars", ("plain-text-junk-auth",)),
    ("disabled", "TOKEN-malformed-auth@malformed:refresh:auth-unknown-scheme", ("any-auth-scheme",)),
    # the searches: re-run with the same seed and budget
    ("required", "PROOF-replay@fuzz:validate", ("accept-replay",)),
    ("optional", "PROBLEM-malformed-refused@fuzz:validate", ("500-on-wrong-content-type",)),
    ("optional", "ISSUE-single-use@stateful", ("validated-reusable",)),
]


def test_every_judge_is_exercised_through_a_reproducer_here():
    judges = {check_by_id(mode, check_id).judge for mode, check_id, _ in REPRODUCIBLE}
    assert judges == set(CASE_JUDGES) | set(ISSUANCE_JUDGES) | set(EXPLORATIONS)


@pytest.mark.parametrize("mode, check_id, faults", REPRODUCIBLE, ids=[f"{c}[{'+'.join(f)}]" for _, c, f in REPRODUCIBLE])
def test_the_plan_reproduces_the_fault_and_not_without_it(mode, check_id, faults, clean_model):
    check = check_by_id(mode, check_id)
    with start_model(mode, faults) as model:
        session = session_for(model)
        try:
            outcome, plan = judged_plan(session, check)
        finally:
            session.close()
        assert outcome in (FAIL, WARN), plan["seen"]
        # the secret is asked for only where the run forged a token the verdict stands on
        forged = check.case is not None and (getattr(check.case, "token", None) in ("legacy", "expired") or "temp-no-cnf" in faults
                                             or own_key_of(getattr(check.case, "proof", "")) is not None)
        assert plan["needs"] == {"agent_key": True, "jwt_secret": forged}
        code, out = run_plan(plan, model, jwt_secret=forged)
    assert code == EXIT_REPRODUCED, out[-3000:]
    assert f"REPRODUCED: {check_id}" in out and "look at: " in out and "--- " in out
    if "@malformed:" in check_id:  # what the run sent of the malformed part, and the same variant sent again
        assert plan["sent"] and "the run sent: " in out
    clean = clean_model(mode, **fault_options(faults))  # without the fault, with the options it needs
    code, out_clean = run_plan(plan, clean, jwt_secret=forged)  # the same plan, pointed at a server without the fault
    assert code == EXIT_NOT_REPRODUCED, out_clean[-3000:]
    assert f"not reproduced: {check_id}: pass" in out_clean
    for secret in (model.config.agent_key, model.config.jwt_secret, clean.config.agent_key, clean.config.jwt_secret):
        assert secret not in out + out_clean


# --- plans hold no secret ----------------------------------------------------------------------

JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def secrets_of(session: ConformanceSession) -> set[str]:
    """Everything secret the run handled: its agent key and signing secret, its keys, and every
    token and proof its client sent or received."""
    found = {session.settings.agent_key, session.settings.jwt_secret}
    for key in (session.key_a, session.key_b):
        found |= {v for k, v in key.private_jwk.items() if k == "d"}
    for ex in session.client.exchanges:
        for name, value in ex.request_headers:
            if name.lower() in ("authorization", "dpop"):
                found.add(value.partition(" ")[2] if name.lower() == "authorization" else value)
        found |= set(JWT.findall(ex.body_text))
    found.discard("not-a-jwt")  # the malformed token of the situations: a fixed, public string
    return {s for s in found if s and len(s) >= 8}


@pytest.mark.parametrize("mode", MODES)
def test_every_check_gets_a_plan_without_secrets(mode, clean_model):
    session = session_for(clean_model(mode))
    try:
        plans = {}
        for check in fixed_checks(mode):
            verdict = judge_check(session, check)
            plans[check.id] = reproduce.dumps(plan_for(session, check, spec=session.client.base_url, seen=(verdict.outcome, verdict.message)))
        secrets = secrets_of(session)
    finally:
        session.close()
    assert len(secrets) > 20  # the run did handle tokens and proofs
    for check_id, text in plans.items():
        plan = json.loads(text)
        assert plan["check"] == check_id and plan["format"] == reproduce.FORMAT
        assert not JWT.search(text), check_id
        assert not [s for s in secrets if s in text], check_id
        assert plan["situation"] and plan["expected"] and plan["look_at"]


# --- settings, cleanup and the transcript -----------------------------------------------------

def test_missing_settings_exit_2_before_anything_is_sent(clean_model):
    mode = "required"
    with start_model(mode, ["accept-unbound-required"]) as model:
        session = session_for(model)
        try:
            _, plan = judged_plan(session, check_by_id(mode, "BIND-unbound-proof-required@validate:legacy:valid"))
        finally:
            session.close()
        assert plan["needs"]["jwt_secret"]
        code, out = run_plan(plan, model, jwt_secret=False)
        assert code == EXIT_MISSING_SETTING and f"set {ENV['jwt_secret']}" in out, out
        code, out = run_plan(plan, model, agent_key=False)
        assert code == EXIT_MISSING_SETTING and f"set {ENV['agent_key']}" in out, out
        assert "--- " not in out  # nothing was sent


def test_a_plan_of_another_version_is_refused_with_exit_2(clean_model):
    model = clean_model("optional")
    session = session_for(model)
    try:
        _, plan = judged_plan(session, check_by_id("optional", "ISSUE-audience@temp"))
    finally:
        session.close()
    plan["check"] = "NO-SUCH-REQUIREMENT@temp"
    code, out = run_plan(plan, model)
    assert code == EXIT_MISSING_SETTING and "has no check NO-SUCH-REQUIREMENT@temp" in out


def registered_agents(model) -> dict:
    return model._server.config.app.state.model.agents


def test_a_reproducer_unregisters_what_it_registered(clean_model):
    mode = "optional"
    model = clean_model(mode)
    before = dict(registered_agents(model))
    for check_id in ("BIND-bound-valid@register:bound:valid", "ISSUE-single-use@register", "ISSUE-no-store@register"):
        session = session_for(model)
        try:
            outcome, plan = judged_plan(session, check_by_id(mode, check_id))
        finally:
            session.close()
        assert outcome == PASS
        code, out = run_plan(plan, model, jwt_secret=False)
        assert code == EXIT_NOT_REPRODUCED, out[-2000:]
        assert re.search(r"> DELETE http://[^ ]+/agents/arcp-conf-", out)
        assert registered_agents(model) == before


def test_the_transcript_shows_tokens_and_proofs_as_fingerprints_and_decoded_claims(clean_model):
    mode = "required"
    model = clean_model(mode)
    session = session_for(model)
    try:
        _, plan = judged_plan(session, check_by_id(mode, "PROOF-jwk-private@register:bound:jwk-private"))
    finally:
        session.close()
    code, out = run_plan(plan, model, jwt_secret=False)
    assert code == EXIT_NOT_REPRODUCED, out[-2000:]
    judged = out.split("JUDGED", 1)[1].split("\n--- ", 1)[0]
    assert re.search(r"> Authorization: Bearer <token sha256:[0-9a-f]{12}>", judged)
    assert re.search(r"> DPoP: <proof sha256:[0-9a-f]{12}>", judged)
    header = json.loads(re.search(r">     header (\{.*\})", judged.split("> DPoP:", 1)[1])[1])
    claims = json.loads(re.search(r">     claims (\{.*\})", judged.split("> DPoP:", 1)[1])[1])
    assert set(claims) == {"jti", "htm", "htu", "iat", "ath"}
    assert header["jwk"]["d"] == "<private key member removed>"  # the jwk-private defect, shown without the key
    assert "< 401" in judged and "application/problem+json" in judged and "www-authenticate: DPoP" in judged
    assert '"agent_key": "<redacted>"' in out
    assert not JWT.search(out.replace("<jwt sha256", ""))  # no whole JWT anywhere

"""Reproducers: a check that did not pass, re-enacted against the target with the package's own code.

A recorded DPoP request cannot be replayed byte for byte: its proof has an iat, a jti and an ath
of its own. So for each check that did not pass, the run writes a plan next to its results
(reproducers/<check>.json, `plan_for`): the check, the target, its DPoP mode, the algorithm of
the run's keys, whether a token had to be forged, what the run saw, and in words the situation
and the expectation. A plan holds no secret, token or key. Run it with

    arcp-conformance reproduce reports/reproducers/<check>.json     (or python -m conformance reproduce ...)

It opens a fresh session against the target with the run's settings (secrets from the
environment), judges exactly that check with the flows, proof builder, token forging and judges
of the suite (fresh keys, iat, jti and ath), and prints every request and response, the
expectation and the verdict. A fuzz or state-machine check re-runs its search with the same seed
and budget, and shows its minimal example or sequence in full.

Exit status: 1 REPRODUCED (the check fails or warns again), 0 not reproduced (it passes, or does
not apply to what the target answered), 2 a setting is missing or the plan is unusable,
3 the situation could not be set up (inconclusive).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from ..dpop.proofs import CONTROLS, DEFECTS, own_key_of
from ..judging.exploration import ExplorationRun
from ..judging.judge_check import EXPLORATIONS, judge_check, known_checks, what_it_checks
from ..model_target.spec import SPEC_SCHEME
from ..spec.cases import BODY_BINDINGS, KEY_URL_PROOFS, NONCE_PROOFS, REFRESH
from ..spec.checks import ALG_SUBJECT, BODY_SUBJECT, KEY_URL_JUDGE, Check
from ..spec.requests import MalformedCase, expectation
from ..spec.vocabulary import FAIL, INCONCLUSIVE, INFO, WARN, graded
from ..wire.client import TargetError
from ..wire.exchange import Exchange
from ..wire.flows import OPERATION_REQUESTS, Endpoints
from ..wire.redact import printable, raw_text, redact_header
from ..wire.session import ENV, ConformanceSession, Settings
from . import transcript
from .results import tool_version

FORMAT = "arcp-conformance/reproducer-v1"
EXIT_NOT_REPRODUCED, EXIT_REPRODUCED, EXIT_MISSING_SETTING, EXIT_NOT_SET_UP = 0, 1, 2, 3
FULL_TRANSCRIPT = 40  # a run of more exchanges (a search's) shows the judged ones in full, the rest one line each
COMMAND = "arcp-conformance"

_TOKEN_TEXT = {
    "bound": "{a_phase} token bound to key A (cnf.jkt)",
    "unbound": "an unbound {phase} token (issued to a flow that sent no proof)",
    "legacy": "a legacy {phase} token (no cnf; forged with the signing secret)",
    "mismatched": "{a_phase} token bound to key A",
    "expired": "an expired {phase} token (forged with the signing secret)",
    "bad-signature": "{a_phase} token with an altered signature",
    "alg-none": "{a_phase} token the target issued, its header changed to alg none and its signature removed",
    "alg-hmac-other": "{a_phase} token the target issued, its header naming another HMAC size (HS256 -> HS384), its signature kept",
    "signature-other": "{a_phase} token the target issued, carrying the signature of another {phase} token it issued",
    "malformed": "a malformed token (not a JWT)",
    "missing": "no Authorization header",
    "wrong-phase": "a token of the wrong phase (the {other} token)",
}


class PlanError(ValueError):
    """The plan cannot be used (exit 2)."""


# --- writing a plan (during the run) ----------------------------------------------------------

def plan_name(check_id: str) -> str:
    """A file name for a check's plan: the id with : and @ made safe."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", check_id) + ".json"


def command(plan_path: Path | str) -> str:
    return shlex.join([COMMAND, "reproduce", str(plan_path)])


def env_prefix(reproducer: dict) -> str:
    """What a reader must set before running a reproducer's command (names, never values)."""
    names = reproducer.get("environment") or []
    return f"(with {', '.join(names)} set as for this run) " if names else ""


def dumps(plan: dict) -> str:
    return json.dumps(plan, indent=1, ensure_ascii=False) + "\n"


def plan_for(session: ConformanceSession, check: Check, *, spec: str, seen: tuple[str, str],
             exploration: ExplorationRun | None = None) -> dict:
    """The plan of `check` as `session` judged it: secret-free data. Sends nothing."""
    req = check.requirement
    model = spec.startswith(SPEC_SCHEME)
    client = session.client
    plan = {
        "format": FORMAT,
        "tool_version": tool_version(),
        "check": check.id,
        "requirement": req.id,
        "level": req.level,
        "statement": req.statement,
        "target": {"url": _public_url(client.base_url), "spec": spec if model else None},
        "dpop_mode": session.mode,
        "agent_type": session.agent_type,
        "agent_endpoint_host": session.settings.agent_endpoint_host,
        "proof_alg": session.key_a.alg,
        "limits": {"timeout": client.timeout, "retry_cap": client.retry_cap, "max_requests": client.max_requests,
                   "run_timeout": client.run_timeout},
        # the model brings its own key and secret; a server needs the agent key, and the signing
        # secret where the run forged a token this check's verdict stands on
        "needs": {"agent_key": not model, "jwt_secret": not model and _forged(session, check, exploration)},
        "situation": situation(check, session.mode, exploration),
        "expected": expected(check, session.mode),
        "look_at": what_it_checks(check),
        "seen": {"verdict": seen[0], "message": seen[1]},
    }
    if exploration is not None:
        plan["exploration"] = {"name": exploration.name, "settings": asdict(exploration.settings)}
    if isinstance(check.case, MalformedCase):
        plan["sent"] = malformed_sent(session, check.case)
    return plan


SENT_BODY = 2000  # characters of a malformed body kept in a plan


def malformed_sent(session: ConformanceSession, case: MalformedCase) -> dict | None:
    """What the run sent of a malformed request's malformed part: the Content-Type and raw body, or
    the Authorization header (a token in it as its view), secrets blanked. The reproducer sends the
    same variant again, around fresh identities, tokens and proofs."""
    result = session.recorded(case)
    ex = result.exchange if result is not None else None
    if ex is None:
        return None
    if case.junk_auth:
        value = next((v for k, v in ex.request_headers if k.lower() == "authorization"), None)
        return {"authorization": redact_header("Authorization", value) if value else value}
    raw = ex.request_raw
    return {"content_type": raw.content_type, "body": raw_text(raw.content, ex.request_secrets(), SENT_BODY), "bytes": len(raw.content)}


def _forged(session: ConformanceSession, check: Check, exploration: ExplorationRun | None) -> bool:
    if exploration is not None:
        return exploration.name == "fuzz" and session.bound_temp_forged()  # the fuzz run proves with the bound temp token
    if check.case is None:
        return False  # the main flow forges nothing
    cases = [check.case]
    if not expectation(check.case, session.mode).accept:
        cases += session.control_cases(check.case.endpoint)  # a refusal is judged with its positive control
    return any(result is not None and result.forged for result in map(session.recorded, cases))


def _public_url(url: str) -> str:
    """The run's target URL without userinfo (credentials are never written down)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")).rstrip("/")


def situation(check: Check, mode: str, exploration: ExplorationRun | None = None) -> str:
    if exploration is not None:
        s = exploration.settings
        if exploration.name == "fuzz":
            return (f"DPoP proofs and malformed request bodies fuzzed at phase 2 with the run's bound temp token: seed {s.seed}, "
                    f"{s.examples} examples after the fixed corpus")
        return f"the registration state machine: seed {s.seed}, {s.examples} examples of up to {s.steps} steps"
    case = check.case
    if case is None and check.subject.startswith(ALG_SUBJECT):
        alg = check.subject[len(ALG_SUBJECT):]
        return (f"a registration flow with every proof signed {alg} by a fresh key (phase 1, phase 2 validate and poll, "
                f"phase 3 register, unregister), beside the main flow proved by key A")
    if case is None and check.subject.startswith(BODY_SUBJECT):
        variant = check.subject[len(BODY_SUBJECT):]
        member, proven = BODY_BINDINGS[variant]
        proof = "a valid DPoP proof by key A" if proven else "no DPoP proof"
        return (f"phase 2 (validate_compliance) with the main flow's temp token, {proof} and a body whose {member} names "
                f"key B's thumbprint; then phase 3 (register) with the validated token it gave, and the same proof")
    if case is None:
        nonce = (", and where the target gives DPoP-Nonce values, phase 1 with a proof without the nonce and with one it never gave"
                 if check.subject.startswith("phase1:") else "")
        return f"the registration flow (phase 1 with a proof by key A, without a proof and with a badly signed proof; phases 2 and 3 with key A{nonce}), judged on {check.subject}"
    if isinstance(case, MalformedCase):
        return case.describe()
    method_path, phase, other = _endpoint_text(case.endpoint)
    a_phase = f"{'an' if phase[0] in 'aeiou' else 'a'} {phase}"
    token = _TOKEN_TEXT[case.token].format(phase=phase, a_phase=a_phase, other=other)
    if case.token == "bound" and own_key_of(case.proof) is not None:  # wire.session presents such a proof with a token bound to its own key
        token = f"{a_phase} token bound to the key the proof names (cnf.jkt; forged with the signing secret)"
    if case.token == "missing" or case.proof == "none":
        proof = "no DPoP proof"
    elif case.token == "mismatched":
        proof = "a valid DPoP proof by key B"
    elif case.proof in ("valid", "dpop-scheme"):
        proof = "a valid DPoP proof by key A"
    elif case.proof == "replay":
        proof = "a valid DPoP proof by key A, sent twice (the second use is judged)"
    elif case.proof in NONCE_PROOFS:
        proof = f"a DPoP proof by key A with {NONCE_PROOFS[case.proof][1]} ({case.proof})"
    else:
        kind = "odd but valid" if case.proof in CONTROLS else "defective"
        summary = {**DEFECTS, **CONTROLS}[case.proof].summary
        proof = f"a {kind} DPoP proof by {'a key of its own' if own_key_of(case.proof) else 'key A'} ({case.proof}: {summary})"
        if case.proof in KEY_URL_PROOFS:
            # the URL lives as long as its run's agent endpoint: a reproducer names a new one of its own
            proof += (", the URL one the suite's agent endpoint makes for this situation in each run "
                      "(the run's own URL no longer serves once the run ended; a reproducer serves and watches a new one)")
    scheme = "DPoP" if case.proof == "dpop-scheme" else "Bearer"
    auth = "" if case.token == "missing" else f", Authorization: {scheme}"
    return f"{method_path} with {token}{auth}, and {proof}"


def _endpoint_text(endpoint: str) -> tuple[str, str, str]:
    """(the request in words, the kind of token it takes, the kind its wrong-phase situation presents)."""
    if endpoint == "validate":
        return "POST phase 2 (validate_compliance)", "temp", "validated"
    if endpoint == "register":
        return "POST phase 3 (register)", "validated", "temp"
    if endpoint == REFRESH:
        return f"POST {Endpoints.refresh} (refresh)", "access", "temp"
    method, field_name, _ = OPERATION_REQUESTS[endpoint]
    return f"{method} {getattr(Endpoints, field_name)} ({endpoint} of an agent the suite registered)", "access", "temp"


def expected(check: Check, mode: str) -> str:
    if check.case is None or check.judge == KEY_URL_JUDGE:
        return f"{check.requirement.statement} [{check.requirement_id}]"
    exp = expectation(check.case, mode)
    if exp.accept:
        return f"accepted (2xx) [{exp.requirement}]"
    statuses = " or ".join(map(str, exp.statuses)) or "any 4xx"
    types = f", problem type {' or '.join(exp.types)}" if exp.types else " (a problem+json)"
    return f"refused with {statuses}{types} [{exp.requirement}]"


# --- running a plan ------------------------------------------------------------------------------

def load(path: Path) -> dict:
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file") from None
    except ValueError as exc:
        raise PlanError(f"{path}: not JSON ({exc})") from None
    if not isinstance(plan, dict) or plan.get("format") != FORMAT:
        raise PlanError(f'{path}: not a reproducer plan (expected "format": "{FORMAT}")')
    return plan


class _Stop(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def reproduce(plan: dict, *, target_url: str | None = None, environ: dict | None = None, out: TextIO | None = None) -> int:
    """Re-enact the plan's check against its target (or `target_url`); print the transcript and
    the verdict to `out`; return the exit status."""
    environ = os.environ if environ is None else environ
    out = out or sys.stdout

    def write(text: str = "") -> None:
        print(printable(text), file=out, flush=True)

    check_id = plan["check"]
    write(f"arcp-conformance reproducer: {check_id} ({plan['level']})")
    write(f"  requirement: {plan['statement']}")
    write(f"  situation:   {plan['situation']}")
    write(f"  expected:    {plan['expected']}")
    write(f"  the run saw: {plan['seen']['verdict']}: {plan['seen']['message']}")
    if plan.get("sent"):
        write(f"  the run sent: {json.dumps(plan['sent'], ensure_ascii=True)[:600]}")
    model = session = None
    try:
        settings, model = _settings(plan, target_url, environ)
        write(f"  target {settings.target_url}, DPoP mode {settings.dpop_mode}, proof keys {plan['proof_alg']}"
              + (" (the embedded model, started afresh)" if model else ""))
        write()
        try:
            session = ConformanceSession(settings)
        except TargetError as exc:
            raise _Stop(EXIT_NOT_SET_UP, str(exc)) from None
        check = next((c for c in known_checks(settings.dpop_mode) if c.id == check_id), None)
        if check is None:
            raise _Stop(EXIT_MISSING_SETTING, f"this version of arcp-conformance ({tool_version()}) has no check {check_id} "
                                              f"in DPoP mode {settings.dpop_mode}; the plan was written by {plan.get('tool_version')}")
        verdict, judged, labels = _judge(session, check, plan)
    except _Stop as stop:
        label = "missing setting" if stop.code == EXIT_MISSING_SETTING else "could not set up"
        write(f"{label}: {check_id}: {stop.message}")
        return stop.code
    finally:
        if session is not None:
            session.close()  # unregisters what it registered: the transcript shows that too
        if model is not None:
            model.close()
    _write_transcript(write, session.client.exchanges, judged, labels)
    outcome = graded(verdict.outcome, check.requirement.level)
    write()
    write(f"expected: {plan['expected']}")
    write(f"look at: {plan['look_at']}")
    if outcome in (FAIL, WARN, INFO):
        write(f"REPRODUCED: {check_id}: {outcome}: {verdict.message}")
        return EXIT_REPRODUCED
    if outcome == INCONCLUSIVE:
        write(f"could not set up: {check_id}: {verdict.message}")
        return EXIT_NOT_SET_UP
    write(f"not reproduced: {check_id}: {outcome}" + (f": {verdict.message}" if verdict.message else ""))
    return EXIT_NOT_REPRODUCED


def _settings(plan: dict, target_url: str | None, environ) -> tuple[Settings, object | None]:
    """The run's settings, with the secrets from the environment (or from a model started afresh)."""
    url = target_url or environ.get(ENV["target_url"])
    model = None
    spec = plan["target"].get("spec")
    if url is None and spec:
        from ..model_target import start_spec

        try:
            model = start_spec(spec)
        except ValueError as exc:
            raise _Stop(EXIT_MISSING_SETTING, f"the plan names the model {spec!r}: {exc}") from None
        url, agent_key, jwt_secret = model.url, model.config.agent_key, model.config.jwt_secret
    else:
        url = url or plan["target"]["url"]
        agent_key, jwt_secret = environ.get(ENV["agent_key"]), environ.get(ENV["jwt_secret"])
        if not agent_key:
            raise _Stop(EXIT_MISSING_SETTING, f"set {ENV['agent_key']} to a registration key the target accepts, as for the run")
        if plan["needs"].get("jwt_secret") and not jwt_secret:
            raise _Stop(EXIT_MISSING_SETTING, f"set {ENV['jwt_secret']} to the target's token signing secret: the run forged a token this check stands on")
    settings = Settings(
        target_url=url, agent_key=agent_key, agent_type=plan.get("agent_type"), dpop_mode=plan["dpop_mode"],
        jwt_secret=jwt_secret, agent_endpoint_host=environ.get(ENV["agent_endpoint_host"]) or plan.get("agent_endpoint_host") or "127.0.0.1",
        keep_exchanges=True,  # the transcript shows every exchange
        **plan.get("limits", {}),
    )
    return settings, model


def _judge(session: ConformanceSession, check: Check, plan: dict):
    """(verdict, the exchanges it stands on, labels for other exchanges by identity)."""
    if check.judge in EXPLORATIONS:
        spec = plan.get("exploration") or {}
        run_type = EXPLORATIONS[check.judge]
        run = run_type(session, run_type.settings_type(**spec.get("settings", {})))
        verdict, judged = run.verdict(check)
        return verdict, judged, {id(ex): "search" for ex in session.client.exchanges if ex not in judged}
    verdict = judge_check(session, check)
    labels = {}
    if check.case is not None:
        for case in session.control_cases(check.case.endpoint):
            result = session.recorded(case)
            if result is not None and result.exchange is not None and case != check.case:
                labels[id(result.exchange)] = f"positive control ({case.id})"
    return verdict, session.exchanges_for(check), labels


def _write_transcript(write, exchanges: list[Exchange], judged: list[Exchange], labels: dict[int, str]) -> None:
    judged_ids = {id(ex) for ex in judged}
    full = len(exchanges) <= FULL_TRANSCRIPT
    if not full:
        write(f"{len(exchanges)} requests: the judged ones in full, the others one line each")
    for n, ex in enumerate(exchanges, 1):
        title = f"{n}. " + ("JUDGED" if id(ex) in judged_ids else labels.get(id(ex), "setup"))
        write(transcript.render(ex, title) if full or id(ex) in judged_ids else transcript.summary_line(ex, title))


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=f"{COMMAND} reproduce", description="Re-enact a check from its reproducer plan and print what was sent and answered.")
    parser.add_argument("plan", type=Path, help="a plan the run wrote (reports/reproducers/<check>.json)")
    parser.add_argument("--target-url", help=f"send to this target instead of the plan's (default: {ENV['target_url']}, then the plan's)")
    args = parser.parse_args(argv)
    try:
        plan = load(args.plan)
    except PlanError as exc:
        print(f"{COMMAND} reproduce: {exc}", file=sys.stderr)
        return EXIT_MISSING_SETTING
    return reproduce(plan, target_url=args.target_url)

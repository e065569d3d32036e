"""Self-contained Python reproducers for failed checks (issue 4, item 3).

A recorded DPoP request cannot be replayed byte for byte (its proof has an iat, a jti and an
ath of its own), so for a failed check the report gives a standalone script instead:
`python_snippet(session, check)` returns the text of a Python 3.11 script that needs only the
standard library, httpx, PyJWT and cryptography. It redoes the situation the check judged from
scratch: fresh keys of the run's algorithm, its own agent ids and loopback agent endpoint, the
registration flow up to the token kind the situation needs (forged with the target's signing
secret where the run forged), then exactly the judged request with a freshly built proof that
has the same defect, and compares the response with the expectation.

The script embeds its situation as data (PLAN) in front of a generic runtime (_RUNTIME). Proof
recipes are not written by hand: `proof_recipe` runs the real proof builder
(conformance.proofs.proof_parts) on throwaway keys and marker values and translates what it
built into symbols ("key A public", "fresh uuid", "now - 600", "ath of the presented token",
"htu = the request URI with its port + 1", ...), so every defect and control the suite knows
is covered without a second implementation of each.

Nothing secret of the run is embedded: not its tokens, proofs, keys, agent key or signing
secret. The script reads them from the environment (ENV_* below).
"""
from __future__ import annotations

import copy
import json
import pprint
import uuid
from dataclasses import asdict
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..dpop.keys import KeyPair, access_token_hash, generate_key
from ..dpop.proofs import CONTROLS, DEFAULT_PORTS, DEFECTS, ProofParts, _split_netloc, htu_for, proof_parts
from ..dpop.tokens import jkt_of
from ..judging.case_judges import GATEWAY_EXEMPT
from ..judging.issuance_judges import AUDIENCES, LIFETIME_TOLERANCE
from ..judging.problems import PROBLEM_MEDIA_TYPE
from ..spec.cases import Case, expect
from ..spec.catalogue import problem_types
from ..spec.checks import Check
from ..wire.flows import Identity
from ..wire.session import PHASE1_DEFECT, ConformanceSession

ENV_TARGET_URL = "ARCP_CONFORMANCE_TARGET_URL"
ENV_AGENT_KEY = "ARCP_CONFORMANCE_AGENT_KEY"
ENV_JWT_SECRET = "ARCP_CONFORMANCE_JWT_SECRET"
ENV_AGENT_ENDPOINT_HOST = "ARCP_CONFORMANCE_AGENT_ENDPOINT_HOST"

EXIT_NOT_REPRODUCED, EXIT_REPRODUCED, EXIT_MISSING_SETTING, EXIT_NOT_SET_UP = 0, 1, 2, 3

# Checks python_snippet deliberately returns None for, by requirement id, with the reason.
# Empty: every check of checks.all_checks(mode), in every mode, has a reproducer. A judge this
# module does not know (a check added later) also gets None, and tests/test_reproduce.py fails
# until it is either supported here or listed here with its reason.
NOT_REPRODUCIBLE: dict[str, str] = {}


# What the script tells the reader to look at, per judge: the judges of checks.CASE_JUDGES and
# checks.ISSUANCE_JUDGES (keyed by requirement id) that the script's runtime knows how to judge.
LOOK_AT = {
    "outcome": "the status: acceptance (2xx) or the expected refusal",
    "problem_type": "the problem's type member",
    "wrong_phase_401": "the status (401) and the problem type (token-invalid)",
    "no_5xx": "the status: a client mistake must get a 4xx, not a 5xx",
    "content_type": "the Content-Type header (application/problem+json)",
    "members": "the problem members type (absolute URI), title, status, detail",
    "status_match": "the problem's status member against the HTTP status",
    "recommended": "the problem members instance (the request path), timestamp (RFC 3339), request_id",
    "title": "the problem's title against the catalogue title of its type",
    "www_authenticate": "the WWW-Authenticate header of the 401",
    "dpop_challenge": "the WWW-Authenticate header: a DPoP challenge",
    "algs": "the algs parameter of the DPoP challenge",
    "challenge_error": "the error parameter of the WWW-Authenticate challenge",
    "ISS-6-cnf-jkt": "cnf.jkt of the temp token against the proving key's thumbprint",
    "ISS-5-token-type-dpop": "the token_type member of the phase-1 response (DPoP for a bound token)",
    "ISS-6-defective-proof": "the phase-1 response to a badly signed proof",
    "ISS-6-noproof-required": "the phase-1 response to a request without a proof (401 dpop-required)",
    "ISS-6-binding-kept": "cnf.jkt of the token against the proving key's thumbprint",
    "ISS-4-aud": "the token's aud claim",
    "ISS-4-token-type": "the token's token_type claim",
    "ISS-6-lifetime": "expires_in against exp minus the response time (and exp - iat)",
    "ISS-6-no-store": "the Cache-Control (no-store) and Pragma (no-cache) headers",
    "ISS-6-single-use": "the second registration with the same validated token",
}

_TOKEN_TEXT = {
    "bound": "a {phase} token bound to key A (cnf.jkt)",
    "unbound": "an unbound {phase} token (issued to a flow that sent no proof)",
    "legacy": "a legacy {phase} token (no cnf; forged with the signing secret)",
    "mismatched": "a {phase} token bound to key A",
    "expired": "an expired {phase} token (forged with the signing secret)",
    "bad-signature": "a {phase} token with an altered signature",
    "malformed": "a malformed token (not a JWT)",
    "missing": "no Authorization header",
    "wrong-phase": "a token of the wrong phase (the {other} token)",
}


# --- proof recipes: the real builder's output, translated into symbols ------------------------

def proof_recipe(
    alg: str,
    method: str,
    url: str,
    *,
    signer: str = "A",
    defects: tuple[str, ...] = (),
    other: str | None = None,
    with_token: bool = True,
) -> dict:
    """The portable recipe of the proof `build_proof` makes for this request.

    `signer` and `other` are key labels ("A", "B"): the proof key and build_proof's other_key.
    The recipe names keys by label, claims by how to compute them afresh, and holds literals
    only for values that depend on nothing (typ, alg, crit, htm "PUT", ...).
    """
    return copy.deepcopy(_recipe(alg, method, url, signer, tuple(defects), other, with_token))


@lru_cache(maxsize=512)
def _recipe(alg: str, method: str, url: str, signer: str, defects: tuple[str, ...], other: str | None, with_token: bool) -> dict:
    keys = {"A": generate_key(alg), "B": generate_key(alg)}
    now, jti = 1_000_000_000, str(uuid.uuid4())
    token = f"arcp-conformance-marker-token-{uuid.uuid4().hex}" if with_token else None
    parts = proof_parts(
        keys[signer], method, url, access_token=token, defects=defects,
        other_key=keys[other] if other else None, now=now, jti=jti,
    )
    return translate_parts(parts, keys=keys, method=method, url=url, now=now, jti=jti, token=token)


def translate_parts(parts: ProofParts, *, keys: dict[str, KeyPair], method: str, url: str, now: int, jti: str, token: str | None) -> dict:
    """ProofParts built with `keys`, `now`, `jti` and `token` as a recipe of symbols."""
    markers = [jti, *([token] if token else [])]
    for key in keys.values():
        markers += [v for k, v in key.private_jwk.items() if k in ("x", "y", "d")]

    def literal(value: Any) -> dict:
        text = json.dumps(value)
        leaked = [m for m in markers if m in text]
        if leaked:
            raise ValueError(f"cannot translate {value!r}: it holds material of the build ({leaked[0][:8]}…)")
        return {"value": value}

    def jwk(value: Any) -> dict | None:
        for label, key in keys.items():
            if value == key.public_jwk:
                return {"jwk": f"{label} public"}
            if value == key.private_jwk:
                return {"jwk": f"{label} private"}
        return None

    header = [[name, jwk(value) or literal(value)] for name, value in parts.header.items()]
    claims = []
    for name, value in parts.claims.items():
        if value == jti:
            spec = {"fresh": "uuid"}
        elif name == "iat" and isinstance(value, int):
            spec = {"now": value - now}
        elif name == "htm" and value == method.upper():
            spec = {"request": "method"}
        elif name == "htu" and isinstance(value, str):
            spec = {"htu": htu_spec(url, value)}
        elif name == "ath" and token is not None:
            spec = {"ath": "presented" if value == access_token_hash(token) else "other"}
        else:
            spec = jwk(value) or literal(value)
        claims.append([name, spec])
    return {
        "header": header,
        "claims": claims,
        "signer": _signer(parts.signing_key, keys),
        "flip_signature": parts.break_signature,
        "copies": parts.copies,
    }


def _signer(signing_key: Any, keys: dict[str, KeyPair]) -> str | dict:
    if signing_key is None:
        return "none"
    for label, key in keys.items():
        if signing_key is key.private_key:
            return label
    if isinstance(signing_key, bytes):
        for label, key in keys.items():
            for member, value in key.public_jwk.items():
                if signing_key == value.encode("ascii"):
                    return {"hmac": [label, member]}
    raise ValueError("cannot translate the proof's signing key into a recipe")


def htu_spec(url: str, htu: str) -> str | dict:
    """How `htu` differs from the request URI `url`, component by component, so that the script
    can make the same difference to another target URL: "request" when they are equal."""
    request = htu_for(url)
    if htu == request:
        return "request"
    base, got = urlsplit(request), urlsplit(htu)
    r_user, r_host, r_port = _split_netloc(base.netloc)
    g_user, g_host, g_port = _split_netloc(got.netloc)
    if g_user != r_user:
        raise ValueError(f"cannot describe htu {htu!r}: its userinfo differs")
    spec: dict[str, Any] = {}
    r_scheme, g_scheme = request.partition(":")[0], htu.partition(":")[0]  # urlsplit lower-cases them
    if g_scheme != r_scheme:
        if g_scheme == r_scheme.upper():
            spec["scheme"] = "upper"
        elif {g_scheme, r_scheme.lower()} == {"http", "https"}:
            spec["scheme"] = "swap"
        else:
            spec["scheme"] = {"value": g_scheme}
    if g_host != r_host:
        spec["host"] = {"value": g_host}
    if g_port != r_port:
        effective = r_port or str(DEFAULT_PORTS.get(base.scheme.lower(), ""))
        if g_port == effective:
            spec["port"] = "effective"
        elif r_port.isdigit() and g_port.isdigit():
            spec["port"] = {"offset": int(g_port) - int(r_port)}
        else:
            spec["port"] = {"value": g_port}
    if got.path != base.path:
        stem = base.path or "/"
        if got.path.startswith(stem):
            spec["path"] = {"suffix": got.path[len(stem):]}
        else:
            spec["path"] = {"value": got.path, "run_path": base.path}
    if got.query:
        spec["query"] = {"value": got.query}
    if got.fragment:
        spec["fragment"] = {"value": got.fragment}
    return spec


# --- the plan of one check ---------------------------------------------------------------------

def python_snippet(session: ConformanceSession, check: Check) -> str | None:
    """A standalone Python script reproducing the situation `check` judged, or None (see
    NOT_REPRODUCIBLE). Sends nothing itself, except that a session in auto mode that has not
    detected its mode yet detects it now."""
    if check.requirement_id in NOT_REPRODUCIBLE or check.judge not in LOOK_AT:
        return None  # LOOK_AT lacks a judge added after this module: see NOT_REPRODUCIBLE
    mode = session.mode or session.resolve_mode()
    plan = _plan(session, check, mode)
    return _render(session, check, mode, plan)


def _plan(session: ConformanceSession, check: Check, mode: str) -> dict:
    alg = session.key_a.alg
    req = check.requirement
    placeholder = Identity("{agent_id}", session.agent_type, "{endpoint}")
    types = problem_types()
    any_type = next(iter(types.values()))
    plan: dict[str, Any] = {
        "check": check.id,
        "requirement": req.id,
        "level": req.level,
        "judge": check.judge,
        "look_at": LOOK_AT[check.judge],
        "mode": mode,
        "alg": alg,
        "target_url": _public_url(session.client.base_url),
        "agent_type": session.agent_type,
        "endpoints": asdict(session.endpoints),
        "bodies": {
            "validate": session.flows.phase2_body(placeholder),
            "register": session.flows.registration_body(placeholder),
        },
        # A valid proof by A, as the flows send it (ath only where a token is presented).
        "valid_proof": proof_recipe(alg, "POST", session.client.url(session.endpoints.register)),
        "forge_algorithm": session.forger.algorithm if session.forger else "HS256",
        "problem_base": any_type.uri[: -len(any_type.slug)],
        "problem_media_type": PROBLEM_MEDIA_TYPE,
        "needs": {"agent_key": True, "jwt_secret": False},
    }
    if check.case is None:
        plan["issuance"] = _issuance_plan(session, check, alg)
        return plan
    case = check.case
    exp = expect(case, mode)
    path = getattr(session.endpoints, case.endpoint)
    proof, scheme = session.proof_for(case)  # the very choice the run made for this case
    labels = {id(session.key_a): "A", id(session.key_b): "B"}
    recipe = None
    if proof.key is not None:
        recipe = proof_recipe(
            alg, "POST", session.client.url(path),
            signer=labels[id(proof.key)],
            defects=tuple(proof.defects),
            other=labels[id(proof.other_key)] if proof.other_key is not None else None,
            with_token=case.token != "missing",
        )
    plan["case"] = {
        "id": case.id,
        "endpoint": case.endpoint,
        "token": case.token,
        "proof_name": case.proof,
        "proof": recipe,
        "scheme": scheme,
        "send_twice": case.proof == "replay",  # judged: the second use (session._run_case)
        "expect": {
            "requirement": exp.requirement,
            "accept": exp.accept,
            "statuses": list(exp.statuses),
            "types": list(exp.types),
            "challenge_errors": None if exp.challenge_errors is None else list(exp.challenge_errors),
        },
    }
    plan["needs"] = {
        "agent_key": case.token not in ("missing", "malformed"),
        "jwt_secret": _run_forged(session, case),
    }
    if check.judge == "title":
        plan["problem_titles"] = {slug: t.title for slug, t in types.items()}
    if check.judge == "no_5xx":
        plan["gateway_exempt"] = list(GATEWAY_EXEMPT)
    return plan


def _issuance_plan(session: ConformanceSession, check: Check, alg: str) -> dict:
    out: dict[str, Any] = {"subject": check.subject}
    if check.judge == "ISS-6-defective-proof":
        url = session.client.url(session.endpoints.token)
        out["defective_proof"] = proof_recipe(alg, "POST", url, defects=(PHASE1_DEFECT,), with_token=False)
    if check.judge == "ISS-4-aud":
        out["audience"] = AUDIENCES[check.subject]
    if check.judge == "ISS-6-lifetime":
        out["tolerance"] = LIFETIME_TOLERANCE
    return out


def _run_forged(session: ConformanceSession, case: Case) -> bool:
    """Did the run forge this case's token (so the script needs the signing secret up front)?
    Bound kinds are forged only when the target issued no token bound to key A; where the run
    has not got that far the script decides at run time, as the session does."""
    if case.token in ("expired", "legacy"):
        return True
    if case.token in ("bound", "mismatched"):
        issued = session.state.validated_a if case.endpoint == "register" else session.state.temp_a
        return issued is not None and jkt_of(issued) != session.key_a.thumbprint
    return False


def _public_url(url: str) -> str:
    """The run's target URL without userinfo (credentials are never embedded)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


# --- rendering ---------------------------------------------------------------------------------

def _render(session: ConformanceSession, check: Check, mode: str, plan: dict) -> str:
    req = check.requirement
    lines = [
        f"Reproducer for the arcp-conformance check {check.id}.",
        "",
        f"Requirement: {req.id} ({req.level}, {req.section})",
        f"  {req.statement}",
        f"Source: {req.source}",
        f"DPoP mode: {mode}; proof algorithm: {plan['alg']}",
    ]
    if check.case is not None:
        case = plan["case"]
        lines += [f"Situation: {check.case.id}: {_situation(check.case, case)}", f"Expected: {_expected(case['expect'])}"]
    else:
        lines += [f"Situation: the registration flow up to {check.subject}, with a fresh key A"]
    lines += [f"Judged: {plan['look_at']}", ""]
    lines += [
        "It redoes the situation from scratch, with its own fresh keys and agent ids and fresh",
        "DPoP proofs (new iat, jti and ath: a recorded DPoP request cannot be replayed), then",
        "compares the response with the expectation. It sends only to the target, serves its own",
        "agent endpoint on a loopback port when phase 2 needs one, and unregisters what it registered.",
        "",
        "Settings (environment variables; nothing secret is stored in this file):",
        f"  {ENV_TARGET_URL:38} the target's base URL (default {plan['target_url']})",
        f"  {ENV_AGENT_KEY:38} " + ("the registration agent key (required)" if plan["needs"]["agent_key"] else "not needed"),
        f"  {ENV_JWT_SECRET:38} " + (
            "the target's token signing secret (required: the run forged this token)" if plan["needs"]["jwt_secret"]
            else "the target's token signing secret (asked for only if a token must be forged)"
        ),
        f"  {ENV_AGENT_ENDPOINT_HOST:38} the address the target reaches this machine at (default 127.0.0.1)",
    ]
    if session.settings.agent_endpoint_host != "127.0.0.1":
        lines.append(f"  (the run used {session.settings.agent_endpoint_host})")
    lines += [
        "",
        "Exit status: 1 REPRODUCED (the response breaks the expectation), 0 not reproduced,",
        "2 a needed setting is missing, 3 the situation could not be set up (inconclusive).",
        "Needs Python 3.11+ with httpx, PyJWT and cryptography: pip install httpx 'PyJWT[crypto]'",
        "Generated by arcp-conformance.",
    ]
    doc = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    plan_text = pprint.pformat(plan, width=100, sort_dicts=False)
    return (
        "#!/usr/bin/env python3\n"
        f'"""{doc}\n"""\n'
        f"{_IMPORTS}\n"
        "# The situation, as data. Key labels: A is the proving key, B another key of the same\n"
        "# algorithm; both are generated afresh by this script.\n"
        f"PLAN = {plan_text}\n"
        f"{_RUNTIME}"
    )


def _situation(case: Case, plan_case: dict) -> str:
    phase, other = ("temp", "validated") if case.endpoint == "validate" else ("validated", "temp")
    method_path = "POST phase 2 (validate_compliance)" if case.endpoint == "validate" else "POST phase 3 (register)"
    token = _TOKEN_TEXT[case.token].format(phase=phase, other=other)
    scheme = plan_case["scheme"]
    if case.token == "missing" or case.proof == "none":
        proof = "no DPoP proof"
    elif case.token == "mismatched":
        proof = "a valid DPoP proof by key B"
    elif case.proof == "valid":
        proof = "a valid DPoP proof by key A"
    elif case.proof == "replay":
        proof = "a valid DPoP proof by key A, sent twice (the second use is judged)"
    elif case.proof == "dpop-scheme":
        proof = "a valid DPoP proof by key A"
    else:
        kind = "odd but valid" if case.proof in CONTROLS else "defective"
        summary = {**DEFECTS, **CONTROLS}[case.proof].summary
        proof = f"a {kind} DPoP proof by key A ({case.proof}: {summary})"
    auth = "" if case.token == "missing" else f", Authorization: {scheme}"
    return f"{method_path} with {token}{auth}, and {proof}"


def _expected(exp: dict) -> str:
    if exp["accept"]:
        return f"accepted (2xx) [{exp['requirement']}]"
    statuses = " or ".join(map(str, exp["statuses"])) or "any 4xx"
    types = " or ".join(exp["types"]) or "any type"
    return f"refused with {statuses}, problem type {types} [{exp['requirement']}]"


_IMPORTS = '''
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import threading
import time
import uuid
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
'''

# The generic part of every script: it reads PLAN, and imports only what _IMPORTS names.
_RUNTIME = r'''

# --- everything below is the same in every reproducer --------------------------------------

TIMEOUT = 10.0  # seconds, every request
RETRY_AFTER_CAP = 30.0  # seconds waited in all for Retry-After on 429/503, per request
POLL_DEADLINE = 30.0
EXIT_NOT_REPRODUCED, EXIT_REPRODUCED, EXIT_MISSING_SETTING, EXIT_NOT_SET_UP = 0, 1, 2, 3
ENV_TARGET_URL = "ARCP_CONFORMANCE_TARGET_URL"
ENV_AGENT_KEY = "ARCP_CONFORMANCE_AGENT_KEY"
ENV_JWT_SECRET = "ARCP_CONFORMANCE_JWT_SECRET"
ENV_AGENT_ENDPOINT_HOST = "ARCP_CONFORMANCE_AGENT_ENDPOINT_HOST"
DEFAULT_PORTS = {"http": 80, "https": 443}
REQUIRED_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
ADMIN_MARKERS = ("admin", "root", "superuser", "operator")
ADMIN_NAMING = ("sub", "agent_id", "user_id", "username", "preferred_username", "name", "email",
                "role", "roles", "scope", "scopes", "groups", "permissions", "user_type")
ADMIN_FLAGS = ("is_admin", "admin", "is_superuser", "superuser", "is_staff")
SHOWN_HEADERS = ("content-type", "www-authenticate", "cache-control", "pragma", "retry-after", "location", "dpop-nonce")
ABSENT = object()

warnings.filterwarnings("ignore", message="The HMAC key is")  # a short signing secret is the target's business


class Stop(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(secret):
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def redact(text):
    return JWT_SHAPE.sub(lambda m: f"<jwt {fingerprint(m.group(0))}>", text)


# --- keys, tokens and proofs

class Key:
    """A fresh proof key of the run's algorithm (or the given cryptography private key)."""

    def __init__(self, alg, private_key=None):
        if alg == "EdDSA":
            algorithm, self.private_key = OKPAlgorithm, private_key or Ed25519PrivateKey.generate()
        elif alg == "ES256":
            algorithm, self.private_key = ECAlgorithm, private_key or ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported proof algorithm {alg!r}")
        self.alg = alg
        public = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        self.public_jwk = {name: public[name] for name in REQUIRED_MEMBERS[public["kty"]]}
        self.private_jwk = algorithm.to_jwk(self.private_key, as_dict=True)
        text = json.dumps(self.public_jwk, sort_keys=True, separators=(",", ":"))
        self.thumbprint = b64url(hashlib.sha256(text.encode()).digest())  # RFC 7638


def token_hash(token):
    """The DPoP ath of a token: base64url(SHA-256(token)), no padding."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def claims_of(token):
    """A token's claims, unverified; None when it is not a JWT."""
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False,
                                            "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def jkt_of(token):
    cnf = (claims_of(token) or {}).get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


def flip_token_signature(token):
    head, _, sig = token.rpartition(".")
    return f"{head}.{('A' if sig[:1] != 'A' else 'B') + sig[1:]}"


def make_proofs(recipe, keys, method, url, token, now=None, jti=None):
    """The DPoP header values a recipe (see PLAN) gives for this request: fresh iat and jti,
    ath of the presented token, the recipe's defect. `keys` maps labels ("A", "B") to Keys."""
    now = int(time.time()) if now is None else int(now)
    header = {name: resolve(spec, keys, method, url, token, now, jti) for name, spec in recipe["header"]}
    claims = {}
    for name, spec in recipe["claims"]:
        value = resolve(spec, keys, method, url, token, now, jti)
        if value is not ABSENT:
            claims[name] = value
    signer = recipe["signer"]
    if signer == "none":
        signing_key = None
    elif isinstance(signer, dict):  # HMAC keyed with a member of a public jwk (key confusion)
        label, member = signer["hmac"]
        signing_key = keys[label].public_jwk[member].encode("ascii")
    else:
        signing_key = keys[signer].private_key
    proofs = [encode_proof(header, claims, signing_key, recipe["flip_signature"])]
    for _ in range(recipe["copies"] - 1):
        copy = dict(claims)
        if "jti" in copy:
            copy["jti"] = str(uuid.uuid4())  # each header a proof of its own
        proofs.append(encode_proof(header, copy, signing_key, recipe["flip_signature"]))
    return proofs


def resolve(spec, keys, method, url, token, now, jti):
    (kind, arg), = spec.items()
    if kind == "value":
        return json.loads(json.dumps(arg))
    if kind == "jwk":  # "A public", "A private", ...
        label, part = arg.split()
        return dict(getattr(keys[label], f"{part}_jwk"))
    if kind == "fresh":
        return jti if jti is not None else str(uuid.uuid4())
    if kind == "now":
        return now + arg
    if kind == "request":
        return method.upper()
    if kind == "htu":
        return htu_from(arg, url)
    if kind == "ath":
        if token is None:
            return ABSENT
        return token_hash(token) if arg == "presented" else token_hash("other-" + token)
    raise ValueError(f"unknown recipe item {spec!r}")


def encode_proof(header, claims, signing_key, flip):
    headers = dict(header)
    headers.setdefault("typ", None)  # PyJWT adds typ JWT unless told None, which leaves it out
    proof = jwt.encode(claims, signing_key, algorithm=headers["alg"], headers=headers)
    if flip:
        signing_input, _, signature = proof.rpartition(".")
        altered = bytes(b ^ 0x01 for b in b64url_decode(signature))  # same length, all wrong
        proof = f"{signing_input}.{b64url(altered)}"
    return proof


def split_netloc(netloc):
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon or "]" in port:
        host, port = hostport, ""
    return userinfo + at, host, port


def htu_from(spec, url):
    """The htu a recipe names for a request to `url`: "request" = the URL without query and
    fragment; otherwise that URL with the listed components changed as the run changed them."""
    parts = urlsplit(url)
    if spec == "request":
        return urlunsplit(parts._replace(query="", fragment=""))
    userinfo, host, port = split_netloc(parts.netloc)
    scheme, path = parts.scheme, parts.path
    effective = port or str(DEFAULT_PORTS.get(scheme.lower(), ""))
    if "scheme" in spec:
        change = spec["scheme"]
        if change == "upper":
            scheme = scheme.upper()
        elif change == "swap":
            scheme = "https" if scheme.lower() == "http" else "http"
        else:
            scheme = change["value"]
    if "host" in spec:
        host = spec["host"]["value"]
    if "port" in spec:
        change = spec["port"]
        if change == "effective":
            port = effective
        elif "offset" in change:
            moved = int(effective) + change["offset"]
            port = str(moved if 0 < moved < 65536 else int(effective) - change["offset"])
        else:
            port = change["value"] if change["value"] != effective else str(int(effective) + 1)
    if "path" in spec:
        change = spec["path"]
        if "suffix" in change:
            path = (path or "/") + change["suffix"]
        else:
            if path != change["run_path"]:
                print(f"note: the recipe's htu path was made for {change['run_path']}, this request goes to {path}")
            path = change["value"]
    query = spec.get("query", {}).get("value", "")
    fragment = spec.get("fragment", {}).get("value", "")
    return urlunsplit((scheme, userinfo + host + (f":{port}" if port else ""), path, query, fragment))


# --- WWW-Authenticate (RFC 9110 §11.6.1), parsed just enough to judge

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'({_TOKEN})\s*=\s*({_TOKEN}|"(?:[^"\\]|\\.)*")')
_SCHEME = re.compile(rf"({_TOKEN})(?:\s+([A-Za-z0-9\-._~+/]+=*)(?=\s*(?:,|$)))?")


def challenges_of(values):
    """[(scheme, {param: value})] of WWW-Authenticate field values."""
    out = []
    for text in values:
        pos, current = 0, None
        while pos < len(text):
            pos = re.compile(r"[\s,]*").match(text, pos).end()
            if pos >= len(text):
                break
            param = _PARAM.match(text, pos)
            if current is not None and param:
                raw = param.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                current[1][param.group(1).lower()] = raw
                pos = param.end()
                continue
            scheme = _SCHEME.match(text, pos)
            if not scheme:
                break
            current = (scheme.group(1), {})
            out.append(current)
            pos = scheme.end()
    return out


# --- the wire

class Sent:
    """One request and its response."""

    def __init__(self, method, url, headers, body, response):
        self.method, self.url, self.headers, self.body = method, url, headers, body
        self.status = response.status_code
        self.response_headers = list(response.headers.multi_items())
        self.text = response.text
        self.received_at = time.time()

    @property
    def ok(self):
        return 200 <= self.status < 300

    def header(self, name):
        values = self.header_values(name)
        return ", ".join(values) if values else None

    def header_values(self, name):
        return [v for k, v in self.response_headers if k.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def member(self, name):
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def slug(self):
        ptype = self.member("type")
        base = PLAN["problem_base"]
        return ptype[len(base):] if isinstance(ptype, str) and ptype.startswith(base) else None

    def summary(self):
        ptype = self.member("type")
        return f"{self.method} {urlsplit(self.url).path} -> {self.status}" + (f" type={ptype}" if isinstance(ptype, str) else "")


def shown_header(name, value):
    if name.lower() == "authorization":
        scheme, _, token = value.partition(" ")
        return f"{scheme} <token {fingerprint(token)}>" if token else "<credentials>"
    if name.lower() == "dpop":
        return f"<proof {fingerprint(value)}>"
    return value


def show(sent, title):
    """Print a request and its response, tokens and proofs reduced to fingerprints."""
    print(f"\n--- {title}")
    print(f"> {sent.method} {sent.url}")
    for name, value in sent.headers:
        print(f"> {name}: {shown_header(name, value)}")
        if name.lower() == "dpop":
            try:
                head, claims, _ = value.split(".")
                shown = {"header": json.loads(b64url_decode(head)), "claims": json.loads(b64url_decode(claims))}
                jwk = shown["header"].get("jwk")
                if isinstance(jwk, dict):
                    shown["header"]["jwk"] = {k: (v[:10] + "..." if k in ("x", "y", "d") else v) for k, v in jwk.items()}
                print(f">     {json.dumps(shown)}")
            except ValueError:
                pass
    if sent.body is not None:
        body = dict(sent.body)
        if "agent_key" in body:
            body["agent_key"] = f"<{ENV_AGENT_KEY}>"
        print(f"> {json.dumps(body)}")
    print(f"< {sent.status}")
    for name, value in sent.response_headers:
        if name.lower() in SHOWN_HEADERS:
            print(f"< {name}: {value}")
    text = redact(sent.text)
    print("< " + (text[:2000] + " ...(cut)" if len(text) > 2000 else text))


def step(sent, what):
    print(f"    {what}: {sent.summary()}")


def retry_after(response):
    value = response.headers.get("retry-after")
    if value is None:
        try:
            body = response.json()
        except ValueError:
            body = None
        member = body.get("retry_after") if isinstance(body, dict) else None
        value = str(member) if isinstance(member, (int, float)) else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Target:
    def __init__(self, base_url):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Stop(EXIT_MISSING_SETTING, f"{ENV_TARGET_URL} must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def url(self, path):
        if path.startswith(("http://", "https://")):
            return path
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def same_origin(self, url):
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def send(self, method, path, build_headers, body=None):
        """Send once; on 429/503 wait as Retry-After says (up to RETRY_AFTER_CAP in all) and
        send again with headers built afresh (a new proof)."""
        url = self.url(path)
        if not self.same_origin(url):
            raise Stop(EXIT_NOT_SET_UP, f"refusing to send to {url}: not the target {self.base_url}")
        waited = 0.0
        while True:
            headers = build_headers(url)
            send_headers = list(headers)
            content = None
            if body is not None:
                content = json.dumps(body).encode()
                send_headers.append(("Content-Type", "application/json"))
            try:
                response = self.http.request(method, url, headers=send_headers, content=content)
            except httpx.HTTPError as exc:
                raise Stop(EXIT_NOT_SET_UP, f"no response to {method} {url}: {type(exc).__name__}: {exc}") from None
            delay = retry_after(response)
            if response.status_code in (429, 503) and delay is not None and waited + delay <= RETRY_AFTER_CAP:
                print(f"    {response.status_code} from {method} {urlsplit(url).path}: waiting {delay:g} s (Retry-After)")
                time.sleep(delay)
                waited += delay
                continue
            return Sent(method, url, headers, body, response)

    def close(self):
        self.http.close()


class AgentEndpoint:
    """The agent endpoint phase 2 checks: GET /{agent_id}/health of this script's agents."""

    def __init__(self, host):
        self.host = host
        self.agent_ids = set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if len(parts) == 2 and parts[1] == "health" and parts[0] in endpoint.agent_ids:
                    self.reply(200, {"status": "healthy", "agent_id": parts[0]})
                else:
                    self.reply(404, {"status": "unknown agent"})

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        try:
            self.server = ThreadingHTTPServer((host, 0), Handler)
        except OSError as exc:
            raise Stop(EXIT_NOT_SET_UP, f"cannot serve the agent endpoint on {host} ({exc}): set {ENV_AGENT_ENDPOINT_HOST}") from None
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url_for(self, agent_id):
        self.agent_ids.add(agent_id)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.server.server_address[1]}/{agent_id}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- the flow (profile §3)

class Run:
    def __init__(self):
        self.base_url = os.environ.get(ENV_TARGET_URL) or PLAN["target_url"]
        self.agent_key = os.environ.get(ENV_AGENT_KEY) or None
        self.secret = os.environ.get(ENV_JWT_SECRET) or None
        self.agent_host = os.environ.get(ENV_AGENT_ENDPOINT_HOST) or "127.0.0.1"
        if PLAN["needs"]["agent_key"] and not self.agent_key:
            raise Stop(EXIT_MISSING_SETTING, f"set {ENV_AGENT_KEY} to the target's registration agent key")
        if PLAN["needs"]["jwt_secret"] and not self.secret:
            raise Stop(EXIT_MISSING_SETTING, f"set {ENV_JWT_SECRET} to the target's token signing secret: the run forged this situation's token")
        self.target = Target(self.base_url)
        self.keys = {"A": Key(PLAN["alg"]), "B": Key(PLAN["alg"])}
        self.own_ids = set()
        self.registered = []  # (agent_id, access token, label of the registration proof's key)
        self.endpoint = None
        self.main = None  # (agent_id, temp token) of phase 1 with a valid proof by A

    def identity(self, label):
        agent_id = f"arcp-repro-{label}-{uuid.uuid4().hex[:10]}"
        self.own_ids.add(agent_id)
        return agent_id

    def endpoint_url(self, agent_id):
        if self.endpoint is None:
            self.endpoint = AgentEndpoint(self.agent_host)
        return self.endpoint.url_for(agent_id)

    def body(self, endpoint, agent_id):
        def fill(value):
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            if value == "{agent_id}":
                return agent_id
            if value == "{endpoint}":
                return self.endpoint_url(agent_id)
            return value

        return fill(PLAN["bodies"][endpoint])

    def headers(self, token, recipe, method, scheme="Bearer", keys=None):
        def build(url):
            out = [] if token is None else [("Authorization", f"{scheme} {token}")]
            if recipe is not None:
                out += [("DPoP", value) for value in make_proofs(recipe, keys or self.keys, method, url, token)]
            return out

        return build

    def phase1(self, agent_id, recipe):
        body = {"agent_id": agent_id, "agent_type": PLAN["agent_type"], "agent_key": self.agent_key}
        sent = self.target.send("POST", PLAN["endpoints"]["token"], self.headers(None, recipe, "POST"), body)
        token = sent.member("temp_token") if sent.ok else None
        return sent, token if isinstance(token, str) else None

    def phase2(self, agent_id, token, recipe, scheme="Bearer"):
        return self.target.send("POST", PLAN["endpoints"]["validate"], self.headers(token, recipe, "POST", scheme), self.body("validate", agent_id))

    def poll(self, temp, accepted):
        """Poll an accepted phase 2 until it passes or fails: (last poll, validated token)."""
        validation_id = accepted.member("validation_id")
        location = accepted.header("location") or accepted.member("polling_url")
        if isinstance(location, str) and self.target.same_origin(self.target.url(location)):
            path = urlsplit(self.target.url(location)).path
        elif isinstance(validation_id, str):
            path = PLAN["endpoints"]["poll"].format(validation_id=validation_id)
        else:
            return None, None
        deadline, wait, last = time.monotonic() + POLL_DEADLINE, 0.02, None
        while time.monotonic() < deadline:
            last = self.target.send("GET", path, self.headers(temp, None, "GET"))  # the poll is bearer-only
            if not last.ok or last.member("status") != "pending":
                break
            time.sleep(wait)
            wait = min(wait * 2, 0.5)
        token = last.member("validated_token") if last is not None and last.ok else None
        return last, token if isinstance(token, str) else None

    def validate(self, agent_id, temp, recipe):
        accepted = self.phase2(agent_id, temp, recipe)
        step(accepted, "phase 2")
        if accepted.status != 202 and not accepted.ok:
            return accepted, None, None
        last, token = self.poll(temp, accepted)
        if last is not None:
            step(last, "poll")
        return accepted, last, token

    def register(self, agent_id, token, recipe, scheme="Bearer"):
        sent = self.target.send("POST", PLAN["endpoints"]["register"], self.headers(token, recipe, "POST", scheme), self.body("register", agent_id))
        access = sent.member("access_token") if sent.ok else None
        if isinstance(access, str):
            self.registered.append((agent_id, access, signer_label(recipe)))
        return sent

    def unregister(self, agent_id, access, signer):
        # prove with the key the access token is bound to, else the registration proof's key
        key = next((k for k in self.keys.values() if k.thumbprint == jkt_of(access)), None)
        key = key or (self.keys[signer] if signer else None)
        recipe = PLAN["valid_proof"] if key else None
        path = PLAN["endpoints"]["unregister"].format(agent_id=agent_id)
        sent = self.target.send("DELETE", path, self.headers(access, recipe, "DELETE", keys={"A": key} if key else None))
        step(sent, "unregister")
        return sent

    def unregister_last(self, agent_id):
        for i in range(len(self.registered) - 1, -1, -1):
            if self.registered[i][0] == agent_id:
                sent = self.unregister(*self.registered[i])
                if sent.ok:
                    del self.registered[i]
                return sent
        return None

    def cleanup(self):
        for entry in list(reversed(self.registered)):
            try:
                self.unregister(*entry)
            except Stop as stop:
                print(f"    unregister {entry[0]}: {stop.message}")
        self.registered.clear()
        if self.endpoint is not None:
            self.endpoint.close()
        self.target.close()

    # --- the tokens a situation needs

    def temp_a(self):
        """Phase 1 with a valid proof by A (done once): (agent_id, temp token)."""
        if self.main is None:
            agent_id = self.identity("a")
            sent, temp = self.phase1(agent_id, PLAN["valid_proof"])
            step(sent, "phase 1 with a proof by key A")
            if temp is None:
                show(sent, "phase 1 with a valid proof by key A")
                raise Stop(EXIT_NOT_SET_UP, f"phase 1 with a valid proof issued no temp token ({sent.summary()})")
            self.main = (agent_id, temp)
        return self.main

    def validated(self, agent_id, temp):
        """A validated token of its own (they are single use): phase 2 with a proof by A, then poll."""
        accepted, last, token = self.validate(agent_id, temp, PLAN["valid_proof"])
        if token is None:
            show(last or accepted, "phase 2 / poll")
            raise Stop(EXIT_NOT_SET_UP, f"phase 2 gave no validated token ({(last or accepted).summary()})")
        return token

    def forge(self, template, drop=(), now=None, **changes):
        """A variant of a token the target issued to this script, signed with the target's secret."""
        if not self.secret:
            raise Stop(EXIT_MISSING_SETTING, f"set {ENV_JWT_SECRET}: this situation needs a token forged with the target's signing secret")
        claims = dict(claims_of(template) or {})
        if not claims:
            raise Stop(EXIT_NOT_SET_UP, "the target's token is not a JWT: it cannot be forged")
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0)) or 300
        now = int(time.time()) if now is None else now
        claims.update(iat=now, exp=now + lifetime)
        for name in drop:
            claims.pop(name, None)
        claims.update(changes)
        names = [str(claims.get(k, "")).lower() for k in ADMIN_NAMING]  # a list or a scope string: its text
        flagged = any(claims.get(k) not in (None, False, 0, "", "false", "False") for k in ADMIN_FLAGS)
        if any(m in n for n in names for m in ADMIN_MARKERS) or flagged or claims.get("agent_id") not in self.own_ids:
            raise Stop(EXIT_NOT_SET_UP, "refusing to forge a token for an administrator or for an agent this script did not create")
        return jwt.encode(claims, self.secret, algorithm=PLAN["forge_algorithm"])

    def bound(self, token, what):
        if jkt_of(token) == self.keys["A"].thumbprint:
            return token
        print(f"    the target issued no {what} token bound to key A: forging a bound copy (as the run did)")
        return self.forge(token, cnf={"jkt": self.keys["A"].thumbprint})

    def unbound(self, phase3):
        """A target-issued token without cnf: from a flow that sent no proof at phase 1 (and 2)."""
        agent_id = self.identity("u")
        sent, temp = self.phase1(agent_id, None)
        step(sent, "phase 1 without a proof")
        if temp is not None and jkt_of(temp) is None:
            if not phase3:
                return agent_id, temp
            _, _, token = self.validate(agent_id, temp, None)
            if token is not None and jkt_of(token) is None:
                return agent_id, token
        elif not phase3:
            why = "issued a bound token" if temp else f"issued no token ({sent.summary()})"
            raise Stop(EXIT_NOT_SET_UP, f"phase 1 without a proof {why}: no unbound temp token to present (the run could not test this either)")
        # as the run: else the validated token of the key-A flow, if the target left it unbound
        agent_id, temp = self.temp_a()
        token = self.validated(agent_id, temp)
        if jkt_of(token) is None:
            return agent_id, token
        raise Stop(EXIT_NOT_SET_UP, "the target issues only bound validated tokens: no unbound one to present")

    def token_for(self, kind, endpoint):
        """(agent_id the token names, the token to present) for a token kind of the situations."""
        phase3 = endpoint == "register"
        what = "validated" if phase3 else "temp"
        if kind == "missing":
            return self.identity("m"), None
        if kind == "malformed":
            return self.identity("m"), "not-a-jwt"
        if kind == "unbound":
            return self.unbound(phase3)
        agent_id, temp = self.temp_a()
        if kind == "wrong-phase":  # each endpoint gets the other phase's token
            return agent_id, temp if phase3 else self.validated(agent_id, temp)
        template = self.validated(agent_id, temp) if phase3 else temp
        if kind in ("bound", "mismatched"):
            return agent_id, self.bound(template, what)
        if kind == "bad-signature":
            return agent_id, flip_token_signature(template)
        if kind == "expired":
            now = int(time.time())
            return agent_id, self.forge(template, now=now - 7200, exp=now - 3600)
        if kind == "legacy":
            return agent_id, self.forge(template, drop=("cnf",))
        raise ValueError(f"unknown token kind {kind!r}")


def signer_label(recipe):
    """The label of the key that signed a recipe's proof, if a key of this script did."""
    signer = recipe["signer"] if recipe else None
    return signer if isinstance(signer, str) and signer != "none" else None


def precondition(sent):
    """Responses that say nothing about the requirement (as the suite's inconclusive)."""
    if sent.status in (429, 503):
        raise Stop(EXIT_NOT_SET_UP, f"the target answered {sent.status} (rate limited or unavailable) after honouring Retry-After")
    if sent.status == 409 and sent.slug() == "duplicate-agent":
        raise Stop(EXIT_NOT_SET_UP, "the agent was still registered (409 duplicate-agent)")


# --- the situations of profile §6 and §7

def reproduce_case(run):
    case = PLAN["case"]
    endpoint, recipe, scheme = case["endpoint"], case["proof"], case["scheme"]
    path = PLAN["endpoints"][endpoint]
    print(f"setting up {case['id']}:")
    agent_id, token = run.token_for(case["token"], endpoint)
    body = run.body(endpoint, agent_id)
    if case["send_twice"]:
        # one proof, sent twice: the second use is the one judged
        proofs = make_proofs(recipe, run.keys, "POST", run.target.url(path), token)
        fixed = [("Authorization", f"{scheme} {token}")] + [("DPoP", p) for p in proofs]
        first = run.target.send("POST", path, lambda url: fixed, body)
        step(first, "first use of the proof")
        if not (first.ok or first.status == 202):
            show(first, "first use of the proof")
            raise Stop(EXIT_NOT_SET_UP, f"the first use of the proof was refused ({first.summary()})")
        judged = run.target.send("POST", path, lambda url: fixed, body)
    else:
        judged = run.target.send("POST", path, run.headers(token, recipe, "POST", scheme), body)
    access = judged.member("access_token") if endpoint == "register" and judged.ok else None
    if isinstance(access, str):
        run.registered.append((agent_id, access, signer_label(recipe)))
    show(judged, "the judged request")
    precondition(judged)
    return judge_response(PLAN["judge"], case["expect"], judged)


def judge_response(judge, exp, sent):
    """(True = reproduced, False = not, None = nothing to judge) and why."""
    status, body, slug = sent.status, sent.json(), sent.slug()
    error = status >= 400
    if judge == "outcome":
        if exp["accept"]:
            return (not sent.ok), f"expected acceptance (2xx), got {sent.summary()}"
        if sent.ok:
            return True, f"expected a refusal, but the target accepted: {sent.summary()}"
        if exp["statuses"] and status not in exp["statuses"]:
            return True, f"expected {' or '.join(map(str, exp['statuses']))}, got {sent.summary()}"
        if not exp["statuses"] and not 400 <= status < 500:
            return True, f"expected a 4xx refusal, got {sent.summary()}"
        return False, f"refused as expected: {sent.summary()}"
    if judge == "problem_type":
        if not error:
            return None, f"not refused ({status}): the outcome check reports it"
        if slug in exp["types"]:
            return False, f"problem type {slug}, as expected"
        return True, f"problem type {sent.member('type')!r}; expected {' or '.join(exp['types'])}"
    if judge == "wrong_phase_401":
        if sent.ok:
            return None, "not refused: the wrong-phase outcome check reports it"
        if status != 401 or slug != "token-invalid":
            return True, f"expected 401 token-invalid, got {sent.summary()}"
        return False, "401 token-invalid, as expected"
    if judge == "no_5xx":
        if status >= 500 and slug not in PLAN["gateway_exempt"]:
            return True, f"a client mistake answered with {sent.summary()}"
        return False, f"no 5xx ({status})"
    if judge in ("www_authenticate", "dpop_challenge", "algs", "challenge_error") and status != 401:
        return None, f"not a 401 ({status}): nothing to judge"
    if judge in ("content_type", "members", "status_match", "recommended", "title") and not error:
        return None, f"not an error response ({status}): nothing to judge"
    if judge == "content_type":
        got = (sent.header("content-type") or "").split(";", 1)[0].strip().lower()
        return got != PLAN["problem_media_type"], f"Content-Type {got or '(none)'!r}, expected {PLAN['problem_media_type']}"
    if judge == "members":
        if not isinstance(body, dict):
            return True, "the error body is not a JSON object"
        wrong = [name for name, ok in (
            ("type", isinstance(body.get("type"), str) and re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", body["type"])),
            ("title", isinstance(body.get("title"), str) and body["title"]),
            ("status", isinstance(body.get("status"), int) and not isinstance(body.get("status"), bool)),
            ("detail", isinstance(body.get("detail"), str)),
        ) if not ok]
        return bool(wrong), f"missing or ill-typed members: {', '.join(wrong)}" if wrong else "type, title, status, detail present"
    if judge == "status_match":
        got = sent.member("status")
        return got != status, f"problem status {got!r}, HTTP status {status}"
    if judge == "recommended":
        body = body if isinstance(body, dict) else {}
        wrong = []
        instance = body.get("instance")
        if not isinstance(instance, str) or instance not in (urlsplit(sent.url).path, sent.url):
            wrong.append(f"instance {instance!r} (expected the request path {urlsplit(sent.url).path})")
        if not (isinstance(body.get("timestamp"), str) and re.match(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d", body["timestamp"])):
            wrong.append(f"timestamp {body.get('timestamp')!r}")
        if not (isinstance(body.get("request_id"), str) and body["request_id"]):
            wrong.append(f"request_id {body.get('request_id')!r}")
        return bool(wrong), "; ".join(wrong) or "instance, timestamp and request_id present"
    if judge == "title":
        if slug is None:
            return None, "the type is not a catalogue type"
        want = PLAN["problem_titles"].get(slug)
        return sent.member("title") != want, f"title {sent.member('title')!r}, catalogue title of {slug} is {want!r}"
    challenges = challenges_of(sent.header_values("www-authenticate"))
    schemes = [scheme for scheme, _ in challenges]
    if judge == "www_authenticate":
        return not challenges, "401 without a WWW-Authenticate challenge" if not challenges else f"challenges: {', '.join(schemes)}"
    if judge == "dpop_challenge":
        found = any(s.lower() == "dpop" for s in schemes)
        return not found, f"challenges: {', '.join(schemes) or 'none'}"
    if judge == "algs":
        dpop = [params for scheme, params in challenges if scheme.lower() == "dpop"]
        if not dpop:
            return None, "no DPoP challenge (the dpop-challenge check reports it)"
        return not dpop[0].get("algs", "").strip(), f"DPoP challenge algs={dpop[0].get('algs')!r}"
    if judge == "challenge_error":
        if not challenges:
            return None, "no challenge (the WWW-Authenticate check reports it)"
        errors = [params["error"] for _, params in challenges if "error" in params]
        if not exp["challenge_errors"]:
            return bool(errors), f"error={errors[0]!r} although no credentials were sent" if errors else "no error parameter, as expected"
        if any(e in exp["challenge_errors"] for e in errors):
            return False, f"challenge error {errors}, as expected"
        return True, f"challenge error {errors or 'absent'}; expected {' or '.join(exp['challenge_errors'])}"
    raise ValueError(f"unknown judge {judge!r}")


# --- issuance (profile §4, §6)

def show_token(token, run):
    claims = claims_of(token)
    print(f"    token {fingerprint(token)} claims: {json.dumps(claims) if claims is not None else '(not a JWT)'}")
    print(f"    thumbprint of key A: {run.keys['A'].thumbprint}")
    return claims or {}


def reproduce_issuance(run):
    req, iss = PLAN["requirement"], PLAN["issuance"]
    subject = iss["subject"]
    print(f"setting up the registration flow up to {subject}:")
    if req == "ISS-6-defective-proof":
        sent, token = run.phase1(run.identity("d"), iss["defective_proof"])
        show(sent, "phase 1 with a badly signed proof by key A (judged)")
        precondition(sent)
        if sent.ok:
            bound = jkt_of(token)
            return True, "phase 1 with a badly signed proof issued a token" + (f", bound to the unproven key ({bound})" if bound else "")
        if (sent.status == 401 and sent.slug() == "dpop-invalid") or (sent.status == 400 and sent.member("error") == "invalid_dpop_proof"):
            return False, f"refused as a proof failure: {sent.summary()}"
        return True, f"refused, but not as a proof failure (401 dpop-invalid or 400 invalid_dpop_proof): {sent.summary()}"
    if req == "ISS-6-noproof-required":
        sent, _ = run.phase1(run.identity("u"), None)
        show(sent, "phase 1 without a proof (judged)")
        precondition(sent)
        if sent.status == 401 and sent.slug() == "dpop-required":
            return False, "401 dpop-required, as expected"
        return True, f"phase 1 without a proof in required mode: {sent.summary()}, expected 401 dpop-required"

    agent_id = run.identity("a")
    judged, token = run.phase1(agent_id, PLAN["valid_proof"])
    step(judged, "phase 1 with a proof by key A")
    title = "phase 1 with a valid proof by key A"
    validated = None
    if subject in ("validated", "poll", "access", "register"):
        if token is None:
            show(judged, title)
            raise Stop(EXIT_NOT_SET_UP, f"phase 1 issued no temp token ({judged.summary()})")
        accepted, last, validated = run.validate(agent_id, token, PLAN["valid_proof"])
        judged, token, title = last or accepted, validated, "the poll that returns the validated token"
        if subject in ("access", "register"):
            if validated is None:
                show(judged, title)
                raise Stop(EXIT_NOT_SET_UP, f"phase 2 gave no validated token ({judged.summary()})")
            judged, title = run.register(agent_id, validated, PLAN["valid_proof"]), "phase 3 with a valid proof by key A"
            token = judged.member("access_token") if judged.ok else None
            token = token if isinstance(token, str) else None
    show(judged, title + ("" if req == "ISS-6-single-use" else " (judged)"))
    precondition(judged)

    if req == "ISS-6-single-use":
        if not judged.ok:
            raise Stop(EXIT_NOT_SET_UP, f"the validated token did not register the first time ({judged.summary()})")
        gone = run.unregister_last(agent_id)
        if gone is None or not gone.ok:
            raise Stop(EXIT_NOT_SET_UP, "the agent could not be unregistered before the second attempt")
        again = run.register(agent_id, validated, PLAN["valid_proof"])  # the same validated token, a fresh proof
        show(again, "phase 3 again with the same validated token (judged)")
        precondition(again)
        if again.ok:
            return True, f"the same validated token registered a second time: {again.summary()}"
        return False, f"the second registration was refused: {again.summary()}"
    if req == "ISS-6-no-store":
        if not judged.ok:
            raise Stop(EXIT_NOT_SET_UP, f"no token response to judge ({judged.summary()})")
        cache = [d.strip().lower() for d in (judged.header("cache-control") or "").split(",")]
        pragma = (judged.header("pragma") or "").lower()
        missing = [m for m, ok in (("Cache-Control: no-store", "no-store" in cache), ("Pragma: no-cache", "no-cache" in pragma)) if not ok]
        return bool(missing), ("missing " + ", ".join(missing)) if missing else "Cache-Control: no-store and Pragma: no-cache present"

    if token is None:
        raise Stop(EXIT_NOT_SET_UP, f"no {subject} token was issued ({judged.summary()})")
    claims = show_token(token, run)
    thumbprint = run.keys["A"].thumbprint
    if req in ("ISS-6-cnf-jkt", "ISS-6-binding-kept"):
        got = jkt_of(token)
        return got != thumbprint, f"{subject} token of a flow proved by key A carries cnf.jkt={got!r}, key A's thumbprint is {thumbprint}"
    if req == "ISS-5-token-type-dpop":
        if jkt_of(token) is None:
            return None, "the temp token is not bound (the cnf-jkt check reports it)"
        got = judged.member("token_type")
        return str(got).lower() != "dpop", f"token_type {got!r} in the response for a DPoP-bound token (RFC 9449 §5: DPoP)"
    if req == "ISS-4-aud":
        aud, want = claims.get("aud"), iss["audience"]
        ok = aud == want or (isinstance(aud, list) and want in aud)
        return not ok, f"{subject} token aud={aud!r}, expected {want!r}"
    if req == "ISS-4-token-type":
        got = claims.get("token_type")
        return got != subject, f"{subject} token token_type={got!r}, expected {subject!r}"
    if req == "ISS-6-lifetime":
        expires_in, exp, iat = judged.member("expires_in"), claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)):
            return True, f"{subject} token has no numeric exp"
        if not isinstance(expires_in, (int, float)):
            return None, f"the {subject} token response has no expires_in"
        remaining = exp - judged.received_at
        span = f", exp - iat = {exp - iat} s" if isinstance(iat, (int, float)) else ""
        message = f"expires_in={expires_in}, the token lives {remaining:.0f} s more{span} (tolerance {iss['tolerance']} s)"
        return abs(expires_in - remaining) > iss["tolerance"], message
    raise ValueError(f"unknown requirement {req!r}")


def main():
    print(f"arcp-conformance reproducer: {PLAN['check']} ({PLAN['level']})")
    run = None
    try:
        run = Run()
        print(f"target {run.target.base_url}, DPoP mode {PLAN['mode']}, proof keys {PLAN['alg']}")
        reproduced, message = reproduce_case(run) if "case" in PLAN else reproduce_issuance(run)
    except Stop as stop:
        label = "missing setting" if stop.code == EXIT_MISSING_SETTING else "could not set up"
        print(f"\n{label}: {PLAN['check']}: {stop.message}")
        return stop.code
    finally:
        if run is not None:
            run.cleanup()
    print(f"\nlook at: {PLAN['look_at']}")
    if reproduced:
        print(f"REPRODUCED: {PLAN['check']}: {message}")
        return EXIT_REPRODUCED
    print(f"not reproduced: {PLAN['check']}: {message}")
    return EXIT_NOT_REPRODUCED


if __name__ == "__main__":
    sys.exit(main())
'''

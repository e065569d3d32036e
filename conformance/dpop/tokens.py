"""Tokens: read the target's tokens, and (with the target's signing secret) forge variants of them.

Forging is only ever done from a token the target issued to an identity the suite created,
and never for a name or role that looks like an administrator (profile §4).
"""
from __future__ import annotations

import json
import time
import warnings

import jwt
from jwt.utils import base64url_encode

from .json_text import read_segment

# PyJWT >= 2.10 warns when an HMAC key is shorter than the hash (RFC 7518 §3.2); older ones do not
SHORT_KEY_WARNING = getattr(jwt, "InsecureKeyLengthWarning", None)
ADMIN_MARKERS = ("admin", "root", "superuser", "operator")
# Claims that name who the token is for, what it may do, or flag an administrator outright.
IDENTITY_CLAIMS = ("sub", "agent_id", "user_id", "username", "preferred_username", "name", "email")
ROLE_CLAIMS = ("role", "roles", "scope", "scopes", "groups", "permissions", "user_type")
ADMIN_FLAGS = ("is_admin", "admin", "is_superuser", "superuser", "is_staff")


class ForgeRefused(ValueError):
    pass


def _words(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [w for v in value for w in _words(v)]
    return str(value).lower().split() if value is not None else []


def admin_claims(claims: dict) -> list[str]:
    """The claims that name an administrator (identity, role or scope) or flag one."""
    named = [c for c in (*IDENTITY_CLAIMS, *ROLE_CLAIMS) if any(m in w for w in _words(claims.get(c)) for m in ADMIN_MARKERS)]
    flagged = [c for c in ADMIN_FLAGS if claims.get(c) not in (None, False, 0, "", "false", "False")]
    return named + flagged


def claims_of(token: str | None) -> dict | None:
    """Unverified claims, or None when `token` is not a JWT."""
    if not token or not _readable(token):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def header_of(token: str) -> dict | None:
    if not _readable(token):
        return None
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None


def _readable(token: str) -> bool:
    """Are the token's header and claims JSON the suite reads (json_text's bounds)? PyJWT's own
    json.loads would raise RecursionError on a deeply nested one the target issued."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        read_segment(parts[0]), read_segment(parts[1])
    except ValueError:
        return False
    return True


def jkt_of(token: str | None) -> str | None:
    cnf = (claims_of(token) or {}).get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


class Forger:
    """Signs variants of target-issued tokens with the target's secret (HS256 like upstream)."""

    def __init__(self, secret: str, own_agent_ids: set[str], algorithm: str = "HS256"):
        self._secret = secret
        self._own = own_agent_ids
        self.algorithm = algorithm

    def _guard(self, claims: dict) -> None:
        """Forge only for agents the suite created, never anything that names an administrator."""
        admin = admin_claims(claims)
        if admin:
            raise ForgeRefused(f"refusing to forge a token that names an administrator (claims {', '.join(admin)})")
        agent_id, sub = claims.get("agent_id"), claims.get("sub")
        if agent_id not in self._own:
            raise ForgeRefused("refusing to forge a token for an identity the suite did not create")
        # upstream's subjects are the agent id, or temp_<agent id> for a temp token
        if sub is not None and not (isinstance(sub, str) and sub.endswith(str(agent_id))):
            raise ForgeRefused("refusing to forge a token whose subject is not the suite's own agent")

    def forge(self, template: str, *, drop: tuple[str, ...] = (), now: int | None = None, **changes: object) -> str:
        claims = dict(claims_of(template) or {})
        if not claims:
            raise ForgeRefused("template is not a JWT")
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0)) or 300
        now = int(time.time()) if now is None else now
        claims.update(iat=now, exp=now + lifetime)
        for name in drop:
            claims.pop(name, None)
        claims.update(changes)
        self._guard(claims)
        # The secret is the target's (the operator's choice, which no requirement judges); the
        # tokens are the suite's deliberate test material. PyJWT's warning about a short HMAC key
        # would only repeat on the console, so it is silenced here and nowhere else.
        with warnings.catch_warnings():
            if SHORT_KEY_WARNING is not None:
                warnings.filterwarnings("ignore", category=SHORT_KEY_WARNING)
            return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def bound(self, template: str, jkt: str) -> str:
        return self.forge(template, cnf={"jkt": jkt})

    def legacy(self, template: str) -> str:
        return self.forge(template, drop=("cnf",))

    def expired(self, template: str) -> str:
        now = int(time.time())
        return self.forge(template, now=now - 7200, exp=now - 3600)


# Tampered copies of a target-issued token, made without the secret (profile §6: tokens that are
# not what the target signed are refused at every endpoint that takes them). Each is what an
# attacker holding one of the target's tokens can make of it.

def bad_signature(token: str) -> str:
    """The same token with its signature altered (no secret needed)."""
    head, _, sig = token.rpartition(".")
    flipped = ("A" if sig[:1] != "A" else "B") + sig[1:]
    return f"{head}.{flipped}"


def _header_with(token: str, **changes: object) -> str:
    """The token's header segment with `changes` made; its other members kept, in order."""
    header = read_segment(token.split(".", 1)[0])
    header.update(changes)
    return base64url_encode(json.dumps(header, separators=(",", ":")).encode()).decode()


def alg_none(token: str) -> str:
    """The token's header saying alg none, its payload kept and its signature removed
    (`header.payload.`): the unsecured JWS that naive libraries accepted (RFC 8725 §2.1, §3.1)."""
    payload = token.split(".")[1]
    return f"{_header_with(token, alg='none')}.{payload}."


# Each HMAC size and the one the tampered token claims instead.
OTHER_HMAC = {"HS256": "HS384", "HS384": "HS512", "HS512": "HS256"}


def alg_hmac_other(token: str) -> str | None:
    """The token's header naming another HMAC size (HS256 -> HS384), its payload and signature
    kept: a server that verifies with a fixed algorithm, or picks it from the header without
    checking it against its own, accepts it. None when the token is not HMAC-signed."""
    alg = (header_of(token) or {}).get("alg")
    if alg not in OTHER_HMAC:
        return None
    _, payload, sig = token.split(".")
    return f"{_header_with(token, alg=OTHER_HMAC[alg])}.{payload}.{sig}"


def with_signature_of(token: str, other: str) -> str:
    """`token`'s header and payload with the signature of `other`, another token the target
    signed: a real signature, but not over these contents."""
    return f"{token.rpartition('.')[0]}.{other.rpartition('.')[2]}"

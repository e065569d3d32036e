"""Tokens: read the target's tokens, and (with the target's signing secret) forge variants of them.

Forging is only ever done from a token the target issued to an identity the suite created,
and never for a name or role that looks like an administrator (profile §4).
"""
from __future__ import annotations

import time

import jwt

ADMIN_MARKERS = ("admin", "root", "superuser", "operator")


class ForgeRefused(ValueError):
    pass


def claims_of(token: str | None) -> dict | None:
    """Unverified claims, or None when `token` is not a JWT."""
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def header_of(token: str) -> dict | None:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None


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
        names = [str(claims.get(k, "")) for k in ("sub", "agent_id", "role")]
        if any(marker in name.lower() for name in names for marker in ADMIN_MARKERS) or claims.get("is_admin"):
            raise ForgeRefused("refusing to forge a token that names an administrator")
        if claims.get("agent_id") not in self._own:
            raise ForgeRefused("refusing to forge a token for an identity the suite did not create")

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
        return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def bound(self, template: str, jkt: str) -> str:
        return self.forge(template, cnf={"jkt": jkt})

    def legacy(self, template: str) -> str:
        return self.forge(template, drop=("cnf",))

    def expired(self, template: str) -> str:
        now = int(time.time())
        return self.forge(template, now=now - 7200, exp=now - 3600)


def bad_signature(token: str) -> str:
    """The same token with its signature altered (no secret needed)."""
    head, _, sig = token.rpartition(".")
    flipped = ("A" if sig[:1] != "A" else "B") + sig[1:]
    return f"{head}.{flipped}"

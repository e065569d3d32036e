"""Proof keys, RFC 7638 JWK thumbprints and the DPoP `ath` hash (pure: no I/O)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm
from jwt.utils import base64url_encode

SUPPORTED_ALGS = ("EdDSA", "ES256")  # ARCP's default DPOP_ALGORITHMS (profile §5)

# RFC 7638 §3.2 (EC, RSA) and RFC 8037 §2 (OKP): the members a thumbprint hashes.
_REQUIRED_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}


@dataclass(frozen=True)
class KeyPair:
    """A proof signing key: `alg` is the JWS algorithm, `private_key` a cryptography key."""

    alg: str
    private_key: Any

    def __post_init__(self) -> None:
        # Catch a key that does not fit its alg here, not as a confusing signing error later.
        if self.alg == "EdDSA":
            ok = isinstance(self.private_key, Ed25519PrivateKey)
        elif self.alg == "ES256":
            ok = isinstance(self.private_key, ec.EllipticCurvePrivateKey) and isinstance(
                self.private_key.curve, ec.SECP256R1
            )
        else:
            raise ValueError(_unsupported(self.alg))
        if not ok:
            expected = "an Ed25519" if self.alg == "EdDSA" else "a P-256"
            raise ValueError(f"{self.alg} needs {expected} private key")

    @property
    def private_jwk(self) -> dict[str, Any]:
        """The JWK with the private member `d` (only for the `jwk-private` defect)."""
        return _algorithm(self.alg).to_jwk(self.private_key, as_dict=True)

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK: exactly the required members (OKP kty,crv,x; EC kty,crv,x,y).
        A fresh copy each time, of members computed once per key (every proof carries them)."""
        return dict(self._public_members)

    @cached_property
    def _public_members(self) -> dict[str, Any]:
        # cached_property writes the instance __dict__ directly, so it works on a frozen dataclass
        jwk = _algorithm(self.alg).to_jwk(self.private_key.public_key(), as_dict=True)
        return {name: jwk[name] for name in _REQUIRED_MEMBERS[jwk["kty"]]}

    @cached_property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public JWK (the `cnf.jkt` of a bound token)."""
        return jwk_thumbprint(self._public_members)


def _unsupported(alg: str) -> str:
    return f"unsupported proof algorithm {alg!r}: expected one of {', '.join(SUPPORTED_ALGS)}"


def _algorithm(alg: str):
    return OKPAlgorithm if alg == "EdDSA" else ECAlgorithm


def generate_key(alg: str) -> KeyPair:
    """A fresh key for `alg`: "EdDSA" (Ed25519) or "ES256" (P-256)."""
    if alg == "EdDSA":
        return KeyPair(alg, Ed25519PrivateKey.generate())
    if alg == "ES256":
        return KeyPair(alg, ec.generate_private_key(ec.SECP256R1()))
    raise ValueError(_unsupported(alg))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members, sorted, no whitespace."""
    kty = jwk.get("kty")
    if kty not in _REQUIRED_MEMBERS:
        raise ValueError(f"cannot take the thumbprint of a JWK with kty {kty!r}")
    members = {}
    for name in _REQUIRED_MEMBERS[kty]:
        if not isinstance(jwk.get(name), str):
            raise ValueError(f"{kty} JWK needs the string member {name!r}")
        members[name] = jwk[name]
    # The members tuple is already sorted; sort_keys keeps that true whatever is edited above.
    text = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64url_encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def access_token_hash(token: str) -> str:
    """The DPoP `ath` claim: base64url(SHA-256(ASCII token)) without padding (RFC 9449 §4.2)."""
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("an access token must be ASCII (RFC 9449 §4.2)") from exc
    return base64url_encode(hashlib.sha256(data).digest()).decode("ascii")

"""Proof keys, RFC 7638 JWK thumbprints and the DPoP `ath` hash (pure: no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_encode

RSA_BITS = 2048  # RFC 7518 §3.3: an RSA signing key has at least 2048 bits
RSA_EXPONENT = 65537


@dataclass(frozen=True)
class AlgKeys:
    """What a proof algorithm needs of its key: the JWK kty and crv (None: the kty has none), the
    cryptography private key type, the curve for EC, and how to make a fresh key."""

    kty: str
    crv: str | None
    private_type: type
    curve: type | None
    generate: Callable[[], Any]


def _ec(curve: type) -> Callable[[], Any]:
    return lambda: ec.generate_private_key(curve())


def _rsa() -> Any:
    # slow (tens of milliseconds): called only for a key that is used
    return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)


# The proof algorithms the suite signs with (RFC 7518 §3.1-§3.5, RFC 8037 §3.1), in the order of
# the suite's preference: ARCP's default DPOP_ALGORITHMS (EdDSA, ES256) first.
ALG_KEYS: dict[str, AlgKeys] = {
    "EdDSA": AlgKeys("OKP", "Ed25519", Ed25519PrivateKey, None, Ed25519PrivateKey.generate),
    "ES256": AlgKeys("EC", "P-256", ec.EllipticCurvePrivateKey, ec.SECP256R1, _ec(ec.SECP256R1)),
    "ES384": AlgKeys("EC", "P-384", ec.EllipticCurvePrivateKey, ec.SECP384R1, _ec(ec.SECP384R1)),
    "ES512": AlgKeys("EC", "P-521", ec.EllipticCurvePrivateKey, ec.SECP521R1, _ec(ec.SECP521R1)),
    "RS256": AlgKeys("RSA", None, rsa.RSAPrivateKey, None, _rsa),
    "PS256": AlgKeys("RSA", None, rsa.RSAPrivateKey, None, _rsa),
}
SUPPORTED_ALGS = tuple(ALG_KEYS)
DEFAULT_ALGS = ("EdDSA", "ES256")  # ARCP's default DPOP_ALGORITHMS (profile §5)

# RFC 7638 §3.2 (EC, RSA) and RFC 8037 §2 (OKP): the members a thumbprint hashes.
_REQUIRED_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
_ALGORITHMS = get_default_algorithms()  # PyJWT's algorithm objects, by JWS alg name


@dataclass(frozen=True)
class KeyPair:
    """A proof signing key: `alg` is the JWS algorithm, `private_key` a cryptography key."""

    alg: str
    private_key: Any

    def __post_init__(self) -> None:
        # Catch a key that does not fit its alg here, not as a confusing signing error later.
        spec = ALG_KEYS.get(self.alg)
        if spec is None:
            raise ValueError(_unsupported(self.alg))
        key = self.private_key
        fits = isinstance(key, spec.private_type) and (spec.curve is None or isinstance(key.curve, spec.curve))
        if fits and spec.kty == "RSA" and key.key_size < RSA_BITS:
            raise ValueError(f"{self.alg} needs an RSA key of at least {RSA_BITS} bits, not {key.key_size}")
        if not fits:
            raise ValueError(f"{self.alg} needs a {' '.join(filter(None, (spec.kty, spec.crv)))} private key, not {type(key).__name__}")

    @property
    def private_jwk(self) -> dict[str, Any]:
        """The JWK with the private members (`d`, for RSA also p, q, ...): only for the `jwk-private` defect."""
        jwk = _ALGORITHMS[self.alg].to_jwk(self.private_key, as_dict=True)
        jwk.pop("key_ops", None)  # PyJWT adds it for RSA keys; a proof's jwk has no use for it
        return jwk

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK: exactly the RFC 7638 required members (OKP crv,kty,x; EC crv,kty,x,y;
        RSA e,kty,n). A fresh copy each time, of members computed once per key (every proof carries them)."""
        return dict(self._public_members)

    @cached_property
    def _public_members(self) -> dict[str, Any]:
        # cached_property writes the instance __dict__ directly, so it works on a frozen dataclass
        jwk = _ALGORITHMS[self.alg].to_jwk(self.private_key.public_key(), as_dict=True)
        return {name: jwk[name] for name in _REQUIRED_MEMBERS[jwk["kty"]]}

    @cached_property
    def thumbprint(self) -> str:
        """RFC 7638 SHA-256 thumbprint of the public JWK (the `cnf.jkt` of a bound token)."""
        return jwk_thumbprint(self._public_members)


def _unsupported(alg: str) -> str:
    return f"unsupported proof algorithm {alg!r}: expected one of {', '.join(SUPPORTED_ALGS)}"


def generate_key(alg: str) -> KeyPair:
    """A fresh key for `alg` (one of SUPPORTED_ALGS): Ed25519, P-256, P-384, P-521 or RSA 2048."""
    spec = ALG_KEYS.get(alg)
    if spec is None:
        raise ValueError(_unsupported(alg))
    return KeyPair(alg, spec.generate())


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


class AccessTokenNotAscii(ValueError):
    """A token with characters that are not ASCII has no `ath`: the request cannot carry it (a
    target that issued one gave the suite something it cannot use)."""


def access_token_hash(token: str) -> str:
    """The DPoP `ath` claim: base64url(SHA-256(ASCII token)) without padding (RFC 9449 §4.2)."""
    try:
        data = token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise AccessTokenNotAscii("the token has characters that are not ASCII, so a proof cannot carry its ath (RFC 9449 §4.2)") from exc
    return base64url_encode(hashlib.sha256(data).digest()).decode("ascii")

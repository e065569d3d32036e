"""The keys of the proof defects that name a key of their own (pure: no I/O).

A proof whose `jwk` does not fit its `alg`, or is an RSA key too short, cannot be made with the
run's key A (profile §5: RFC 7518 §3.1-§3.5, RFC 8037 §3.1). Each such defect names its own key,
signed the way a server that skips that one check would verify it, so that accepting the proof
shows exactly the missing check:

- an OKP key labelled X25519, X448 or an unknown curve, whose `x` is an Ed25519 (Ed448) signing
  key's and which that key signs (a server that takes any OKP key for Ed25519 verifies it);
- an EC P-384 key in a proof that says ES256, signing with SHA-256 on P-384 (a server that takes
  the curve from the key and the hash from the alg verifies it);
- an RSA key in a proof that says ES256, signing RS256 (a server that verifies with the key's own
  algorithm verifies it);
- a 1024-bit RSA key, signing PS256 as the proof says.

Each key is made once per process, so a proof and the token the session binds to its jwk agree;
the OKP and EC keys derive from fixed seeds, the same in every run and its reproducers.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, get_default_algorithms
from jwt.utils import base64url_encode

from .keys import RSA_EXPONENT, jwk_thumbprint

UNKNOWN_CRV = "urn:arcp-conformance:unknown-curve"  # an OKP crv no server supports
SHORT_RSA_BITS = 1024  # below RFC 7518 §3.3's 2048
ES256_ANY_CURVE = "ES256 on any curve"  # a signer name: ECDSA with SHA-256 on the key's own curve

# PyJWT's signers by JWS alg name, and one PyJWT's ES256 refuses to be (it checks the curve).
SIGNERS = {**get_default_algorithms(), ES256_ANY_CURVE: ECAlgorithm(ECAlgorithm.SHA256)}


@dataclass(frozen=True)
class OwnKey:
    """What an own-key defect puts in the proof: the header's alg and jwk, and how it signs."""

    alg: str  # the header's alg
    jwk: dict[str, Any]  # the header's jwk: public members only
    private_key: Any  # a cryptography private key
    signer: str  # the SIGNERS entry that signs (not always the header's alg)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the jwk: the cnf.jkt a token bound to this key carries."""
        return jwk_thumbprint(self.jwk)


def _seed(label: str, size: int) -> bytes:
    return hashlib.shake_256(f"arcp-conformance own key: {label}".encode()).digest(size)


def _raw_public(key: Any) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64url_encode(raw).decode("ascii")


def _okp(label: str, crv: str, private_type: type, size: int) -> OwnKey:
    key = private_type.from_private_bytes(_seed(label, size))
    return OwnKey("EdDSA", {"crv": crv, "kty": "OKP", "x": _raw_public(key)}, key, "EdDSA")


def _public_jwk(alg: str, key: Any) -> dict[str, Any]:
    jwk = SIGNERS[alg].to_jwk(key.public_key(), as_dict=True)
    return {name: jwk[name] for name in sorted(jwk) if name in ("crv", "e", "kty", "n", "x", "y")}


def _p384() -> OwnKey:
    key = ec.derive_private_key(int.from_bytes(_seed("p-384", 32), "big"), ec.SECP384R1())
    return OwnKey("ES256", _public_jwk("ES384", key), key, ES256_ANY_CURVE)


def _rsa(alg: str, signer: str, bits: int) -> OwnKey:
    # RSA keys cannot be derived from a seed with cryptography: generated, once per process
    key = rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=bits)
    return OwnKey(alg, _public_jwk("RS256", key), key, signer)


_MAKERS = {
    "jwk-x25519": lambda: _okp("x25519", "X25519", Ed25519PrivateKey, 32),
    "jwk-x448": lambda: _okp("x448", "X448", Ed448PrivateKey, 57),
    "jwk-crv-unknown": lambda: _okp("crv-unknown", UNKNOWN_CRV, Ed25519PrivateKey, 32),
    "jwk-curve-mismatch": _p384,
    "jwk-rsa-for-ec": lambda: _rsa("ES256", "RS256", 2048),
    "jwk-rsa-short": lambda: _rsa("PS256", "PS256", SHORT_RSA_BITS),
}
OWN_KEY_DEFECTS = tuple(_MAKERS)


@functools.lru_cache(maxsize=None)
def own_key(name: str) -> OwnKey:
    """The key the defect `name` (one of OWN_KEY_DEFECTS) names, the same for the whole process."""
    return _MAKERS[name]()

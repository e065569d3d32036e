import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.utils import base64url_decode

from conformance.dpop.keys import KeyPair, access_token_hash, generate_key, jwk_thumbprint

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "thumbprints.json").read_text("utf-8")
)
THUMBPRINTS = VECTORS["thumbprints"]
ATH = VECTORS["access_token_hashes"]
ALGS = ["EdDSA", "ES256"]


def test_vectors_cover_every_key_type():
    assert {v["jwk"]["kty"] for v in THUMBPRINTS} == {"RSA", "OKP", "EC"}
    assert ATH


@pytest.mark.parametrize("vector", THUMBPRINTS, ids=[v["source"] for v in THUMBPRINTS])
def test_thumbprint_vectors(vector):
    assert jwk_thumbprint(vector["jwk"]) == vector["thumbprint"]


@pytest.mark.parametrize("vector", THUMBPRINTS, ids=[v["source"] for v in THUMBPRINTS])
def test_thumbprint_ignores_optional_and_private_members(vector):
    jwk = {**vector["jwk"], "kid": "k1", "use": "sig", "alg": "X", "d": "secret"}
    assert jwk_thumbprint(jwk) == vector["thumbprint"]


@pytest.mark.parametrize("vector", ATH, ids=[v["source"] for v in ATH])
def test_access_token_hash_vectors(vector):
    assert access_token_hash(vector["token"]) == vector["ath"]


def test_ed25519_vector_private_key_derives_its_x():
    (vector,) = [v for v in THUMBPRINTS if "private_d" in v]
    key = KeyPair("EdDSA", Ed25519PrivateKey.from_private_bytes(base64url_decode(vector["private_d"])))
    assert key.public_jwk == vector["jwk"]
    assert key.private_jwk["d"] == vector["private_d"]
    assert key.thumbprint == vector["thumbprint"]


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "oct", "k": "AAAA"},
        {"crv": "Ed25519", "x": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA"},
        {"kty": "RSA", "n": "AAAA"},
        {"kty": "OKP", "crv": "Ed25519", "x": 5},
    ],
)
def test_thumbprint_refuses_unknown_kty_or_missing_member(jwk):
    with pytest.raises(ValueError):
        jwk_thumbprint(jwk)


def test_access_token_hash_needs_ascii():
    with pytest.raises(ValueError):
        access_token_hash("t\u00f6ken")


@pytest.mark.parametrize("alg", ALGS)
def test_generated_key_jwks(alg):
    key = generate_key(alg)
    assert key.alg == alg
    if alg == "EdDSA":
        assert set(key.public_jwk) == {"kty", "crv", "x"}
        assert (key.public_jwk["kty"], key.public_jwk["crv"]) == ("OKP", "Ed25519")
    else:
        assert set(key.public_jwk) == {"kty", "crv", "x", "y"}
        assert (key.public_jwk["kty"], key.public_jwk["crv"]) == ("EC", "P-256")
    assert key.private_jwk == {**key.public_jwk, "d": key.private_jwk["d"]}


@pytest.mark.parametrize("alg", ALGS)
def test_generated_thumbprints_are_stable_and_distinct(alg):
    key, other = generate_key(alg), generate_key(alg)
    assert key.thumbprint == key.thumbprint == jwk_thumbprint(key.public_jwk)
    assert len(key.thumbprint) == 43 and "=" not in key.thumbprint
    assert key.thumbprint != other.thumbprint


def test_public_jwk_is_a_fresh_copy():
    key = generate_key("EdDSA")
    key.public_jwk["x"] = "changed"
    assert key.public_jwk["x"] != "changed"


@pytest.mark.parametrize("alg", ["RS256", "HS256", "none", "eddsa", ""])
def test_generate_key_refuses_other_algs(alg):
    with pytest.raises(ValueError, match="unsupported proof algorithm"):
        generate_key(alg)


def test_keypair_refuses_a_key_of_another_alg():
    with pytest.raises(ValueError):
        KeyPair("ES256", Ed25519PrivateKey.generate())
    with pytest.raises(ValueError):
        KeyPair("ES256", ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError):
        KeyPair("EdDSA", ec.generate_private_key(ec.SECP256R1()))

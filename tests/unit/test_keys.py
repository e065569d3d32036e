import json
from functools import lru_cache
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_decode

from conformance.dpop.keys import ALG_KEYS, SUPPORTED_ALGS, KeyPair, access_token_hash, generate_key, jwk_thumbprint
from conformance.dpop.proofs import build_proof

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "thumbprints.json").read_text("utf-8")
)
THUMBPRINTS = VECTORS["thumbprints"]
ATH = VECTORS["access_token_hashes"]
ALGS = list(SUPPORTED_ALGS)
PYJWT = get_default_algorithms()
# what each alg's public JWK is (kty, crv), written out here, not read from the module under test
KEY_TYPES = {"EdDSA": ("OKP", "Ed25519"), "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"),
             "ES512": ("EC", "P-521"), "RS256": ("RSA", None), "PS256": ("RSA", None)}


@lru_cache(maxsize=None)
def key_for(alg):
    """One generated key per alg for the module (an RSA key takes tens of milliseconds)."""
    return generate_key(alg)


def test_the_suite_signs_every_algorithm_the_profile_names():
    assert set(SUPPORTED_ALGS) >= set(KEY_TYPES)
    assert SUPPORTED_ALGS[:2] == ("EdDSA", "ES256")  # ARCP's default first: the suite's preference


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


@pytest.mark.parametrize("vector", THUMBPRINTS, ids=[v["source"] for v in THUMBPRINTS])
def test_thumbprint_vectors_survive_a_pyjwt_round_trip(vector):
    # the pinned key, loaded and exported again by PyJWT's algorithm object, hashes the same
    alg = {"OKP": "EdDSA", "EC": "ES256", "RSA": "RS256"}[vector["jwk"]["kty"]]
    exported = PYJWT[alg].to_jwk(PYJWT[alg].from_jwk(vector["jwk"]), as_dict=True)
    assert jwk_thumbprint(exported) == vector["thumbprint"]


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
    key = key_for(alg)
    assert key.alg == alg
    kty, crv = KEY_TYPES[alg]
    # exactly the RFC 7638 required members
    assert set(key.public_jwk) == {"OKP": {"kty", "crv", "x"}, "EC": {"kty", "crv", "x", "y"}, "RSA": {"kty", "e", "n"}}[kty]
    assert (key.public_jwk["kty"], key.public_jwk.get("crv")) == (kty, crv)
    private = {"RSA": {"d", "p", "q", "dp", "dq", "qi"}}.get(kty, {"d"})
    assert set(key.private_jwk) == set(key.public_jwk) | private
    assert {k: v for k, v in key.private_jwk.items() if k in key.public_jwk} == key.public_jwk
    if kty == "RSA":
        assert key.private_key.key_size == 2048


@pytest.mark.parametrize("alg", ALGS)
def test_each_algs_key_signs_a_proof_pyjwt_verifies_with_the_public_jwk(alg):
    key = key_for(alg)
    (proof,) = build_proof(key, "POST", "https://arcp.example/agents/register", access_token="t0ken")
    header = jwt.get_unverified_header(proof)
    assert (header["alg"], header["jwk"]) == (alg, key.public_jwk)
    claims = jwt.decode(proof, jwt.PyJWK(header["jwk"], algorithm=alg).key, algorithms=[alg])
    assert claims["htm"] == "POST" and claims["ath"] == access_token_hash("t0ken")
    other = generate_key("EdDSA" if alg != "EdDSA" else "ES256")
    (by_other,) = build_proof(key, "POST", "https://arcp.example/x", defects=["signature-other-key"], other_key=other)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(by_other, jwt.PyJWK(key.public_jwk, algorithm=alg).key, algorithms=[alg])


@pytest.mark.parametrize("alg", ALGS)
def test_thumbprint_equals_that_of_pyjwts_exported_jwk(alg):
    key = key_for(alg)
    exported = PYJWT[alg].to_jwk(key.private_key.public_key(), as_dict=True)  # with PyJWT's extras (key_ops, ...)
    assert key.thumbprint == jwk_thumbprint(exported) == jwk_thumbprint(key.public_jwk)


@pytest.mark.parametrize("alg", ALGS)
def test_generated_thumbprints_are_stable_and_distinct(alg):
    key, other = key_for(alg), generate_key(alg)
    assert key.thumbprint == key.thumbprint == jwk_thumbprint(key.public_jwk)
    assert len(key.thumbprint) == 43 and "=" not in key.thumbprint
    assert key.thumbprint != other.thumbprint


def test_public_jwk_is_a_fresh_copy():
    key = generate_key("EdDSA")
    key.public_jwk["x"] = "changed"
    assert key.public_jwk["x"] != "changed"


@pytest.mark.parametrize("alg", ["RS384", "ES256K", "HS256", "none", "eddsa", ""])
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
    with pytest.raises(ValueError, match="P-521"):
        KeyPair("ES512", ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="RSA"):
        KeyPair("RS256", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError):
        KeyPair("ES256", key_for("PS256").private_key)
    with pytest.raises(ValueError, match="2048"):
        KeyPair("PS256", rsa.generate_private_key(public_exponent=65537, key_size=1024))


def test_every_alg_has_one_row_of_the_table():
    for alg in SUPPORTED_ALGS:
        spec = ALG_KEYS[alg]
        assert (spec.kty, spec.crv) == KEY_TYPES.get(alg, (spec.kty, spec.crv))

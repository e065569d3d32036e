import itertools
import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_decode, base64url_encode

from conformance.dpop.key_documents import x5c_chain
from conformance.dpop.keys import SUPPORTED_ALGS, KeyPair, access_token_hash, generate_key
from conformance.dpop.own_keys import OWN_KEY_DEFECTS, SIGNERS, UNKNOWN_CRV, own_key
from conformance.dpop.proofs import CONTROLS, DEFECTS, build_proof, decode_unverified, htu_for, own_key_of, proof_parts

ALGS = list(SUPPORTED_ALGS)
NOW = 1_700_000_000
JTI = "3f1c2a9e-5b7d-4c1e-9a2f-8d6b4e0c7a15"
URL = "https://arcp.example:8443/auth/agent/validate_compliance?x=1#frag"
HTU = "https://arcp.example:8443/auth/agent/validate_compliance"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2lnbmF0dXJl"
CRIT = "urn:arcp-conformance:unknown"
KEY_URL = "http://127.0.0.1:8002/keys/aGVsbG8ta2V5LXVybA.json"  # the caller's: build_proof only names it
DROP = object()  # "this member is absent" in an expectation


class Not:
    """Equal to any string but `value`: for a member that must change, to anything else."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, str) and other != self.value

    def __repr__(self):
        return f"<any str but {self.value!r}>"


# Per defect: (header changes, claim changes, how the signature checks) against a valid proof
# of the same key, request, token, now and jti. A callable value is computed from the Case.
# Signature modes: jwk = verifies under the header's jwk; empty = no signature (alg none);
# hmac-x = HMAC-SHA256 keyed with the jwk's x (RSA: n); bad = fails under the jwk, same length;
# other-key = fails under the jwk, verifies under other_key; two = two valid proofs;
# key = no jwk in the header, verifies under the key's public jwk.
EXPECTED = {
    "typ-missing": ({"typ": DROP}, {}, "jwk"),
    "typ-wrong": ({"typ": "jwt"}, {}, "jwk"),
    "alg-none": ({"alg": "none"}, {}, "empty"),
    "alg-hs256": ({"alg": "HS256"}, {}, "hmac-x"),
    "jwk-private": ({"jwk": lambda case: case.key.private_jwk}, {}, "jwk"),
    "signature-bad": ({}, {}, "bad"),
    "signature-other-key": ({}, {}, "other-key"),
    "crit-unknown": ({"crit": [CRIT], CRIT: True}, {}, "jwk"),
    "jti-missing": ({}, {"jti": DROP}, "jwk"),
    "iat-missing": ({}, {"iat": DROP}, "jwk"),
    "htm-missing": ({}, {"htm": DROP}, "jwk"),
    "htm-wrong": ({}, {"htm": "PUT"}, "jwk"),
    "htm-lowercase": ({}, {"htm": "post"}, "jwk"),
    "htu-missing": ({}, {"htu": DROP}, "jwk"),
    "htu-path": ({}, {"htu": HTU + "-elsewhere"}, "jwk"),
    "htu-path-case": ({}, {"htu": HTU.replace("/auth/", "/Auth/")}, "jwk"),
    "htu-host": ({}, {"htu": HTU.replace("arcp.example", "elsewhere.invalid")}, "jwk"),
    "htu-scheme": ({}, {"htu": HTU.replace("https:", "http:")}, "jwk"),
    "htu-port": ({}, {"htu": HTU.replace(":8443", ":8444")}, "jwk"),
    "iat-old": ({}, {"iat": NOW - 600}, "jwk"),
    "iat-future": ({}, {"iat": NOW + 600}, "jwk"),
    "exp-past": ({}, {"exp": NOW - 600}, "jwk"),
    "nbf-future": ({}, {"nbf": NOW + 600}, "jwk"),
    "ath-wrong": ({}, {"ath": Not(access_token_hash(TOKEN))}, "jwk"),
    "ath-missing": ({}, {"ath": DROP}, "jwk"),
    "two-headers": ({}, {}, "two"),
    "kid-instead": ({"jwk": DROP, "kid": lambda case: case.key.thumbprint}, {}, "key"),
    "jku-instead": ({"jwk": DROP, "jku": KEY_URL}, {}, "key"),
    "x5u-instead": ({"jwk": DROP, "x5u": KEY_URL}, {}, "key"),
    "x5c-instead": ({"jwk": DROP, "x5c": lambda case: x5c_chain(case.key)}, {}, "key"),
    # a key of its own (own_keys): the header's alg and jwk are the own key's, and so is the signature
    **{name: ({"alg": own_key(name).alg, "jwk": own_key(name).jwk}, {}, "own") for name in OWN_KEY_DEFECTS},
}
CONTROL_EXPECTED = {
    "htu-with-query": ({}, {"htu": HTU + "?q=1#f"}, "jwk"),
    "unknown-header": ({"x-arcp-conformance": "ignored"}, {}, "jwk"),
    "htu-unnormalized": ({}, {"htu": "HTTPS://arcp.example:8443/./%61uth/agent/validate_compliance"}, "jwk"),
}


@dataclass
class Case:
    key: KeyPair
    other_key: KeyPair

    def build(self, *defects, method="POST", url=URL, token=TOKEN, **kwargs):
        return build_proof(
            self.key, method, url, access_token=token, defects=defects,
            other_key=self.other_key, now=NOW, jti=JTI, **{"key_url": KEY_URL, **kwargs},
        )


KEYS_FOR = {alg: generate_key(alg) for alg in ("EdDSA", "ES256", "PS256")}  # the own keys' algs


@pytest.fixture(scope="module", params=ALGS)
def case(request):
    return Case(generate_key(request.param), generate_key(request.param))


@pytest.fixture(scope="module")
def ed_case():
    return Case(generate_key("EdDSA"), generate_key("EdDSA"))


def verifies(proof, jwk, alg):
    """Whether the proof's signature verifies under the public members of `jwk` with `alg`."""
    signing_input, _, signature = proof.rpartition(".")
    algorithm = get_default_algorithms()[alg]
    key = algorithm.from_jwk({name: value for name, value in jwk.items() if name != "d"})
    return algorithm.verify(signing_input.encode(), key, base64url_decode(signature))


def own_verifies(proof, own):
    """Whether the proof's signature verifies under the own key's public key, as it signs."""
    signing_input, _, signature = proof.rpartition(".")
    return SIGNERS[own.signer].verify(signing_input.encode(), own.private_key.public_key(), base64url_decode(signature))


def expected(case, changes_list):
    """The valid proof's (header, claims) with every given (header, claim) change applied."""
    (proof,) = case.build()
    header, claims = decode_unverified(proof)
    for header_changes, claim_changes in changes_list:
        for target, changes in ((header, header_changes), (claims, claim_changes)):
            for name, value in changes.items():
                if value is DROP:
                    target.pop(name)
                else:
                    target[name] = value(case) if callable(value) else value
    return header, claims


def test_catalogue_and_expectations_in_sync():
    # A new defect or control must come with its expectation here.
    assert set(DEFECTS) == set(EXPECTED)
    assert set(CONTROLS) == set(CONTROL_EXPECTED)
    assert not set(DEFECTS) & set(CONTROLS)


def test_catalogue_entries_are_well_formed():
    for name, entry in {**DEFECTS, **CONTROLS}.items():
        assert entry.name == name
        assert entry.summary and "\n" not in entry.summary
    assert {n for n, d in DEFECTS.items() if d.needs_token} == {"ath-wrong", "ath-missing"}
    assert {n for n, d in DEFECTS.items() if d.needs_other_key} == {"signature-other-key"}
    assert {n: d.key_url_serves for n, d in DEFECTS.items() if d.key_url_serves} == {"jku-instead": "jwk-set", "x5u-instead": "certificate"}
    assert {n for n, d in DEFECTS.items() if d.own_key} == set(OWN_KEY_DEFECTS)


def test_valid_proof(case):
    (proof,) = case.build()
    header, claims = decode_unverified(proof)
    assert header == {"typ": "dpop+jwt", "alg": case.key.alg, "jwk": case.key.public_jwk}
    assert claims == {
        "jti": JTI, "htm": "POST", "htu": HTU, "iat": NOW, "ath": access_token_hash(TOKEN)
    }
    assert jwt.get_unverified_header(proof) == header
    verified = jwt.decode(proof, jwt.PyJWK(header["jwk"]).key, algorithms=[case.key.alg])
    assert verified == claims


def test_valid_proof_without_token_has_no_ath(case):
    (proof,) = case.build(token=None, method="get")
    header, claims = decode_unverified(proof)
    assert set(header) == {"typ", "alg", "jwk"}
    assert claims == {"jti": JTI, "htm": "GET", "htu": HTU, "iat": NOW}
    assert verifies(proof, header["jwk"], case.key.alg)


def test_defaults_are_a_fresh_uuid_and_the_current_time(case):
    before = int(time.time())
    first, second = (build_proof(case.key, "GET", URL)[0] for _ in range(2))
    claims, other = decode_unverified(first)[1], decode_unverified(second)[1]
    assert str(uuid.UUID(claims["jti"])) == claims["jti"] != other["jti"]
    assert before <= claims["iat"] <= int(time.time())


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_is_exactly_that_defect(case, name):
    header_changes, claim_changes, signature = EXPECTED[name]
    want_header, want_claims = expected(case, [(header_changes, claim_changes)])
    proofs = case.build(name)
    assert len(proofs) == (2 if signature == "two" else 1)
    header, claims = decode_unverified(proofs[0])
    assert (header, claims) == (want_header, want_claims)

    jwk, alg = case.key.public_jwk, case.key.alg
    if signature == "jwk":
        assert verifies(proofs[0], header["jwk"], alg)
    elif signature == "key":
        assert "jwk" not in header and verifies(proofs[0], jwk, alg)
    elif signature == "empty":
        assert proofs[0].endswith(".") and proofs[0].count(".") == 2
    elif signature == "hmac-x":
        hmac = get_default_algorithms()["HS256"]
        signing_input, _, sig = proofs[0].rpartition(".")
        secret = hmac.prepare_key(jwk["n" if jwk["kty"] == "RSA" else "x"].encode())
        assert hmac.verify(signing_input.encode(), secret, base64url_decode(sig))
    elif signature == "bad":
        assert not verifies(proofs[0], jwk, alg)
        (valid,) = case.build()
        assert len(proofs[0].rpartition(".")[2]) == len(valid.rpartition(".")[2])
    elif signature == "other-key":
        assert not verifies(proofs[0], jwk, alg)
        assert verifies(proofs[0], case.other_key.public_jwk, alg)
    elif signature == "own":
        assert own_verifies(proofs[0], own_key(name))
    elif signature == "two":
        second_header, second_claims = decode_unverified(proofs[1])
        assert (second_header, second_claims) == (want_header, {**want_claims, "jti": Not(JTI)})
        assert all(verifies(proof, jwk, alg) for proof in proofs)
    else:
        pytest.fail(f"no signature expectation {signature!r}")


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_controls_are_valid_but_odd(case, name):
    header_changes, claim_changes, _ = CONTROL_EXPECTED[name]
    (proof,) = case.build(name)
    assert decode_unverified(proof) == expected(case, [(header_changes, claim_changes)])
    assert verifies(proof, case.key.public_jwk, case.key.alg)


def test_documented_combination(case):
    (proof,) = case.build("typ-wrong", "iat-old")
    want = expected(case, [EXPECTED["typ-wrong"][:2], EXPECTED["iat-old"][:2]])
    assert decode_unverified(proof) == want
    assert verifies(proof, case.key.public_jwk, case.key.alg)


SIGNED_UNDER_JWK = sorted(n for n, e in {**EXPECTED, **CONTROL_EXPECTED}.items() if e[2] in ("jwk", "key"))


@pytest.mark.parametrize("first,second", list(itertools.combinations(SIGNED_UNDER_JWK, 2)))
def test_pairs_compose_unless_they_change_the_same_member(ed_case, first, second):
    changes = [EXPECTED.get(n, CONTROL_EXPECTED.get(n))[:2] for n in (first, second)]
    touched = [set(header) | {"claims." + c for c in claims} for header, claims in changes]
    if touched[0] & touched[1]:
        with pytest.raises(ValueError, match="both change"):
            ed_case.build(first, second)
        return
    for order in ((first, second), (second, first)):
        (proof,) = ed_case.build(*order)
        assert decode_unverified(proof) == expected(ed_case, changes)
        assert verifies(proof, ed_case.key.public_jwk, "EdDSA")


def test_signature_defect_composes_with_a_claim_defect(case):
    (proof,) = case.build("signature-bad", "ath-wrong")
    assert decode_unverified(proof) == expected(case, [EXPECTED["ath-wrong"][:2]])
    assert not verifies(proof, case.key.public_jwk, case.key.alg)


def test_two_headers_compose_with_a_claim_defect(case):
    proofs = case.build("two-headers", "iat-old")
    assert [decode_unverified(p)[1]["iat"] for p in proofs] == [NOW - 600, NOW - 600]


def test_two_signature_defects_do_not_compose(case):
    with pytest.raises(ValueError, match="both change"):
        case.build("alg-none", "signature-bad")


def test_repeated_defect_counts_once(case):
    assert decode_unverified(case.build("iat-old", "iat-old")[0])[1]["iat"] == NOW - 600


def test_unknown_defect_is_refused(case):
    with pytest.raises(ValueError, match="no-such-defect"):
        case.build("no-such-defect")


@pytest.mark.parametrize("name", ["ath-wrong", "ath-missing"])
def test_ath_defects_need_a_token(case, name):
    with pytest.raises(ValueError, match="access_token"):
        case.build(name, token=None)


@pytest.mark.parametrize("name", ["jku-instead", "x5u-instead"])
def test_key_url_defects_need_a_key_url(ed_case, name):
    with pytest.raises(ValueError, match="key_url"):
        ed_case.build(name, key_url=None)


def test_signature_other_key_needs_a_different_key(case):
    with pytest.raises(ValueError, match="other_key"):
        build_proof(case.key, "POST", URL, defects=["signature-other-key"])
    with pytest.raises(ValueError, match="other_key"):
        build_proof(case.key, "POST", URL, defects=["signature-other-key"], other_key=case.key)


def test_signature_other_key_of_another_alg_signs_with_that_alg(case):
    # the header keeps the alg and jwk of the key; the signature is the other key's, by its own alg
    other = generate_key("ES256" if case.key.alg == "EdDSA" else "EdDSA")
    for token in (TOKEN, None):
        (proof,) = build_proof(case.key, "POST", URL, access_token=token, defects=["signature-other-key"], other_key=other, now=NOW, jti=JTI)
        (valid,) = build_proof(case.key, "POST", URL, access_token=token, now=NOW, jti=JTI)
        assert decode_unverified(proof) == decode_unverified(valid)
        assert proof.rpartition(".")[0] == valid.rpartition(".")[0]  # the same signed bytes, as jwt.encode writes them
        assert not verifies(proof, case.key.public_jwk, case.key.alg)
        assert verifies(proof, other.public_jwk, other.alg)


def test_extras_are_added_and_defects_still_apply(case):
    (proof,) = case.build(
        "typ-wrong", extra_headers={"kid": "k1"}, extra_claims={"nonce": "n-1"}
    )
    header, claims = decode_unverified(proof)
    assert header["kid"] == "k1" and header["typ"] == "jwt"
    assert claims["nonce"] == "n-1"
    assert verifies(proof, header["jwk"], case.key.alg)


@pytest.mark.parametrize(
    "name,url,htu",
    [
        ("htu-scheme", "http://h.example/p?q", "https://h.example:80/p"),
        ("htu-scheme", "https://h.example/p", "http://h.example:443/p"),
        ("htu-scheme", "http://h.example:8080/p", "https://h.example:8080/p"),
        ("htu-scheme", "https://[::1]:8443/p", "http://[::1]:8443/p"),
        ("htu-port", "http://h.example/p", "http://h.example:8443/p"),
        ("htu-port", "http://h.example:65535/p", "http://h.example:65534/p"),
        ("htu-port", "https://[::1]/p", "https://[::1]:8443/p"),
        ("htu-host", "http://H.Example:81/p#f", "http://elsewhere.invalid:81/p"),
        ("htu-host", "https://[::1]/p", "https://elsewhere.invalid/p"),
        ("htu-path", "https://h.example", "https://h.example/-elsewhere"),
        ("htu-path", "https://h.example/a/b/?q=1", "https://h.example/a/b/-elsewhere"),
    ],
)
def test_htu_defects_change_one_url_part(ed_case, name, url, htu):
    (proof,) = ed_case.build(name, url=url)
    assert decode_unverified(proof)[1]["htu"] == htu


def test_htu_scheme_needs_http_or_https(ed_case):
    with pytest.raises(ValueError, match="http"):
        ed_case.build("htu-scheme", url="ftp://h.example/p")


@pytest.mark.parametrize("method,wrong", [("POST", "PUT"), ("post", "PUT"), ("GET", "POST")])
def test_htm_wrong(ed_case, method, wrong):
    (proof,) = ed_case.build("htm-wrong", method=method)
    assert decode_unverified(proof)[1]["htm"] == wrong


def test_htu_for_keeps_everything_but_query_and_fragment():
    assert htu_for("HTTPS://Host.Example:8443/a/../b?x=1#f") == "https://Host.Example:8443/a/../b"


def test_decode_unverified_refuses_a_non_jwt():
    with pytest.raises(jwt.DecodeError):
        decode_unverified("not-a-jwt")


def test_a_single_name_may_be_given_as_a_string(case):
    (proof,) = build_proof(case.key, "GET", URL, defects="iat-old", now=NOW)
    assert decode_unverified(proof)[1]["iat"] == NOW - 600


def jwt_encode_reference(header, claims, signing_key, break_signature=False):
    """The proof jwt.encode makes of this header and these claims (build_proof's fast path
    assembles it itself: it must come out the same, byte for byte)."""
    headers = {"typ": None, **header}  # typ None: PyJWT leaves typ out instead of adding "JWT"
    proof = jwt.encode(claims, signing_key, algorithm=header["alg"], headers=headers)
    if break_signature:
        signing_input, _, signature = proof.rpartition(".")
        altered = bytes(b ^ 0x01 for b in base64url_decode(signature))
        proof = f"{signing_input}.{base64url_encode(altered).decode('ascii')}"
    return proof


@pytest.mark.parametrize("token", [TOKEN, None])
@pytest.mark.parametrize("name", [None, *sorted(DEFECTS), *sorted(CONTROLS)])
def test_every_proof_is_what_jwt_encode_makes_of_it(case, name, token):
    if name is not None and {**DEFECTS, **CONTROLS}[name].needs_token and token is None:
        pytest.skip("needs a token")
    defects = () if name is None else (name,)
    proofs = case.build(*defects, token=token)
    parts = proof_parts(case.key, "POST", URL, access_token=token, defects=defects,
                        other_key=case.other_key, now=NOW, jti=JTI, key_url=KEY_URL)
    assert len(proofs) == parts.copies
    for proof in proofs:
        header, claims = decode_unverified(proof)
        assert header == parts.header
        if own_key_of(name or "") is not None:
            # jwt.encode refuses some own keys (ES256 on P-384, RSA for ES256): the signed bytes are
            # what it makes of this header and these claims with a key that fits the alg
            stand_in = KEYS_FOR[header["alg"]]
            assert proof.rpartition(".")[0] == jwt_encode_reference(parts.header, claims, stand_in.private_key).rpartition(".")[0]
            assert own_verifies(proof, own_key(name))
            continue
        reference = jwt_encode_reference(parts.header, claims, parts.signing_key, parts.break_signature)
        if case.key.alg == "EdDSA" or parts.signing_key is None or header["alg"] == "HS256":
            assert proof == reference  # deterministic signatures: the whole proof, byte for byte
        else:  # ECDSA signs with a fresh nonce: the signed bytes must match, and the signature verify
            assert proof.rpartition(".")[0] == reference.rpartition(".")[0]
            signer = case.other_key if name == "signature-other-key" else case.key
            assert verifies(proof, signer.public_jwk, signer.alg) is (name != "signature-bad")


@pytest.mark.parametrize("token", [TOKEN, None])
def test_default_proofs_are_what_jwt_encode_makes_of_them(case, token):
    # fresh jti and current iat, as a run builds them, for both the fast and the general path
    for extra_claims in (None, {"nonce": "n-1"}):
        (proof,) = build_proof(case.key, "GET", URL, access_token=token, extra_claims=extra_claims)
        header, claims = decode_unverified(proof)
        reference = jwt_encode_reference(header, claims, case.key.private_key)
        if case.key.alg == "EdDSA":
            assert proof == reference
        else:
            assert proof.rpartition(".")[0] == reference.rpartition(".")[0]
            assert verifies(proof, header["jwk"], case.key.alg)


# --- the defects with a key of their own, and the new claim defects ---------------------------

def public_numbers(jwk):
    """(kty, crv or None, the key's size in bits or its raw public bytes) of a public JWK."""
    if jwk["kty"] == "RSA":
        return "RSA", None, int.from_bytes(base64url_decode(jwk["n"]), "big").bit_length()
    return jwk["kty"], jwk["crv"], base64url_decode(jwk["x"])


@pytest.mark.parametrize("name, alg, kty, crv, signer", [
    ("jwk-x25519", "EdDSA", "OKP", "X25519", "Ed25519"),
    ("jwk-x448", "EdDSA", "OKP", "X448", "Ed448"),
    ("jwk-crv-unknown", "EdDSA", "OKP", UNKNOWN_CRV, "Ed25519"),
    ("jwk-curve-mismatch", "ES256", "EC", "P-384", "P-384 with SHA-256"),
    ("jwk-rsa-for-ec", "ES256", "RSA", None, "RS256"),
    ("jwk-rsa-short", "PS256", "RSA", None, "PS256"),
])
def test_an_own_key_names_a_jwk_unfit_for_its_alg_that_its_signer_matches(ed_case, name, alg, kty, crv, signer):
    own = own_key(name)
    (proof,) = ed_case.build(name)
    header, _ = decode_unverified(proof)
    assert (header["alg"], header["jwk"]["kty"], header["jwk"].get("crv")) == (alg, kty, crv)
    assert set(header["jwk"]) == ({"e", "kty", "n"} if kty == "RSA" else {"crv", "kty", "x", "y"} if kty == "EC" else {"crv", "kty", "x"})
    _, _, numbers = public_numbers(header["jwk"])
    public = own.private_key.public_key()
    if kty == "OKP":  # the x of an Ed25519 / Ed448 signing key, under a label that is not its curve
        assert numbers == public.public_bytes_raw() and len(numbers) == {"Ed25519": 32, "Ed448": 57}[signer]
    elif kty == "EC":  # a P-384 point, signed with ES256's hash (PyJWT's ES256 itself refuses P-384)
        assert public.curve.name == "secp384r1" and own.signer != "ES256"
        with pytest.raises(Exception):
            get_default_algorithms()["ES256"].prepare_key(own.private_key)
    else:
        assert numbers == (1024 if name == "jwk-rsa-short" else 2048) and own.signer == signer
    assert own_verifies(proof, own)
    assert own.thumbprint != ed_case.key.thumbprint


def test_own_keys_are_the_same_for_the_whole_process_and_the_seeded_ones_in_every_run(ed_case):
    first = decode_unverified(ed_case.build("jwk-rsa-short")[0])[0]["jwk"]
    assert decode_unverified(ed_case.build("jwk-rsa-short")[0])[0]["jwk"] == first
    # derived from a fixed seed: a reproducer, in another process, names the very same key
    assert own_key("jwk-x25519").jwk["x"] == "iVlxo_PqafQTEgcuSfrccKezmFEq-zlrFqmt2cGyGoU"
    assert own_key("jwk-curve-mismatch").thumbprint == "jjwx6D3lzyRkE_5U5snbsE1YVlC7_4TpeHr2LZ-DICs"


@pytest.mark.parametrize("name", OWN_KEY_DEFECTS)
def test_an_own_key_does_not_compose_with_what_changes_the_jwk_or_the_signature(ed_case, name):
    for other in ("jwk-private", "signature-bad", "alg-none", *[n for n in OWN_KEY_DEFECTS if n != name]):
        with pytest.raises(ValueError, match="both change"):
            ed_case.build(name, other)
    (proof,) = ed_case.build(name, "htm-wrong")  # a claim defect still composes
    assert decode_unverified(proof)[1]["htm"] == "PUT" and own_verifies(proof, own_key(name))


def test_own_key_of_names_only_the_own_key_defects():
    assert {n for n in [*DEFECTS, *CONTROLS, "valid", "none"] if own_key_of(n) is not None} == set(OWN_KEY_DEFECTS)


def test_the_valid_proof_carries_neither_exp_nor_nbf(case):
    for token in (TOKEN, None):
        claims = decode_unverified(case.build(token=token)[0])[1]
        assert not {"exp", "nbf"} & set(claims)


def test_exp_and_nbf_are_set_from_the_proof_time_not_its_iat(ed_case):
    (proof,) = ed_case.build("exp-past", "nbf-future", "iat-old")
    claims = decode_unverified(proof)[1]
    assert (claims["iat"], claims["exp"], claims["nbf"]) == (NOW - 600, NOW - 600, NOW + 600)


@pytest.mark.parametrize("method, htm", [("POST", "post"), ("get", "get"), ("DELETE", "delete")])
def test_htm_lowercase_is_the_request_method_in_lower_case(ed_case, method, htm):
    (proof,) = ed_case.build("htm-lowercase", method=method)
    assert decode_unverified(proof)[1]["htm"] == htm


@pytest.mark.parametrize("url, htu", [
    ("https://h.example/agents/a1/heartbeat?q", "https://h.example/Agents/a1/heartbeat"),
    ("https://H.Example:8443/Tokens/refresh", "https://H.Example:8443/tokens/refresh"),  # only the path changes
    ("http://h.example/1/x", "http://h.example/1/X"),
])
def test_htu_path_case_swaps_the_case_of_the_first_letter_of_the_path(ed_case, url, htu):
    (proof,) = ed_case.build("htu-path-case", url=url)
    assert decode_unverified(proof)[1]["htu"] == htu


def test_htu_path_case_needs_a_letter_in_the_path(ed_case):
    with pytest.raises(ValueError, match="letter"):
        ed_case.build("htu-path-case", url="https://h.example/1/2")

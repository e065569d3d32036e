"""What a key-reference proof names leads to its own key A (conformance.dpop.key_documents): a
server that looks the key up there finds A, so accepting such a proof is the defect, not a
broken document."""
import base64
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.dpop.key_documents import CERTIFICATE, JWK_SET, jwk_set, key_document, self_signed_certificate, x5c_chain
from conformance.dpop.keys import SUPPORTED_ALGS, generate_key, jwk_thumbprint


def public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module", params=SUPPORTED_ALGS)
def key(request):
    return generate_key(request.param)


def test_the_x5c_certificate_is_key_a_signed_by_itself(key):
    (der,) = x5c_chain(key)
    certificate = x509.load_der_x509_certificate(base64.b64decode(der, validate=True))  # standard base64 (RFC 7515 §4.1.6)
    assert public_der(certificate.public_key()) == public_der(key.private_key.public_key())
    certificate.verify_directly_issued_by(certificate)  # raises unless self-signed by A
    assert certificate == self_signed_certificate(key)  # made once per key


def test_the_x5u_document_is_the_same_certificate_in_pem(key):
    document = key_document(CERTIFICATE, key)
    assert document.content_type == "application/pem-certificate-chain" and document.suffix == ".pem"
    assert x509.load_pem_x509_certificate(document.body) == self_signed_certificate(key)


def test_the_jku_document_is_a_jwk_set_with_key_a(key):
    document = key_document(JWK_SET, key)
    assert document.content_type == "application/jwk-set+json" and document.suffix == ".json"
    (jwk,) = json.loads(document.body)["keys"]
    assert jwk == jwk_set(key)["keys"][0]
    assert jwk["kid"] == key.thumbprint == jwk_thumbprint(jwk) and jwk["alg"] == key.alg
    assert {k: v for k, v in jwk.items() if k in key.public_jwk} == key.public_jwk and "d" not in jwk


def test_an_unknown_kind_is_refused(key):
    with pytest.raises(ValueError, match="no key document"):
        key_document("x5t", key)

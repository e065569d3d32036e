"""Documents that name a proof key by reference (RFC 7515 §4.1.2-§4.1.6): a JWK Set for `jku`, a
self-signed X.509 certificate for `x5u` and `x5c`. Pure (no I/O): the wire layer serves them.

A proof names its key in `jwk` and nowhere else (RFC 9449 §4.2); the key-reference defects of
dpop.proofs replace `jwk` with one of these, so that a server that looks the key up elsewhere
finds key A there and accepts a proof it must refuse.
"""
from __future__ import annotations

import base64
import datetime
import functools
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from .keys import KeyPair

JWK_SET, CERTIFICATE = "jwk-set", "certificate"  # what a key URL serves (proofs.Defect.key_url_serves)
SUBJECT = "arcp-conformance proof key"
CERTIFICATE_DAYS = 30


@dataclass(frozen=True)
class KeyDocument:
    body: bytes
    content_type: str
    suffix: str  # the end of the URL it is served at: what it is, for a human reading the URL


def jwk_set(key: KeyPair) -> dict:
    """A JWK Set (RFC 7517 §5) holding the public key of `key`, its kid the RFC 7638 thumbprint."""
    return {"keys": [{**key.public_jwk, "kid": key.thumbprint, "alg": key.alg, "use": "sig"}]}


@functools.lru_cache(maxsize=64)  # keys are pooled; RSA signing costs milliseconds
def self_signed_certificate(key: KeyPair) -> x509.Certificate:
    """An X.509 certificate for the public key of `key`, signed by the key itself."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
    )
    # Ed25519 signs without a separate hash (RFC 8410); EC and RSA keys sign SHA-256
    digest = None if isinstance(key.private_key, Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key.private_key, digest)


def x5c_chain(key: KeyPair) -> list[str]:
    """The x5c header value: the certificate's DER in standard base64, not base64url (RFC 7515 §4.1.6)."""
    der = self_signed_certificate(key).public_bytes(serialization.Encoding.DER)
    return [base64.b64encode(der).decode("ascii")]


def key_document(kind: str, key: KeyPair) -> KeyDocument:
    """What a key URL serves for `kind` (JWK_SET for jku, CERTIFICATE for x5u: PEM, RFC 7515 §4.1.5)."""
    if kind == JWK_SET:
        return KeyDocument(json.dumps(jwk_set(key)).encode(), "application/jwk-set+json", ".json")
    if kind == CERTIFICATE:
        pem = self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
        return KeyDocument(pem, "application/pem-certificate-chain", ".pem")
    raise ValueError(f"no key document of kind {kind!r}: expected {JWK_SET} or {CERTIFICATE}")

"""DPoP proofs (RFC 9449 §4.2), valid or with one named defect each (pure: no I/O).

`build_proof` makes the header and claims of a valid proof, lets each requested defect (or
positive control) change its one part of them, then signs. Every defect leaves all other
parts valid, so a server that accepts the proof has missed exactly that check.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_decode, base64url_encode

from .json_text import read_segment
from .key_documents import CERTIFICATE, JWK_SET, x5c_chain
from .keys import KeyPair, access_token_hash
from .own_keys import OWN_KEY_DEFECTS, SHORT_RSA_BITS, SIGNERS, UNKNOWN_CRV, OwnKey, own_key

CRIT_PARAMETER = "urn:arcp-conformance:unknown"
UNKNOWN_HEADER = "x-arcp-conformance"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Defect:
    name: str
    summary: str  # one line: what is wrong with the proof (or, for a control, what is odd)
    needs_token: bool
    needs_other_key: bool
    # what the key URL the proof names must serve (key_documents.JWK_SET or CERTIFICATE); None: it names none
    key_url_serves: str | None = None
    # The proof names a key of its own, not the run's key A (own_keys): presented with a token
    # bound to A, a server may refuse it for the binding alone, so it is presented with a token
    # bound to its own jwk (own_key_of) to leave the defect the proof's only one.
    own_key: bool = False


@dataclass
class ProofParts:
    """A proof before signing; defects edit it in place."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_key: Any  # what jwt.encode signs with: a private key, HMAC secret bytes, or None
    key: KeyPair
    other_key: KeyPair | None
    access_token: str | None
    break_signature: bool = False
    copies: int = 1
    signing_alg: str | None = None  # the SIGNERS entry that signs, when not the header's alg (signature-other-key, own keys)
    key_url: str | None = None  # a URL serving the key (jku-instead, x5u-instead): the caller's, this layer does no I/O
    hand_signed: bool = False  # assembled by hand (_encode_signed_by): jwt.encode refuses or warns about some own keys
    now: int = 0  # the time the proof is made at (iat, unless a defect changes it)


DEFECTS: dict[str, Defect] = {}
CONTROLS: dict[str, Defect] = {}
_TRANSFORMS: dict[str, Callable[[ProofParts], None]] = {}
_TARGETS: dict[str, str] = {}  # the part a name changes: two names on one part do not compose
# Parts that contain others: an own key replaces both the jwk and what signs.
_CONTAINS = {"key": ("jwk", "signature")}


def _register(name, target, summary, *, needs_token=False, needs_other_key=False, key_url_serves=None, control=False, own=False):
    def register(transform: Callable[[ProofParts], None]):
        catalogue = CONTROLS if control else DEFECTS
        catalogue[name] = Defect(name, summary, needs_token, needs_other_key, key_url_serves, own)
        _TRANSFORMS[name] = transform
        _TARGETS[name] = target
        return transform

    return register


# --- header ---------------------------------------------------------------------------------

@_register("typ-missing", "typ", "header has no typ")
def _typ_missing(p):
    del p.header["typ"]


@_register("typ-wrong", "typ", 'header typ is "jwt", not "dpop+jwt"')
def _typ_wrong(p):
    p.header["typ"] = "jwt"


@_register("alg-none", "signature", 'alg is "none" and the signature part is empty')
def _alg_none(p):
    p.header["alg"] = "none"
    p.signing_key = None


@_register("alg-hs256", "signature", "alg is HS256 (symmetric), HMAC keyed with the jwk's x (RSA: n)")
def _alg_hs256(p):
    # Key confusion: a server that feeds the jwk's material to the header's alg would accept it.
    p.header["alg"] = "HS256"
    p.signing_key = hmac_secret(p.key.public_jwk)


def hmac_secret(jwk: dict[str, Any]) -> bytes:
    """The public key material alg-hs256 keys its HMAC with: the jwk's x (OKP, EC) or n (RSA)."""
    return jwk["n" if jwk["kty"] == "RSA" else "x"].encode("ascii")


@_register("jwk-private", "jwk", "jwk header holds the private member d")
def _jwk_private(p):
    p.header["jwk"] = p.key.private_jwk


@_register("signature-bad", "signature", "signature bytes altered (same length)")
def _signature_bad(p):
    p.break_signature = True


@_register(
    "signature-other-key", "signature", "signed by another key than the jwk", needs_other_key=True
)
def _signature_other_key(p):
    if p.other_key.thumbprint == p.key.thumbprint:
        raise ValueError("signature-other-key needs other_key to be a different key")
    # The header keeps alg and jwk of `key`; the signature is the other key's, by its own alg
    # when that differs (an Ed25519 key cannot make an ES256 signature): wrong either way.
    p.signing_key = p.other_key.private_key
    p.signing_alg = p.other_key.alg


@_register("crit-unknown", "crit", f"crit lists {CRIT_PARAMETER}, which no server understands")
def _crit_unknown(p):
    p.header["crit"] = [CRIT_PARAMETER]
    p.header[CRIT_PARAMETER] = True


# --- claims ---------------------------------------------------------------------------------

@_register("jti-missing", "jti", "no jti claim")
def _jti_missing(p):
    del p.claims["jti"]


@_register("iat-missing", "iat", "no iat claim")
def _iat_missing(p):
    del p.claims["iat"]


@_register("htm-missing", "htm", "no htm claim")
def _htm_missing(p):
    del p.claims["htm"]


@_register("htm-wrong", "htm", "htm is another method than the request's")
def _htm_wrong(p):
    p.claims["htm"] = "PUT" if p.claims["htm"] == "POST" else "POST"


@_register("htm-lowercase", "htm", 'htm is the request method in lower case ("post"): methods are case-sensitive')
def _htm_lowercase(p):
    p.claims["htm"] = p.claims["htm"].lower()


@_register("htu-missing", "htu", "no htu claim")
def _htu_missing(p):
    del p.claims["htu"]


@_register("htu-path", "htu", 'htu path differs ("-elsewhere" appended)')
def _htu_path(p):
    url = urlsplit(p.claims["htu"])
    p.claims["htu"] = urlunsplit(url._replace(path=(url.path or "/") + "-elsewhere"))


@_register("htu-path-case", "htu", "htu path with its first letter's case swapped (a path is case-sensitive, RFC 3986 §6.2.2.1)")
def _htu_path_case(p):
    url = urlsplit(p.claims["htu"])
    path, swapped = re.subn(r"[A-Za-z]", lambda m: m.group(0).swapcase(), url.path, count=1)
    if not swapped:
        raise ValueError("htu-path-case needs a URL whose path has a letter")
    p.claims["htu"] = urlunsplit(url._replace(path=path))


@_register("htu-host", "htu", "htu host is elsewhere.invalid (port kept)")
def _htu_host(p):
    url = urlsplit(p.claims["htu"])
    userinfo, _, port = _split_netloc(url.netloc)
    netloc = userinfo + "elsewhere.invalid" + (f":{port}" if port else "")
    p.claims["htu"] = urlunsplit(url._replace(netloc=netloc))


@_register("htu-scheme", "htu", "htu scheme swapped http<->https (host and port kept)")
def _htu_scheme(p):
    url = urlsplit(p.claims["htu"])
    scheme = url.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"htu-scheme needs an http or https URL, not {scheme!r}")
    userinfo, host, port = _split_netloc(url.netloc)
    # Spell the old default port out, so the new URL differs by its scheme alone.
    netloc = f"{userinfo}{host}:{port or DEFAULT_PORTS[scheme]}"
    swapped = "https" if scheme == "http" else "http"
    p.claims["htu"] = urlunsplit(url._replace(scheme=swapped, netloc=netloc))


@_register("htu-port", "htu", "htu port differs")
def _htu_port(p):
    url = urlsplit(p.claims["htu"])
    userinfo, host, port = _split_netloc(url.netloc)
    if not port:
        new_port = 8443  # neither default port, so a change whichever scheme
    else:
        new_port = int(port) + 1 if int(port) < 65535 else int(port) - 1
    p.claims["htu"] = urlunsplit(url._replace(netloc=f"{userinfo}{host}:{new_port}"))


@_register("iat-old", "iat", "iat is 600 s in the past")
def _iat_old(p):
    p.claims["iat"] -= 600


@_register("iat-future", "iat", "iat is 600 s in the future")
def _iat_future(p):
    p.claims["iat"] += 600


@_register("exp-past", "exp", "an exp claim 600 s in the past (RFC 7519 §4.1.4)")
def _exp_past(p):
    p.claims["exp"] = p.now - 600


@_register("nbf-future", "nbf", "an nbf claim 600 s in the future (RFC 7519 §4.1.5)")
def _nbf_future(p):
    p.claims["nbf"] = p.now + 600


@_register("ath-wrong", "ath", "ath is the hash of another token", needs_token=True)
def _ath_wrong(p):
    p.claims["ath"] = access_token_hash("other-" + p.access_token)


@_register("ath-missing", "ath", "no ath although a token is presented", needs_token=True)
def _ath_missing(p):
    del p.claims["ath"]


# --- a key of its own: a jwk that does not fit the alg (own_keys) -----------------------------

def _use_own_key(p: ProofParts, key: OwnKey) -> None:
    p.header["alg"], p.header["jwk"] = key.alg, dict(key.jwk)
    p.signing_key, p.signing_alg, p.hand_signed = key.private_key, key.signer, True


def _register_own_key(name: str, summary: str) -> None:
    _register(name, "key", summary, own=True)(lambda p: _use_own_key(p, own_key(name)))


_register_own_key("jwk-x25519", "jwk is OKP X25519 (a key-agreement curve) with alg EdDSA; its x is the Ed25519 key that signs")
_register_own_key("jwk-x448", "jwk is OKP X448 (a key-agreement curve) with alg EdDSA; its x is the Ed448 key that signs")
_register_own_key("jwk-crv-unknown", f"jwk is OKP with crv {UNKNOWN_CRV} (no server supports it); its x is the Ed25519 key that signs")
_register_own_key("jwk-curve-mismatch", "alg ES256 with an EC P-384 jwk, signed with SHA-256 on P-384")
_register_own_key("jwk-rsa-for-ec", "alg ES256 with an RSA jwk, signed RS256 by that key")
_register_own_key("jwk-rsa-short", f"jwk is a {SHORT_RSA_BITS}-bit RSA key (alg PS256, signed by it)")
assert set(OWN_KEY_DEFECTS) == {n for n, d in DEFECTS.items() if d.own_key}


def own_key_of(name: str) -> OwnKey | None:
    """The key a defect's proof names instead of the run's key, or None (not an own-key defect)."""
    defect = DEFECTS.get(name)
    return own_key(name) if defect is not None and defect.own_key else None


# --- the request ----------------------------------------------------------------------------

@_register("two-headers", "copies", "two DPoP header fields, each a valid proof (distinct jti)")
def _two_headers(p):
    p.copies = 2


# --- the key named by reference instead of jwk (RFC 9449 §4.2: the key is the jwk, nothing else) ---
# Each proof is still signed by key A, and what it names leads to A: a server that looks the key
# up (a kid among keys it has seen, the jku or x5u URL, the x5c certificate) accepts it.

@_register("kid-instead", "jwk", "no jwk; kid names key A by its RFC 7638 thumbprint")
def _kid_instead(p):
    del p.header["jwk"]
    p.header["kid"] = p.key.thumbprint


@_register("jku-instead", "jwk", "no jwk; jku is a URL serving a JWK Set with key A", key_url_serves=JWK_SET)
def _jku_instead(p):
    del p.header["jwk"]
    p.header["jku"] = p.key_url


@_register("x5u-instead", "jwk", "no jwk; x5u is a URL serving a self-signed certificate of key A", key_url_serves=CERTIFICATE)
def _x5u_instead(p):
    del p.header["jwk"]
    p.header["x5u"] = p.key_url


@_register("x5c-instead", "jwk", "no jwk; x5c holds a self-signed certificate of key A")
def _x5c_instead(p):
    del p.header["jwk"]
    p.header["x5c"] = x5c_chain(p.key)


# --- positive controls: odd but valid, a conformant server accepts them -----------------------

@_register(
    "htu-with-query", "htu", 'htu carries "?q=1#f" (ignored, RFC 9449 §4.3)', control=True
)
def _htu_with_query(p):
    p.claims["htu"] += "?q=1#f"


@_register(
    "htu-unnormalized", "htu",
    "htu equal to the request URI only after RFC 3986 normalization (scheme case, percent-encoding, dot segment)",
    control=True,
)
def _htu_unnormalized(p):
    parts = urlsplit(p.claims["htu"])
    path = parts.path or "/"
    # "/./" is removed by §6.2.2.3; "%61" for "a" is decoded by §6.2.2.2; the scheme is case-insensitive
    path = "/." + re.sub(r"[a-z]", lambda m: "%" + format(ord(m.group(0)), "02X"), path, count=1)
    p.claims["htu"] = urlunsplit((parts.scheme.upper(), parts.netloc, path, "", ""))


@_register(
    "unknown-header", "unknown-header", f"extra header {UNKNOWN_HEADER} (ignored, RFC 7515 §4)",
    control=True,
)
def _unknown_header(p):
    p.header[UNKNOWN_HEADER] = "ignored"


# --- building -------------------------------------------------------------------------------

def build_proof(
    key: KeyPair,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    defects: Iterable[str] = (),
    other_key: KeyPair | None = None,
    now: int | None = None,
    jti: str | None = None,
    extra_headers: dict | None = None,
    extra_claims: dict | None = None,
    nonce: str | None = None,
    key_url: str | None = None,
) -> list[str]:
    """The DPoP header values to send: one proof, or two for `two-headers`.

    `defects` takes names from DEFECTS and CONTROLS; names that change the same part of the
    proof (e.g. typ-missing and typ-wrong) are refused. Extras are added before the defects.
    `nonce`: the `nonce` claim (RFC 9449 §4.2), the value a target gave in DPoP-Nonce; None, none.
    `key_url`: the URL jku-instead or x5u-instead names (the caller serves the key there).
    """
    parts = proof_parts(
        key, method, url, access_token=access_token, defects=defects, other_key=other_key,
        now=now, jti=jti, extra_headers=extra_headers, extra_claims=extra_claims, nonce=nonce, key_url=key_url,
    )
    # Claims we built ourselves (int iat, str members) may take the fast path of _encode.
    plain_claims = not extra_claims
    proofs = [_encode(parts, parts.claims, plain_claims)]
    for _ in range(parts.copies - 1):
        copy = dict(parts.claims)
        if "jti" in copy:
            copy["jti"] = str(uuid.uuid4())  # each header a proof of its own
        proofs.append(_encode(parts, copy, plain_claims))
    return proofs


def proof_parts(
    key: KeyPair,
    method: str,
    url: str,
    *,
    access_token: str | None = None,
    defects: Iterable[str] = (),
    other_key: KeyPair | None = None,
    now: int | None = None,
    jti: str | None = None,
    extra_headers: dict | None = None,
    extra_claims: dict | None = None,
    nonce: str | None = None,
    key_url: str | None = None,
) -> ProofParts:
    """What `build_proof` signs, before signing: the header and claims with the defects
    applied, the signing key, and how to finish (break_signature, copies). Pure; the fuzz
    strategies start from it to encode proofs their own way (encode_raw)."""
    names = list(dict.fromkeys([defects] if isinstance(defects, str) else defects))  # no repeats
    if names:
        _check(names, access_token, other_key, key_url)
    claims = {
        "jti": jti if jti is not None else str(uuid.uuid4()),
        "htm": method.upper(),
        "htu": htu_for(url),
        "iat": int(time.time() if now is None else now),
    }  # neither exp nor nbf: RFC 9449 needs neither, and exp-past / nbf-future add them
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    if extra_claims:
        claims.update(extra_claims)
    parts = ProofParts(
        header={"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk},
        claims=claims,
        signing_key=key.private_key,
        key=key,
        other_key=other_key,
        access_token=access_token,
        key_url=key_url,
        now=int(time.time() if now is None else now),
    )
    parts.header.update(extra_headers or {})
    for name in names:
        _TRANSFORMS[name](parts)
    return parts


@functools.lru_cache(maxsize=1024)  # a run proves against a few dozen URLs, thousands of times
def htu_for(url: str) -> str:
    """The htu of a request to `url`: the URL without query and fragment (RFC 9449 §4.2)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def decode_unverified(proof: str) -> tuple[dict, dict]:
    """(header, claims) of a proof, checking nothing (not the signature, not iat, ...)."""
    try:
        return jwt.get_unverified_header(proof), jwt.decode(proof, options=_NO_CHECKS)
    except jwt.InvalidTokenError as error:
        # PyJWT refuses to parse any header whose crit lists an extension it lacks
        # (crit-unknown); read such a proof's parts directly.
        try:
            header_part, claims_part, _ = proof.split(".")
            header, claims = read_segment(header_part), read_segment(claims_part)
        except ValueError:
            raise error from None
        if not isinstance(header, dict) or "crit" not in header:
            raise
        return header, claims


_NO_CHECKS = {
    "verify_signature": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


def defect_parts(name: str) -> tuple[str, ...]:
    """The parts of a proof the defect `name` changes (an own key: the jwk and the signature too);
    two defects that share a part do not compose."""
    return (_TARGETS[name], *_CONTAINS.get(_TARGETS[name], ()))


def _check(names: list[str], access_token: str | None, other_key: KeyPair | None, key_url: str | None = None) -> None:
    seen: dict[str, str] = {}
    for name in names:
        defect = DEFECTS.get(name) or CONTROLS.get(name)
        if defect is None:
            raise ValueError(f"unknown DPoP proof defect {name!r}")
        if defect.needs_token and access_token is None:
            raise ValueError(f"defect {name!r} needs an access_token")
        if defect.needs_other_key and other_key is None:
            raise ValueError(f"defect {name!r} needs other_key")
        if defect.key_url_serves and not key_url:
            raise ValueError(f"defect {name!r} needs key_url (a URL serving the {defect.key_url_serves})")
        parts = defect_parts(name)
        for part in parts:
            if part in seen:
                raise ValueError(f"defects {seen[part]!r} and {name!r} both change the {part}")
        seen.update(dict.fromkeys(parts, name))


def _encode(parts: ProofParts, claims: dict[str, Any], plain_claims: bool = False) -> str:
    header, header_segment = _plain_header(parts.key)
    if plain_claims and parts.signing_key is parts.key.private_key and parts.header == header:
        # The fast path, for the common proof whose header no defect or extra touched. It
        # assembles header.payload.signature itself because jwt.encode re-serializes and
        # re-validates the same header (jwk included) and looks up and prepares the algorithm
        # for every proof: that is about a quarter of a proof's time besides signing, and
        # without it build_proof falls short of issue 7's 20,000 EdDSA proofs per second on a
        # 2-core machine. The bytes are jwt.encode's, exactly as its own code builds them
        # (sorted compact header, compact claims, unpadded base64url, PyJWT's algorithm
        # object signs): tests/unit/test_proofs.py compares the two byte for byte.
        payload = base64url_encode(_COMPACT_JSON.encode(claims).encode("utf-8"))
        signing_input = header_segment + b"." + payload
        algorithm = _ALGORITHMS[parts.key.alg]
        signature = base64url_encode(algorithm.sign(signing_input, parts.signing_key))
        proof = (signing_input + b"." + signature).decode("ascii")
        return _flip_signature(proof) if parts.break_signature else proof
    if parts.hand_signed or parts.signing_alg not in (None, parts.header.get("alg")):
        proof = _encode_signed_by(parts, claims)
        return _flip_signature(proof) if parts.break_signature else proof
    headers = dict(parts.header)
    # PyJWT adds typ "JWT" to every header unless told None, which makes it leave typ out.
    headers.setdefault("typ", None)
    proof = jwt.encode(claims, parts.signing_key, algorithm=headers["alg"], headers=headers)
    return _flip_signature(proof) if parts.break_signature else proof


def _encode_signed_by(parts: ProofParts, claims: dict[str, Any]) -> str:
    """The proof as jwt.encode writes it (sorted compact header, compact claims), signed with
    parts.signing_alg although the header may name another alg: jwt.encode cannot do that, and
    refuses (ES256 on P-384) or warns about (RSA 1024) some of the own keys' signatures."""
    header = base64url_encode(json.dumps(parts.header, separators=(",", ":"), sort_keys=True).encode())
    payload = base64url_encode(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = header + b"." + payload
    algorithm = SIGNERS[parts.signing_alg or parts.header["alg"]]
    signature = algorithm.sign(signing_input, algorithm.prepare_key(parts.signing_key))
    return (signing_input + b"." + base64url_encode(signature)).decode("ascii")


_ALGORITHMS = get_default_algorithms()  # PyJWT's algorithm objects, by JWS alg name
# what jwt.encode's json.dumps(payload, separators=(",", ":")) makes, without a new encoder per call
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


@functools.lru_cache(maxsize=256)  # keys are pooled: a run signs with a handful
def _plain_header(key: KeyPair) -> tuple[dict[str, Any], bytes]:
    """The header of a valid proof by `key`, and its base64url JSON as jwt.encode writes it."""
    header = {"typ": "dpop+jwt", "alg": key.alg, "jwk": key.public_jwk}
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    return header, base64url_encode(text)


def _flip_signature(proof: str) -> str:
    signing_input, _, signature = proof.rpartition(".")
    altered = bytes(b ^ 0x01 for b in base64url_decode(signature))  # same length, all wrong
    return f"{signing_input}.{base64url_encode(altered).decode('ascii')}"


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """(userinfo + "@" or "", host as written, port or "") without lower-casing the host."""
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":")
    if not colon or "]" in port:  # no port, or the colons of a bare IPv6 literal
        host, port = hostport, ""
    return userinfo + at, host, port


# --- raw encoding: for fuzzing the JSON and base64 layers (build_proof never uses it) -------

BASE64_VARIANTS = ("url", "url-padded", "standard")  # RFC 7515 §2 requires "url" (no padding)


def encode_raw(
    parts: ProofParts,
    claims: dict[str, Any] | None = None,
    *,
    header_first: dict[str, Any] | None = None,
    claims_first: dict[str, Any] | None = None,
    base64: str = "url",
) -> str:
    """One signed proof from `parts`, serialized by hand: members of `header_first` /
    `claims_first` are written before the real members of the same name (duplicate JSON keys,
    the last one being the real value: RFC 7515 §5.2 lets a receiver refuse or take the last),
    and the three parts are base64-encoded in the `base64` variant. The signature is computed
    over the exact text sent, so only the encoding is odd. `alg` "none" signs nothing."""
    if base64 not in BASE64_VARIANTS:
        raise ValueError(f"unknown base64 variant {base64!r}: expected one of {', '.join(BASE64_VARIANTS)}")
    claims = parts.claims if claims is None else claims
    header_text = _json_with_duplicates(parts.header, header_first or {})
    claims_text = _json_with_duplicates(claims, claims_first or {})
    signing_input = f"{_b64(header_text, base64)}.{_b64(claims_text, base64)}"
    alg = parts.header.get("alg")
    if alg == "none" or parts.signing_key is None:
        signature = b""
    else:
        algorithm = SIGNERS[parts.signing_alg or alg]
        signature = algorithm.sign(signing_input.encode("ascii"), algorithm.prepare_key(parts.signing_key))
        if parts.break_signature:
            signature = bytes(b ^ 0x01 for b in signature)
    return f"{signing_input}.{_b64(signature, base64)}"


def _json_with_duplicates(members: dict[str, Any], first: dict[str, Any]) -> bytes:
    pairs = [*first.items(), *members.items()]
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in pairs) + "}"
    return text.encode("utf-8")


def _b64(data: bytes, variant: str) -> str:
    import base64 as b64

    if variant == "standard":
        return b64.b64encode(data).decode("ascii")
    text = b64.urlsafe_b64encode(data).decode("ascii")
    return text if variant == "url-padded" else text.rstrip("=")

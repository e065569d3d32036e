"""Checking DPoP proofs (RFC 9449 §4.3, profile §5) and remembering their jti (§11.1).

Signatures are verified with PyJWT's algorithm objects; the JWS is split by hand because PyJWT
refuses to parse a header whose `crit` it does not know, and the model must answer that itself.
"""
from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, get_default_algorithms
from jwt.utils import base64url_decode

from ..dpop.keys import access_token_hash, jwk_thumbprint

from .config import ALG_KEY_TYPES, ModelConfig
from .htu import normalize_uri
from .key_refs import SeenKeys, fetch_loopback, key_from_set

PROOF_TYP = "dpop+jwt"
RSA_MIN_BITS = 2048  # RFC 7518 §3.3
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")
KNOWN_HEADER = ("typ", "alg", "jwk")


class ProofError(ValueError):
    """A proof fails one check; `rule` names it (e.g. "iat-future")."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule


class ReplayStore:
    """The jti values seen within the proof window, each forgotten when the window has passed."""

    def __init__(self, window: float, clock: Callable[[], float] = time.time):
        self.window = window
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, jti: str) -> bool:
        """Record `jti`; False if it was already seen within the window."""
        now = self.clock()
        with self._lock:
            self._expiry = {j: t for j, t in self._expiry.items() if t > now}
            if jti in self._expiry:
                return False
            self._expiry[jti] = now + self.window
            return True

    def __len__(self) -> int:
        return len(self._expiry)


class NonceStore:
    """The DPoP-Nonce values this server gave (RFC 9449 §8, §9): a fresh, unpredictable one on
    every response of a DPoP endpoint. A proof may carry any of the last `keep`, so that clients
    whose requests overlap (each holding the nonce it was given last) are not refused."""

    def __init__(self, keep: int = 64):
        self._recent: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def issue(self) -> str:
        value = secrets.token_urlsafe(16)  # base64url: within §8's NQCHAR
        with self._lock:
            self._recent.append(value)
        return value

    def known(self, nonce: object) -> bool:
        with self._lock:
            return isinstance(nonce, str) and nonce in self._recent


def split_jws(proof: str) -> tuple[dict, dict, bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS; ProofError if malformed."""
    parts = proof.split(".")
    if len(parts) != 3:
        raise ProofError("malformed", "the proof is not a compact JWS")
    try:
        header = json.loads(base64url_decode(parts[0]))
        claims = json.loads(base64url_decode(parts[1]))
        signature = base64url_decode(parts[2])
    except (ValueError, TypeError):
        raise ProofError("malformed", "the proof's parts are not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ProofError("malformed", "the proof's header and claims must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def unverified_thumbprint(proof: str) -> str | None:
    """The thumbprint of the jwk a proof names, checking nothing (for the phase1-accepts-bad-proof fault)."""
    try:
        jwk = split_jws(proof)[0].get("jwk")
        return jwk_thumbprint(jwk) if isinstance(jwk, dict) else None
    except (ProofError, ValueError, UnicodeEncodeError):
        return None


def fits(alg: str, jwk: dict) -> bool:
    """Is `jwk` a key of the kind `alg` needs (RFC 7518 §3.1-§3.5, RFC 8037 §3.1)?"""
    actual = (jwk.get("kty"), jwk.get("crv"))
    return actual == ALG_KEY_TYPES.get(alg, actual)  # alg none (accept-alg-none) needs no key


def _strict_key(alg: str, jwk: dict):
    algorithm = get_default_algorithms()[alg]
    return algorithm, algorithm.from_jwk(jwk)


_EC_HASHES = {"ES256": ECAlgorithm.SHA256, "ES384": ECAlgorithm.SHA384, "ES512": ECAlgorithm.SHA512}
_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def _lenient_key(alg: str, jwk: dict):
    """What a server that does not check the jwk against the alg verifies with (the fault
    jwk-fit-not-checked): an OKP key of any crv as Ed25519, or Ed448 by the length of its x (upstream
    2.1.2 takes any OKP key for Ed25519); an EC key on its own curve with the alg's hash (as PyJWT
    did before it checked curves); a key of another kty with its kty's own algorithm (RS256 for
    RSA, as a server verifying with jwt.PyJWK's algorithm does)."""
    kty = jwk.get("kty")
    if kty == "OKP":
        x = base64url_decode(jwk["x"])
        return OKPAlgorithm(), (Ed448PublicKey if len(x) == 57 else Ed25519PublicKey).from_public_bytes(x)
    if kty == "EC":
        algorithm = ECAlgorithm(_EC_HASHES[alg]) if alg in _EC_HASHES else get_default_algorithms()[_EC_ALGS[jwk["crv"]]]
        return algorithm, ECAlgorithm.from_jwk(jwk)
    return _strict_key("RS256", jwk)


def _rsa_bits(n: str) -> int:
    try:
        return int.from_bytes(base64url_decode(n), "big").bit_length()
    except (ValueError, TypeError):
        raise ProofError("jwk", "the RSA key's n is not base64url") from None


class ProofChecker:
    def __init__(self, config: ModelConfig, replay: ReplayStore, nonces: NonceStore | None = None):
        self.config = config
        self.replay = replay
        self.nonces = nonces or NonceStore()
        self.seen_keys = SeenKeys()  # kept for the kid-lookup-accepted fault only

    def check(self, proof: str, method: str, url: str, token: str | None, *, operation: bool = False) -> str:
        """Check `proof` for a request `method url` presenting `token`; returns the jwk thumbprint.
        `operation`: the request is an agent operation (some faults apply there only)."""
        try:
            header, claims, signing_input, signature = split_jws(proof)
        except UnicodeEncodeError:
            raise ProofError("malformed", "the proof is not ASCII") from None
        self._check_header(header)
        jwk = self._check_key(header)
        self._check_signature(header["alg"], jwk, signing_input, signature)
        self._check_claims(claims, method, url, token, operation)
        thumbprint = jwk_thumbprint(jwk)
        if "jwk" in header and self.config.has("kid-lookup-accepted"):
            self.seen_keys.remember(thumbprint, jwk)
        return thumbprint

    def _check_header(self, header: dict) -> None:
        cfg = self.config
        if header.get("typ") != PROOF_TYP and not cfg.has("skip-typ"):
            raise ProofError("typ", f"typ must be {PROOF_TYP}")
        # This server understands no JWS extension, so any crit is one it cannot honour.
        if "crit" in header and not cfg.has("ignore-crit"):
            raise ProofError("crit", "crit lists parameters this server does not understand")
        unknown = sorted(set(header) - set(KNOWN_HEADER))
        if unknown and cfg.has("reject-unknown-header"):
            raise ProofError("unknown-header", f"unknown header parameters {unknown}")
        alg = header.get("alg")
        if alg == "none" and cfg.has("accept-alg-none"):
            return
        if not isinstance(alg, str) or alg not in cfg.algs:
            raise ProofError("alg", f"alg {alg!r} is not one of {', '.join(cfg.algs)}")
        if cfg.has("listed-alg-refused") and len(cfg.algs) > 1 and alg == cfg.algs[-1]:
            # the fault: listed (discovery, challenges) but refused
            raise ProofError("alg", f"alg {alg!r} is not accepted here")

    def _check_key(self, header: dict) -> dict:
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            # RFC 9449 §4.2: the key is the jwk and nothing else; a kid, jku, x5u or x5c is no key
            jwk = self._key_by_reference(header)
        if not isinstance(jwk, dict):
            raise ProofError("jwk", "the header has no jwk object")
        if any(m in jwk for m in PRIVATE_MEMBERS) and not self.config.has("accept-private-jwk"):
            raise ProofError("jwk-private", "the jwk holds a private key")
        if not fits(header["alg"], jwk) and not self.config.has("jwk-fit-not-checked"):
            kty, crv = ALG_KEY_TYPES[header["alg"]]
            raise ProofError("jwk-fit", f"alg {header['alg']} needs {' '.join(filter(None, (kty, crv)))} key")
        try:
            jwk_thumbprint(jwk)
        except ValueError as exc:
            raise ProofError("jwk", str(exc)) from None
        if jwk["kty"] == "RSA" and _rsa_bits(jwk["n"]) < RSA_MIN_BITS and not self.config.has("rsa-short-accepted"):
            raise ProofError("jwk-rsa-short", f"the RSA key is shorter than {RSA_MIN_BITS} bits")
        return jwk

    def _key_by_reference(self, header: dict) -> dict | None:
        """The faults' key of a proof without jwk: fetched from its jku (its x5u is fetched, and
        not used), or a seen key its kid names. None for the strict model."""
        cfg = self.config
        if cfg.has("jku-fetched"):
            for member in ("jku", "x5u"):
                if isinstance(header.get(member), str):
                    document = fetch_loopback(header[member])
                    if member == "jku":
                        kty, crv = ALG_KEY_TYPES.get(header["alg"], (None, None))
                        return key_from_set(document, header.get("kid"), kty, crv)
        if cfg.has("kid-lookup-accepted"):
            return self.seen_keys.get(header.get("kid"))
        return None

    def _check_signature(self, alg: str, jwk: dict, signing_input: bytes, signature: bytes) -> None:
        if alg == "none" or self.config.has("skip-signature"):
            return
        public = {k: v for k, v in jwk.items() if k not in PRIVATE_MEMBERS}
        try:
            algorithm, key = (_strict_key if fits(alg, jwk) else _lenient_key)(alg, public)
            valid = algorithm.verify(signing_input, key, signature)
        except (ValueError, TypeError, KeyError, jwt.PyJWTError) as exc:
            raise ProofError("jwk", f"the jwk is not a usable {alg} key ({type(exc).__name__})") from None
        if not valid:
            raise ProofError("signature", "the signature does not verify under the jwk")

    def _check_claims(self, claims: dict, method: str, url: str, token: str | None, operation: bool = False) -> None:
        cfg = self.config
        lenient = cfg.has("skip-claims-check")  # the fault: a missing claim is not refused, its check is skipped
        if cfg.has("500-on-iat-type") and "iat" in claims:
            time.time() - claims["iat"]  # the fault: the age is computed before the type check (a string: TypeError, 500)
        for name, kind in (("jti", str), ("htm", str), ("htu", str), ("iat", (int, float))):
            value = claims.get(name)
            if value is None and lenient:
                continue
            if not isinstance(value, kind) or isinstance(value, bool) or value == "" or (name == "iat" and not math.isfinite(value)):
                raise ProofError("claims", f"claim {name} is missing or not a {'string' if kind is str else 'number'}")
        if "htm" in claims and not self._same_method(claims["htm"], method) and not cfg.has("skip-htm"):
            raise ProofError("htm", f"htm {claims['htm']!r} is not the request method {method}")
        self._check_exp_nbf(claims)
        if "htu" in claims:
            self._check_htu(claims["htu"], url)
        self._check_nonce(claims.get("nonce"))
        if "iat" in claims:
            self._check_iat(claims["iat"])
        if token is not None and not (operation and cfg.has("operations-skip-ath")):
            self._check_ath(claims.get("ath"), token)
        replay_checked = not cfg.has("accept-replay") and not (operation and cfg.has("operations-accept-replay"))
        if "jti" in claims and not self.replay.first_use(claims["jti"]) and replay_checked:
            if cfg.has("500-on-replay"):  # the fault: the used jti trips the server up (as upstream's replay handling does)
                raise RuntimeError("duplicate jti in the replay store")
            raise ProofError("replay", "this proof's jti was already used")

    def _same_method(self, htm: str, method: str) -> bool:
        if self.config.has("htm-case-insensitive"):  # the fault: as upstream 2.1.2, both sides upper-cased
            return htm.upper() == method.upper()
        return htm == method  # methods are case-sensitive (RFC 9110 §9.1)

    def _check_exp_nbf(self, claims: dict) -> None:
        """exp and nbf, where a proof carries them (RFC 9449 needs neither): RFC 7519 §4.1.4, §4.1.5,
        with the clock skew as leeway."""
        cfg = self.config
        if cfg.has("exp-nbf-ignored"):
            return
        now = time.time()
        for name in ("exp", "nbf"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)):
                raise ProofError("claims", f"claim {name} is not a number")
        if claims.get("exp") is not None and now - claims["exp"] > cfg.clock_skew:
            raise ProofError("exp", f"the proof expired {now - claims['exp']:.0f} s ago")
        if claims.get("nbf") is not None and claims["nbf"] - now > cfg.clock_skew:
            raise ProofError("nbf", f"the proof is not valid for another {claims['nbf'] - now:.0f} s")

    def _check_htu(self, htu: str, url: str) -> None:
        cfg = self.config
        try:
            if cfg.has("strict-htu-query") and ("?" in htu or "#" in htu):
                raise ValueError("query or fragment")
            if cfg.has("strict-htu-normalization"):
                got, want = htu.split("#", 1)[0].split("?", 1)[0], url
            else:
                got, want = normalize_uri(htu), normalize_uri(url)
        except ValueError:
            raise ProofError("htu", f"htu {htu!r} is not this request's URI") from None
        if cfg.has("ignore-htu-path"):
            got, want = got.split("/", 3)[:3], want.split("/", 3)[:3]
        if cfg.has("htu-path-case-insensitive"):  # the fault: the path compared ignoring case (RFC 3986 §6.2.2.1: it is not)
            got, want = got.lower(), want.lower()
        if got != want:
            raise ProofError("htu", f"htu {htu!r} is not this request's URI {url}")

    def _check_nonce(self, nonce: object) -> None:
        """Where the model gives nonces, a proof carries one it gave (RFC 9449 §4.3 (10))."""
        cfg = self.config
        if not cfg.issues_nonces or cfg.has("nonce-not-checked"):
            return
        if nonce is None:
            raise ProofError("nonce", "the proof carries no nonce: use the DPoP-Nonce this server gave")
        if not self.nonces.known(nonce) and not (cfg.has("nonce-any-accepted") and isinstance(nonce, str) and nonce):
            raise ProofError("nonce", "the proof's nonce is not one this server gave recently: use the DPoP-Nonce sent")

    def _check_iat(self, iat: float) -> None:
        cfg = self.config
        age = time.time() - iat
        if age > cfg.proof_ttl and not cfg.has("skip-iat-old"):
            raise ProofError("iat-old", f"the proof is {age:.0f} s old (at most {cfg.proof_ttl})")
        if -age > cfg.clock_skew and not cfg.has("skip-iat-future"):
            raise ProofError("iat-future", f"the proof's iat is {-age:.0f} s ahead (at most {cfg.clock_skew})")

    def _check_ath(self, ath: object, token: str) -> None:
        cfg = self.config
        if ath is None:
            if not cfg.has("ath-optional"):
                raise ProofError("ath-missing", "a token is presented but the proof has no ath")
            return
        try:
            expected = access_token_hash(token)
        except ValueError:
            expected = None
        if ath != expected and not cfg.has("skip-ath"):
            raise ProofError("ath", "ath is not the hash of the presented token")

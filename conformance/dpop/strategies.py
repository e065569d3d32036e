"""Hypothesis strategies for DPoP proof fuzzing (pure: no I/O).

Small strategies, each doing one thing, composed into `fuzz_cases()`:

- `algs()`, `keys()`: proof algorithms and (fixed, cached) keys for them;
- `defect_sets()`: non-empty sets of named defects of `conformance.dpop.proofs.DEFECTS` that compose
  (never two on the same part of the proof, see `proofs.defect_parts`);
- `benign()`, `defective()`, `either()`: free-form perturbations, each a `Perturbation` whose
  `klass` says what a conformant server does with it: accept (benign), refuse (defective, with
  the catalogue requirement it breaks), or either (RFC 7515 lets the receiver choose);
- `fuzz_cases()`: one example, a `FuzzCase`: a defect set (or the pseudo-defect "replay") plus
  perturbations whose parts are disjoint from the defects' parts; or, given a strategy of
  malformed bodies (`dpop.malformed_strategies.body_changes`), a valid proof with a malformed body.

`proof_values` turns a FuzzCase into the DPoP header values to send (naming the key URL the
caller serves where a defect names one: `key_url_serves`), and `twin` gives its defect-free twin
(same benign perturbations, nothing else). Shrinking goes toward one defect
(the first of DEFECTS) and no perturbation.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from .keys import SUPPORTED_ALGS, KeyPair, generate_key
from .malformed import BodyChange
from .proofs import _TARGETS, DEFECTS, ProofParts, _encode, defect_parts, encode_raw, proof_parts

BENIGN, DEFECTIVE, EITHER = "benign", "defective", "either"
REPLAY = "replay"  # the pseudo-defect: a valid proof sent twice
# Perturbations stay within this many bytes of JSON (header and claims together), so that with
# two proofs (two-headers) and the token the request headers stay under
# wire.client.MAX_REQUEST_HEADER_BYTES (8000).
PERTURBATION_BYTES = 1400
PROOF_CLAIMS = ("jti", "htm", "htu", "iat")
HEADER_PREFIX = "x-fz-"  # free-form header names: never a registered JWS parameter
CLAIM_PREFIX = "fz_"  # free-form claim names: never a registered JWT or DPoP claim
METHOD = "POST"  # the phase-2 request method


@dataclass(frozen=True)
class Perturbation:
    kind: str  # unknown-header | extra-claim | typ-random | htm-random | iat-string | claim-type | crit-random | duplicate-key | base64
    klass: str  # benign | defective | either
    parts: tuple[str, ...]  # the parts of the proof it changes (nothing else may change them)
    name: str = ""  # the header parameter or claim it names
    value: Any = None
    requirement: str | None = None  # for defective: the catalogue requirement a server breaks by accepting it

    def describe(self) -> str:
        value = json.dumps(self.value, ensure_ascii=True)
        if len(value) > 60:
            value = value[:57] + "..."
        where = f" {self.name}" if self.name else ""
        req = f" [{self.requirement}]" if self.requirement else ""
        return f"{self.kind}{where}={value} ({self.klass}){req}"

    def size(self) -> int:
        return len(self.name) + len(json.dumps(self.value, ensure_ascii=True)) + 6


@dataclass(frozen=True)
class FuzzCase:
    defects: tuple[str, ...]  # named defects of proofs.DEFECTS, or ("replay",)
    perturbations: tuple[Perturbation, ...] = ()
    endpoint: str = "validate"
    token: str = "bound"
    body: BodyChange | None = None  # a malformed body (with a valid proof, no defect): it must be refused

    @property
    def replay(self) -> bool:
        return self.defects == (REPLAY,)

    def items(self, klass: str) -> list[Perturbation]:
        return [p for p in self.perturbations if p.klass == klass]

    def twin(self) -> "FuzzCase":
        """The defect-free twin: the same benign perturbations, no defect, nothing defective or either, the valid body."""
        return FuzzCase((), tuple(self.items(BENIGN)), self.endpoint, self.token)

    def size_key(self) -> tuple:
        """Smaller is simpler: fewer defects, fewer odd items, fewer perturbations, fewer bytes."""
        defects = len(self.defects) + len(self.items(DEFECTIVE)) + (self.body is not None)
        body = self.body.size() if self.body is not None else 0
        return (defects, len(self.items(EITHER)), len(self.perturbations),
                sum(p.size() for p in self.perturbations) + body, self.summary())

    def describe(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "token": self.token,
            "defects": list(self.defects),
            "perturbations": [p.describe() for p in self.perturbations],
            "body": self.body.describe() if self.body is not None else None,
        }

    def summary(self) -> str:
        defects = "+".join(self.defects) or "(none)"
        extra = "; ".join(p.describe() for p in self.perturbations)
        body = f"; malformed body: {self.body.describe()}" if self.body is not None else ""
        return f"defects {defects}" + (f"; perturbations: {extra}" if extra else "; no perturbation") + body


# --- keys ------------------------------------------------------------------------------------

def algs() -> st.SearchStrategy[str]:
    return st.sampled_from(SUPPORTED_ALGS)


@lru_cache(maxsize=None)
def _fixed_key(alg: str) -> KeyPair:
    return generate_key(alg)


def keys() -> st.SearchStrategy[KeyPair]:
    """One key per algorithm, the same for the whole process (generating keys is not the point)."""
    return algs().map(_fixed_key)


# --- named defects -----------------------------------------------------------------------------

def defect_names(*, with_token: bool = True) -> list[str]:
    """The named defects the fuzzers combine. Those whose proof names a key of its own
    (Defect.own_key) are among them: presented with the token bound to key A, such a proof is
    refused for its key or for the binding (judging.fuzz accepts either problem type)."""
    names = [name for name, d in DEFECTS.items() if with_token or not d.needs_token]
    return sorted(names, key=lambda name: DEFECTS[name].own_key)  # last: shrinking goes to key A's proofs


def _part_keys() -> tuple:
    """One function per part of a proof that a defect's changes may contain besides its own
    (proofs.defect_parts: an own key changes the jwk and the signature too): unique under each,
    no two defects of a set change one part."""
    contained = sorted({p for name in DEFECTS for p in defect_parts(name)[1:]})
    return (lambda d: _TARGETS[d], *(lambda d, part=part: part if part in defect_parts(d) else d for part in contained))


def defect_sets(*, with_token: bool = True, max_size: int = 3) -> st.SearchStrategy[tuple[str, ...]]:
    """Non-empty sets of named defects that compose (at most one per part of the proof); shrinks to one defect."""
    names = defect_names(with_token=with_token)
    # at least half the sets are single defects (what a server most often misses alone); the
    # size drawn is a bound, not the length, so shrinking deletes defects one by one and keeps
    # the one that matters (a fixed length would drop all but the first)
    sizes = st.sampled_from([1, 1, *range(2, max_size + 1)])
    return sizes.flatmap(lambda n: st.lists(st.sampled_from(names), min_size=1, max_size=n, unique_by=_part_keys()).map(tuple))


# --- free-form perturbations -----------------------------------------------------------------

_NAME_CHARS = st.characters(whitelist_categories=("Ll", "Nd"), max_codepoint=127)
# Every code point but the surrogates: the same characters, in the same order, as st.text()'s
# default alphabet (characters(codec="utf-8")), named by category because that default is worked
# out by encoding each of the 1.1 M code points once per fresh .hypothesis/ folder: 200 MB, 1.5 s.
ANY_CHARS = st.characters(exclude_categories=("Cs",))


def any_text(max_size: int) -> st.SearchStrategy[str]:
    """Any unicode text up to `max_size` characters."""
    return st.text(ANY_CHARS, max_size=max_size)


_TEXT = any_text(40)


def _names(prefix: str) -> st.SearchStrategy[str]:
    return st.text(_NAME_CHARS, min_size=1, max_size=12).map(lambda s: prefix + s)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """JSON values: unicode text, big integers, floats, booleans, null, small arrays and objects."""
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False), _TEXT,
        st.text(st.characters(max_codepoint=127, blacklist_categories=("Cc",)), min_size=200, max_size=600),  # a large value
    )
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text(8), inner, max_size=3),
                        max_leaves=max_leaves)


def unknown_headers() -> st.SearchStrategy[Perturbation]:
    """An unknown header parameter not listed in crit: ignored (RFC 7515 §4)."""
    return st.builds(lambda n, v: Perturbation("unknown-header", BENIGN, (f"header:{n}",), n, v), _names(HEADER_PREFIX), json_values())


def extra_claims() -> st.SearchStrategy[Perturbation]:
    """A claim no DPoP rule names: ignored (RFC 7519 §4: unknown claims are ignored)."""
    return st.builds(lambda n, v: Perturbation("extra-claim", BENIGN, (f"claim:{n}",), n, v), _names(CLAIM_PREFIX), json_values())


def benign() -> st.SearchStrategy[Perturbation]:
    return st.one_of(unknown_headers(), extra_claims())


def _not_dpop_typ(value: str) -> bool:
    # media types are case-insensitive and "application/" may be left out (RFC 7515 §4.1.9)
    return value.strip().lower() not in ("dpop+jwt", "application/dpop+jwt")


def random_typs() -> st.SearchStrategy[Perturbation]:
    values = st.one_of(st.sampled_from(["JWT", "jwt", "at+jwt", "dpop", "dpop+jws", ""]), _TEXT).filter(_not_dpop_typ)
    return values.map(lambda v: Perturbation("typ-random", DEFECTIVE, ("typ",), "typ", v, "PROOF-typ"))


def random_htms() -> st.SearchStrategy[Perturbation]:
    values = st.one_of(st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", ""]), any_text(10))
    values = values.filter(lambda v: v.upper() != METHOD)  # no case variants: methods are case-sensitive, but why argue
    return values.map(lambda v: Perturbation("htm-random", DEFECTIVE, ("htm",), "htm", v, "PROOF-htm-mismatch"))


def iat_strings() -> st.SearchStrategy[Perturbation]:
    """iat as a JSON string of the right time ("1700000000"): a NumericDate is a number (RFC 7519 §2)."""
    return st.just(Perturbation("iat-string", DEFECTIVE, ("iat",), "iat", "<now as a string>", "PROOF-claims-missing"))


_WRONG_TYPES = {
    "string": st.one_of(st.none(), st.booleans(), st.integers(), st.lists(st.integers(), max_size=2), st.dictionaries(any_text(4), st.integers(), max_size=2)),
    "number": st.one_of(st.none(), st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(any_text(4), st.integers(), max_size=2)),
}


def claim_types() -> st.SearchStrategy[Perturbation]:
    """One of jti, htm, htu, iat with a value of the wrong JSON type (RFC 9449 §4.2)."""
    def for_claim(name):
        wrong = _WRONG_TYPES["number" if name == "iat" else "string"]
        return wrong.map(lambda v: Perturbation("claim-type", DEFECTIVE, (name,), name, v, "PROOF-claims-missing"))
    return st.sampled_from(PROOF_CLAIMS).flatmap(for_claim)


def random_crits() -> st.SearchStrategy[Perturbation]:
    """crit lists an unknown parameter (present in the header): the proof is invalid (RFC 7515 §4.1.11)."""
    return _names(HEADER_PREFIX).map(lambda n: Perturbation("crit-random", DEFECTIVE, ("crit",), n, True, "PROOF-crit-unknown"))


def defective() -> st.SearchStrategy[Perturbation]:
    return st.one_of(iat_strings(), random_typs(), random_htms(), claim_types(), random_crits())


_DUPLICATE_FIRST = {  # a first value that would be a defect on its own; the last one is the real one
    "typ": "jwt",
    "htm": "GET",
    "htu": "https://elsewhere.invalid/",
    "jti": "",
    "iat": 0,
}


def duplicate_keys() -> st.SearchStrategy[Perturbation]:
    """A member written twice, an invalid value first and the valid one last (RFC 7515 §5.2:
    refuse, or use the last)."""
    return st.sampled_from(sorted(_DUPLICATE_FIRST)).map(
        lambda n: Perturbation("duplicate-key", EITHER, (n, "encoding"), n, _DUPLICATE_FIRST[n]))


def base64_variants() -> st.SearchStrategy[Perturbation]:
    """base64url with padding, or the standard alphabet (RFC 7515 §2 says unpadded base64url)."""
    return st.sampled_from(["url-padded", "standard"]).map(lambda v: Perturbation("base64", EITHER, ("encoding",), "", v))


def either() -> st.SearchStrategy[Perturbation]:
    return st.one_of(duplicate_keys(), base64_variants())


def perturbations(max_size: int = 4) -> st.SearchStrategy[list[Perturbation]]:
    """Perturbations on disjoint parts, benign first in the strategy so shrinking prefers them."""
    by_class = {BENIGN: benign(), DEFECTIVE: defective(), EITHER: either()}
    one = st.sampled_from([BENIGN, BENIGN, DEFECTIVE, EITHER]).flatmap(by_class.__getitem__)
    return st.lists(one, max_size=max_size, unique_by=lambda p: p.parts[0])


def _compatible(defects: tuple[str, ...], items: list[Perturbation]) -> tuple[Perturbation, ...]:
    """Drop items whose parts a defect (or an earlier item) already changes, and keep the bytes bounded."""
    used = {part for d in defects if d in _TARGETS for part in defect_parts(d)}
    kept, size = [], 0
    for item in items:
        if used & set(item.parts) or size + item.size() > PERTURBATION_BYTES:
            continue
        used |= set(item.parts)
        size += item.size()
        kept.append(item)
    return tuple(kept)


def _named(sets, endpoint, token) -> st.SearchStrategy[FuzzCase]:
    """A set of named defects, and perturbations of any class on the other parts."""
    return st.builds(lambda d, items: FuzzCase(d, _compatible(d, items), endpoint, token), sets, perturbations())


def _free_form(endpoint, token) -> st.SearchStrategy[FuzzCase]:
    """No named defect: one or two defective perturbations, and benign or either ones."""
    return st.builds(lambda bad, items: FuzzCase((), _compatible((), [*bad, *items]), endpoint, token),
                     st.lists(defective(), min_size=1, max_size=2, unique_by=lambda p: p.parts[0]),
                     st.lists(st.one_of(benign(), either()), max_size=3, unique_by=lambda p: p.parts[0]))


def _replay(endpoint, token) -> st.SearchStrategy[FuzzCase]:
    """A valid proof (with at most two benign perturbations) sent twice."""
    return st.lists(benign(), max_size=2, unique_by=lambda p: p.parts[0]).map(
        lambda items: FuzzCase((REPLAY,), _compatible((), items), endpoint, token))


def fuzz_cases(*, endpoint: str = "validate", token: str = "bound",
               bodies: st.SearchStrategy[BodyChange] | None = None) -> st.SearchStrategy[FuzzCase]:
    """One example: named defects (4 in 6), free-form defects only (1 in 6) or a replay (1 in 6),
    with perturbations on other parts; given `bodies`, one in 7 is instead a valid proof with a
    malformed body. Shrinks toward the first kind: one named defect, nothing else."""
    kinds = [_named(defect_sets(with_token=token != "missing"), endpoint, token), _free_form(endpoint, token), _replay(endpoint, token)]
    weights = [0, 0, 0, 0, 1, 2]
    if bodies is not None:
        kinds.append(bodies.map(lambda change: FuzzCase((), (), endpoint, token, change)))
        weights.append(3)
    return st.sampled_from(weights).flatmap(lambda i: kinds[i])


def corpus(*, endpoint: str = "validate", token: str = "bound", bodies: tuple[BodyChange, ...] = ()) -> list[FuzzCase]:
    """The seed corpus every run sends before the generated examples: each named defect alone,
    one example of each defective perturbation kind, a replay, and each of `bodies` (malformed
    bodies with a valid proof). Random generation within a
    short budget misses single defects (a 30-example run draws each of some 25 names rarely); the
    corpus makes every run cover them, so the budget goes to combinations and perturbations."""
    def bad(kind, name, value):  # the defective perturbations no named defect stands for: wrong JSON types
        return FuzzCase((), (Perturbation(kind, DEFECTIVE, (name,), name, value, "PROOF-claims-missing"),), endpoint, token)

    named = [FuzzCase((name,), (), endpoint, token) for name in defect_names(with_token=token != "missing")]
    malformed = [FuzzCase((), (), endpoint, token, change) for change in bodies]
    return [*named, bad("iat-string", "iat", "<now as a string>"), bad("claim-type", "jti", 1), FuzzCase((REPLAY,), (), endpoint, token), *malformed]


# --- building the proof ------------------------------------------------------------------------

def key_url_serves(case: FuzzCase) -> str | None:
    """What the key URL of the example's proof must serve (for its jku-instead or x5u-instead:
    proofs.Defect.key_url_serves), or None: its proof names no URL. The caller serves one."""
    return next((DEFECTS[d].key_url_serves for d in case.defects if d in DEFECTS and DEFECTS[d].key_url_serves), None)


def proof_values(case: FuzzCase, key: KeyPair, url: str, *, access_token: str | None,
                 other_key: KeyPair | None = None, now: int | None = None, nonce: str | None = None,
                 key_url: str | None = None) -> list[str]:
    """The DPoP header values for `case` (fresh jti and iat each call), carrying `nonce` (the
    target's DPoP-Nonce, if it gives one) and naming `key_url` where a defect names a key URL
    (key_url_serves). Replay is not built here: its values are a valid proof (the twin's), sent
    twice by the caller."""
    defects = () if case.replay else case.defects
    headers = {p.name: p.value for p in case.items(BENIGN) if p.kind == "unknown-header"}
    claims = {p.name: p.value for p in case.items(BENIGN) if p.kind == "extra-claim"}
    parts = proof_parts(key, METHOD, url, access_token=access_token, defects=defects, other_key=other_key,
                        now=now, extra_headers=headers, extra_claims=claims, nonce=nonce, key_url=key_url)
    for item in case.items(DEFECTIVE):
        _apply_defective(parts, item)
    first_header, first_claims, variant = {}, {}, "url"
    for item in case.items(EITHER):
        if item.kind == "base64":
            variant = item.value
        elif item.name == "typ":
            first_header[item.name] = item.value
        else:
            first_claims[item.name] = item.value
    values = []
    for copy in range(parts.copies):
        claims = dict(parts.claims)
        if copy and "jti" in claims and isinstance(claims["jti"], str):
            claims["jti"] = str(uuid.uuid4())
        if first_header or first_claims or variant != "url":
            values.append(encode_raw(parts, claims, header_first=first_header, claims_first=first_claims, base64=variant))
        else:
            values.append(_encode(parts, claims))
    return values


def _apply_defective(parts: ProofParts, item: Perturbation) -> None:
    if item.kind == "typ-random":
        parts.header["typ"] = item.value
    elif item.kind == "htm-random":
        parts.claims["htm"] = item.value
    elif item.kind == "iat-string":
        parts.claims["iat"] = str(parts.claims["iat"])
    elif item.kind == "claim-type":
        parts.claims[item.name] = item.value
    elif item.kind == "crit-random":
        parts.header["crit"] = [item.name]
        parts.header[item.name] = item.value
    else:
        raise ValueError(f"unknown defective perturbation {item.kind!r}")


__all__ = [
    "BENIGN", "DEFECTIVE", "EITHER", "REPLAY", "FuzzCase", "Perturbation", "algs", "keys", "defect_sets",
    "benign", "defective", "either", "perturbations", "fuzz_cases", "corpus", "proof_values", "json_values", "key_url_serves",
]

"""The fuzzing strategies (conformance.dpop.strategies): every defect reachable, sets that compose,
perturbations classed right, proofs within the header limit, shrinking to one defect."""
import json
import subprocess
import sys
import textwrap

import jwt
import pytest
from hypothesis import HealthCheck, find, given, settings
from jwt.utils import base64url_decode

from conformance.dpop import strategies as S
from conformance.spec.cases import defect_requirements
from conformance.spec.catalogue import requirements
from conformance.dpop.keys import generate_key
from conformance.dpop.own_keys import OWN_KEY_DEFECTS
from conformance.dpop.proofs import _TARGETS, DEFECTS, _check, decode_unverified, defect_parts
from conformance.wire.client import MAX_REQUEST_HEADER_BYTES

FAST = settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
WIDE = settings(max_examples=2000, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))  # find() stops at the first hit
URL = "http://127.0.0.1:8001/auth/agent/validate_compliance"
KEY_URL = "http://127.0.0.1:8002/keys/Zm9vYmFyYmF6cXV4cXV1eA.json"  # what the fuzz run names for jku-instead, x5u-instead
TOKEN = "eyJhbGciOiJIUzI1NiJ9." + "a" * 560 + ".sig"  # longer than the tokens targets issue
KEY = S._fixed_key("EdDSA")
OTHER = generate_key("EdDSA")


@pytest.mark.parametrize("name", sorted(S.defect_names()))
def test_every_named_defect_is_reachable(name):
    assert name in find(S.defect_sets(), lambda s: name in s, settings=WIDE)


def test_every_named_defect_is_fuzzed_those_with_a_key_of_their_own_included():
    # judging.fuzz accepts a refusal for the binding as well as for the key (dpop-binding-mismatch)
    assert set(S.defect_names()) == set(DEFECTS)
    assert set(OWN_KEY_DEFECTS) <= {d for case in S.corpus() for d in case.defects}


def test_an_own_key_composes_with_defects_of_other_parts_only():
    own = {d for d in DEFECTS if DEFECTS[d].own_key}
    found = find(S.defect_sets(), lambda s: len(s) > 1 and own & set(s), settings=WIDE)
    assert not {_TARGETS[d] for d in found} & {"jwk", "signature"}  # the own key changes both (defect_parts)
    _check(list(found), TOKEN, OTHER, KEY_URL)


def test_defects_needing_a_token_are_left_out_without_one():
    assert not {n for n in S.defect_names(with_token=False) if DEFECTS[n].needs_token}
    assert {"ath-wrong", "ath-missing"} <= set(S.defect_names())


@FAST
@given(S.defect_sets())
def test_defect_sets_are_non_empty_and_compose(defects):
    assert 1 <= len(defects) == len(set(defects))
    parts = [p for d in defects for p in defect_parts(d)]
    assert len(set(parts)) == len(parts)
    _check(list(defects), TOKEN, OTHER, KEY_URL)  # proofs' own rule: raises if two change one part


@FAST
@given(S.benign())
def test_benign_items_are_unknown_names_only(item):
    assert item.klass == S.BENIGN and item.requirement is None
    assert item.name.startswith(S.HEADER_PREFIX if item.kind == "unknown-header" else S.CLAIM_PREFIX)


@FAST
@given(S.defective())
def test_defective_items_name_a_must_requirement(item):
    assert item.klass == S.DEFECTIVE
    assert requirements()[item.requirement].level == "MUST"
    if item.kind == "typ-random":
        assert item.value.strip().lower() not in ("dpop+jwt", "application/dpop+jwt")
        assert item.requirement == "PROOF-typ"
    if item.kind == "htm-random":
        assert item.value.upper() != "POST" and item.requirement == "PROOF-htm-mismatch"
    if item.kind in ("iat-string", "claim-type"):
        assert item.requirement == "PROOF-claims-missing"
    if item.kind == "crit-random":
        assert item.requirement == "PROOF-crit-unknown"


@FAST
@given(S.either())
def test_either_items_are_encodings_only(item):
    assert item.klass == S.EITHER and item.requirement is None and "encoding" in item.parts


@FAST
@given(S.fuzz_cases())
def test_cases_are_disjoint_and_within_the_header_limit(case):
    parts = [p for d in case.defects if d in _TARGETS for p in defect_parts(d)] + [p for item in case.perturbations for p in item.parts]
    assert len(parts) == len(set(parts)), case.summary()
    assert case.defects or case.items(S.DEFECTIVE), "every example breaks something (or is a replay)"
    if case.replay:
        assert {p.klass for p in case.perturbations} <= {S.BENIGN}
    values = S.proof_values(case, KEY, URL, access_token=TOKEN, other_key=OTHER, key_url=KEY_URL)
    headers = [("Authorization", f"Bearer {TOKEN}"), *(("DPoP", v) for v in values)]
    assert sum(len(k) + len(v) + 4 for k, v in headers) <= MAX_REQUEST_HEADER_BYTES


@FAST
@given(S.fuzz_cases())
def test_the_twin_is_a_valid_proof_with_the_same_benign_items(case):
    twin = case.twin()
    assert twin.defects == () and twin.perturbations == tuple(case.items(S.BENIGN))
    (value,) = S.proof_values(twin, KEY, URL, access_token=TOKEN)
    claims = jwt.decode(value, KEY.private_key.public_key(), algorithms=["EdDSA"])
    header = jwt.get_unverified_header(value)
    assert header["typ"] == "dpop+jwt" and claims["htm"] == "POST" and claims["htu"] == URL
    for item in twin.perturbations:
        assert (header if item.kind == "unknown-header" else claims)[item.name] == item.value


def test_key_url_defects_say_what_their_url_serves():
    assert S.key_url_serves(S.FuzzCase(("jku-instead", "htm-wrong"))) == "jwk-set"
    assert S.key_url_serves(S.FuzzCase(("x5u-instead",))) == "certificate"
    assert S.key_url_serves(S.FuzzCase(("kid-instead", "typ-wrong"))) is None
    assert S.key_url_serves(S.FuzzCase((S.REPLAY,))) is None
    (value,) = S.proof_values(S.FuzzCase(("jku-instead",)), KEY, URL, access_token=TOKEN, key_url=KEY_URL)
    assert decode_unverified(value)[0]["jku"] == KEY_URL
    with pytest.raises(ValueError, match="key_url"):
        S.proof_values(S.FuzzCase(("x5u-instead",)), KEY, URL, access_token=TOKEN)


def test_defective_items_land_in_the_proof():
    typ = S.Perturbation("typ-random", S.DEFECTIVE, ("typ",), "typ", "JWT", "PROOF-typ")
    iat = S.Perturbation("iat-string", S.DEFECTIVE, ("iat",), "iat", "<now as a string>", "PROOF-claims-missing")
    crit = S.Perturbation("crit-random", S.DEFECTIVE, ("crit",), "x-fz-a", True, "PROOF-crit-unknown")
    (value,) = S.proof_values(S.FuzzCase((), (typ, iat, crit)), KEY, URL, access_token=TOKEN)
    header, claims = decode_unverified(value)
    assert header["typ"] == "JWT" and header["crit"] == ["x-fz-a"] and header["x-fz-a"] is True
    assert isinstance(claims["iat"], str) and claims["iat"].isdigit()


def test_either_items_encode_duplicates_and_base64_variants():
    dup = S.Perturbation("duplicate-key", S.EITHER, ("htm", "encoding"), "htm", "GET")
    (value,) = S.proof_values(S.FuzzCase((), (dup,)), KEY, URL, access_token=TOKEN)
    payload = base64url_decode(value.split(".")[1]).decode()
    assert payload.startswith('{"htm":"GET",') and payload.count('"htm"') == 2
    assert json.loads(payload)["htm"] == "POST"  # the last value is the valid one
    padded = S.Perturbation("base64", S.EITHER, ("encoding",), "", "url-padded")
    for _ in range(4):  # the signature of Ed25519 is 64 bytes: always padded
        (value,) = S.proof_values(S.FuzzCase((), (padded,)), KEY, URL, access_token=TOKEN)
        assert value.endswith("==")
    std = S.Perturbation("base64", S.EITHER, ("encoding",), "", "standard")
    (value,) = S.proof_values(S.FuzzCase((), (std,)), KEY, URL, access_token=TOKEN)
    assert "-" not in value and "_" not in value


@pytest.mark.parametrize("wanted", ["htm-wrong", "typ-missing", "signature-bad"])
def test_shrinking_reaches_one_defect(wanted):
    case = find(S.fuzz_cases(), lambda c: wanted in c.defects, settings=WIDE)
    assert case.defects == (wanted,) and case.perturbations == ()


def test_shrinking_a_must_failure_reaches_one_defect_or_item():
    def must_level(c):
        reqs = [defect_requirements()[d] for d in c.defects if d != S.REPLAY]
        reqs += [p.requirement for p in c.items(S.DEFECTIVE)]
        return len(reqs) >= 2 and any(requirements()[r].level == "MUST" for r in reqs)
    case = find(S.fuzz_cases(), must_level, settings=FAST)
    assert len(case.defects) + len(case.items(S.DEFECTIVE)) == 2 and not case.items(S.BENIGN)
    one = find(S.fuzz_cases(), lambda c: not c.replay, settings=FAST)
    assert one.size_key()[:3] == (1, 0, 0)


def test_no_strategy_needs_the_utf8_codec_table():
    """st.text()'s and st.from_regex()'s default alphabet, characters(codec="utf-8"), is worked out
    by encoding every code point once per fresh .hypothesis/ folder (200 MB, 1.5 s): every CI
    checkout. The strategies name the same characters by category (S.ANY_CHARS) instead. In a
    fresh interpreter: Hypothesis caches strategies, so one drawn earlier in this process would hide it."""
    program = textwrap.dedent("""
        from hypothesis import HealthCheck, given, settings
        from hypothesis.internal import charmap
        from conformance.dpop import strategies as S
        from conformance.dpop.malformed_strategies import body_changes

        def refuse(codec):
            raise SystemExit(f"a strategy asked for the {codec} codec table")
        charmap.intervals_from_codec = refuse
        body = {"agent_id": "a", "endpoint": "http://x", "capabilities": ["c"], "n": 1, "ok": True}

        @settings(max_examples=60, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(S.fuzz_cases(bodies=body_changes(body, ("agent_id",))))
        def draw(case):
            pass
        draw()
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_any_chars_are_the_default_text_alphabet():
    """The same intervals as characters(codec="utf-8"): naming them by category draws the same examples."""
    from hypothesis import strategies as st
    default = st.characters(codec="utf-8").wrapped_strategy.intervals
    assert S.ANY_CHARS.wrapped_strategy.intervals == default

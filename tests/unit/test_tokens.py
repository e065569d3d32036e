"""Tampered tokens (issue 15, profile §6): what dpop.tokens makes of a target-issued token without
the secret, and that the model target refuses each with 401 token-invalid unless a fault lets it
through (the suite-against-model runs are tests/e2e/test_mutation.py)."""
from __future__ import annotations

import json

import jwt
import pytest
from jwt.utils import base64url_decode, base64url_encode

from conformance.dpop.tokens import alg_hmac_other, alg_none, bad_signature, claims_of, header_of, with_signature_of
from conformance.model_target.config import ModelConfig
from conformance.model_target.problems import TOKEN_ERROR, Problem
from conformance.model_target.tokens import Tokens
from conformance.spec.cases import TAMPERED_TOKENS

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4  # long enough for HS512 (RFC 7518 §3.2)


def _issued(alg: str = "HS256", **headers) -> str:
    return jwt.encode({"sub": "agent-1", "agent_id": "agent-1", "exp": 2_000_000_000}, SECRET, algorithm=alg, headers=headers or None)


def _segments(token: str) -> list[str]:
    return token.split(".")


def test_alg_none_keeps_the_payload_and_drops_the_signature():
    token = _issued(kid="k1")
    tampered = alg_none(token)
    head, payload, signature = _segments(tampered)
    assert tampered.endswith(".") and signature == ""
    assert payload == _segments(token)[1] and claims_of(tampered) == claims_of(token)
    assert json.loads(base64url_decode(head)) == {"alg": "none", "kid": "k1", "typ": "JWT"}


@pytest.mark.parametrize("alg, other", [("HS256", "HS384"), ("HS384", "HS512"), ("HS512", "HS256")])
def test_alg_hmac_other_names_another_size_and_keeps_the_signature(alg, other):
    token = _issued(alg)
    tampered = alg_hmac_other(token)
    assert header_of(tampered)["alg"] == other
    assert _segments(tampered)[1:] == _segments(token)[1:]
    with pytest.raises(jwt.InvalidSignatureError):  # the kept signature no longer signs the header
        jwt.decode(tampered, SECRET, algorithms=[other])


def test_alg_hmac_other_does_not_apply_to_a_token_that_is_not_hmac_signed():
    header = base64url_encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()).decode()
    assert alg_hmac_other(f"{header}.{_segments(_issued())[1]}.c2ln") is None


def test_with_signature_of_borrows_another_issued_tokens_signature():
    token, other = _issued(), jwt.encode({"sub": "agent-2", "agent_id": "agent-2", "exp": 2_000_000_000}, SECRET, algorithm="HS256")
    tampered = with_signature_of(token, other)
    assert _segments(tampered)[:2] == _segments(token)[:2] and _segments(tampered)[2] == _segments(other)[2]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, SECRET, algorithms=["HS256"])


# --- the model target: refuses every tampered token, and each token fault lets through exactly its own

def _model_tokens(mode: str = "required", faults: tuple[str, ...] = ()) -> Tokens:
    return Tokens(ModelConfig(mode, frozenset(faults), jwt_secret=SECRET))


def _tampered_pair(tokens: Tokens) -> tuple[str, dict[str, str]]:
    """A temp token the model issued, and each tampered kind made of it."""
    token, other = (tokens.issue("temp", f"agent-{n}", "testing", None) for n in (1, 2))
    return token, {
        "bad-signature": bad_signature(token),
        "alg-none": alg_none(token),
        "alg-hmac-other": alg_hmac_other(token),
        "signature-other": with_signature_of(token, other),
    }


def test_every_tampered_kind_is_made_here():
    assert set(_tampered_pair(_model_tokens())[1]) == set(TAMPERED_TOKENS)


@pytest.mark.parametrize("mode", ["required", "optional", "disabled"])
@pytest.mark.parametrize("kind", TAMPERED_TOKENS)
def test_the_strict_model_refuses_each_tampered_token_with_401_token_invalid(kind, mode):
    tokens = _model_tokens(mode)
    token, tampered = _tampered_pair(tokens)
    assert tokens.verify(token, "temp")[0]["agent_id"] == "agent-1"  # the positive control
    with pytest.raises(Problem) as refused:
        tokens.verify(tampered[kind], "temp")
    assert (refused.value.slug, refused.value.status, refused.value.error) == ("token-invalid", 401, TOKEN_ERROR)


# each token fault -> the tampered kinds it accepts (all others still refused)
FAULT_ACCEPTS = {
    "alg-none-token-accepted": {"alg-none"},
    "token-header-alg-ignored": {"alg-hmac-other"},
    "token-signature-unchecked": set(TAMPERED_TOKENS),
    "token-issued-signature-trusted": {"alg-hmac-other", "signature-other"},
}


@pytest.mark.parametrize("fault", sorted(FAULT_ACCEPTS))
def test_each_token_fault_accepts_exactly_its_tampered_kinds(fault):
    tokens = _model_tokens("optional", (fault,))
    token, tampered = _tampered_pair(tokens)
    assert tokens.verify(token, "temp")[0]["agent_id"] == "agent-1"
    accepted = set()
    for kind, value in tampered.items():
        try:
            claims, _ = tokens.verify(value, "temp")
        except Problem as exc:
            assert exc.slug == "token-invalid", (kind, exc.detail)
            continue
        assert claims["agent_id"] == "agent-1"  # the tampered token's own contents
        accepted.add(kind)
    assert accepted == FAULT_ACCEPTS[fault]


@pytest.mark.parametrize("fault", sorted(FAULT_ACCEPTS))
def test_a_token_fault_still_refuses_an_expired_token(fault):
    tokens = _model_tokens("optional", (fault,))
    expired = jwt.encode({"agent_id": "agent-1", "aud": "arcp:validate", "token_type": "temp", "iat": 1, "exp": 2}, SECRET, algorithm="HS256")
    with pytest.raises(Problem, match="expired"):
        tokens.verify(expired, "temp")


# --- the session's side: a situation that cannot be made says why (wire.tampered_tokens)

def test_another_hmac_size_is_not_applicable_to_a_target_whose_tokens_are_not_hmac_signed():
    from conformance.wire.tampered_tokens import NotApplicable, TamperedTokens

    header = base64url_encode(json.dumps({"alg": "ES256", "typ": "JWT"}).encode()).decode()
    with pytest.raises(NotApplicable, match="'ES256', not with an HMAC"):
        TamperedTokens()._tampered(None, "alg-hmac-other", f"{header}.{_segments(_issued())[1]}.c2ln", lambda: (None, None, ""), "temp")


def test_signature_other_without_a_second_token_gives_the_reason():
    from conformance.wire.tampered_tokens import TamperedTokens

    token = _issued()
    who, made, why = TamperedTokens()._tampered("who", "signature-other", token, lambda: (None, None, "phase 1 failed"), "temp")
    assert (who, made) == (None, None) and why == "no second temp token to take a signature from (phase 1 failed)"
    _, made, why = TamperedTokens()._tampered("who", "signature-other", token, lambda: ("who", token, ""), "temp")
    assert made is None and "the same signature" in why  # its own signature would be no attack

"""Safety (issue 6, item 6): the suite forges tokens only for the agents it created, never one that
names an administrator, whatever the template. (The other guards, against real targets:
tests/e2e/test_robustness.py.)"""
from __future__ import annotations

import time
import warnings

import jwt
import pytest

from conformance.dpop.tokens import SHORT_KEY_WARNING, ForgeRefused, Forger, claims_of

OWN = "arcp-conf-a-0123456789"
SECRET = "test-secret-for-forging-0123456789"


def _issued(**claims) -> str:
    now = int(time.time())
    base = {"sub": OWN, "agent_id": OWN, "role": "agent", "aud": "arcp:validate", "token_type": "temp", "iat": now, "exp": now + 900}
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


@pytest.mark.parametrize("claims", [
    {"role": "admin"},
    {"roles": ["agent", "Administrator"]},
    {"scopes": ["admin", "agent_management"]},
    {"scope": "agents:read root"},
    {"is_admin": True},
    {"sub": "admin"},
    {"agent_id": "superuser-1", "sub": "superuser-1"},
])
def test_no_token_naming_an_administrator_is_forged(claims):
    forger = Forger(SECRET, {OWN, "superuser-1"})
    template = _issued()
    with pytest.raises(ForgeRefused, match="administrator"):
        forger.forge(template, **claims)
    with pytest.raises(ForgeRefused, match="administrator"):
        forger.legacy(_issued(**claims))  # nor from a template that names one


@pytest.mark.parametrize("claims", [{"agent_id": "someone-else", "sub": "someone-else"}, {"sub": "alice"}])
def test_no_token_is_forged_for_an_identity_the_suite_did_not_create(claims):
    with pytest.raises(ForgeRefused, match="did not create|not the suite's own agent"):
        Forger(SECRET, {OWN}).forge(_issued(**claims))


def test_tokens_are_forged_for_the_suites_own_agents():
    forger = Forger(SECRET, {OWN})
    forged = forger.expired(_issued(sub=f"temp_{OWN}"))
    assert claims_of(forged)["agent_id"] == OWN and claims_of(forged)["exp"] < time.time()


def test_forging_with_a_short_secret_shows_no_pyjwt_key_length_warning():
    # the target's short secret is not the suite's to judge; the warning is silenced in forge only
    short = "short"
    forger = Forger(short, {OWN})
    template = jwt.encode({"sub": OWN, "agent_id": OWN, "iat": 1, "exp": 2}, SECRET, algorithm="HS256")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forged = forger.legacy(template)
    assert claims_of(forged)["agent_id"] == OWN
    if SHORT_KEY_WARNING is not None:  # PyJWT >= 2.10: the same encoding outside forge still warns
        with pytest.warns(SHORT_KEY_WARNING):
            jwt.encode({"a": 1}, short, algorithm="HS256")

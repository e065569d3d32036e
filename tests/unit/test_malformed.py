"""Malformed requests as data (conformance.dpop.malformed, spec.requests) and as drawn by the fuzz
strategies (dpop.malformed_strategies): each body variant breaks exactly what it says, junk
Authorization values go through the suite's client, and every drawn body is malformed."""
import json

import pytest
from hypothesis import HealthCheck, given, settings

from conformance.dpop import malformed_strategies as MS
from conformance.dpop.malformed import AUTH_JUNK, DROP, JSON_MEDIA_TYPE, BodyChange, junk_authorization
from conformance.spec.checks import fixed_checks, malformed_checks
from conformance.spec.requests import (BODY_VARIANTS, OVERSIZED, PHASE1, PHASE1_VARIANTS, REQUIRED_MEMBERS, TOKEN_ENDPOINTS, MalformedCase,
                                       expect_malformed, malformed_cases, situation_of)
from conformance.spec.vocabulary import MODES
from conformance.wire.client import MAX_REQUEST_BODY_BYTES

FAST = settings(max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
VALID = {  # the valid bodies' shapes (wire.flows), with the values of one agent
    PHASE1: {"agent_id": "arcp-conf-a-1", "agent_type": "testing", "agent_key": "k" * 24},
    "validate": {"agent_id": "arcp-conf-a-1", "agent_type": "testing", "endpoint": "http://127.0.0.1:9/agents/a",
                 "capabilities": ["conformance-check"], "communication_mode": "remote", "version": "1.0.0"},
    "register": {"name": "ARCP conformance agent", "agent_id": "arcp-conf-a-1", "agent_type": "testing", "endpoint": "http://127.0.0.1:9/a",
                 "context_brief": "Short-lived agent.", "capabilities": ["c"], "owner": "o", "public_key": "p" * 40,
                 "metadata": {"a": "b"}, "version": "1.0.0", "communication_mode": "remote"},
    "metrics-post": {"avg_response_time": 0.05, "success_rate": 1.0},
}


def parsed(raw):
    return json.loads(raw.content.decode("utf-8"))


@pytest.mark.parametrize("endpoint", sorted(BODY_VARIANTS))
def test_each_body_variant_breaks_what_it_names_and_nothing_else(endpoint):
    body, variants = VALID[endpoint], BODY_VARIANTS[endpoint]
    for name, change in variants.items():
        raw = change.apply(body)
        assert raw.source == body and len(raw.content) < MAX_REQUEST_BODY_BYTES, name
        if name == "not-json":
            with pytest.raises(ValueError):
                json.loads(raw.content)
            assert raw.content == json.dumps(body, ensure_ascii=False).encode()[:-1]
        elif name == "empty-body":
            assert raw.content == b"" and raw.content_type == JSON_MEDIA_TYPE
        elif name in ("text-plain", "form-urlencoded"):
            assert parsed(raw) == body and raw.content_type != JSON_MEDIA_TYPE
        elif name == "not-utf8":
            with pytest.raises(UnicodeDecodeError):
                raw.content.decode("utf-8")
            assert b"\xff\xfe" in raw.content
        elif name == "wrong-type":
            changed = parsed(raw)
            diff = [k for k in body if not isinstance(changed, dict) or type(changed.get(k)) is not type(body[k])]
            assert diff and raw.content_type == JSON_MEDIA_TYPE
        elif name == "missing-member":
            missing = set(body) - set(parsed(raw))
            assert len(missing) == 1 and missing <= set(REQUIRED_MEMBERS[endpoint])
        elif name == "oversized":
            assert max(len(v) for v in parsed(raw).values() if isinstance(v, str)) == OVERSIZED
        if endpoint == PHASE1 and name != "not-utf8":
            assert raw.content.count(body["agent_key"].encode()) == 1  # never a wrong agent key at phase 1 (upstream counts it thrice)


def test_phase1_has_few_variants_and_the_metrics_report_only_those_that_apply():
    assert tuple(BODY_VARIANTS[PHASE1]) == PHASE1_VARIANTS and len(PHASE1_VARIANTS) <= 4
    assert {"missing-member", "oversized"}.isdisjoint(BODY_VARIANTS["metrics-post"])


def test_junk_authorization_values_go_through_the_client_and_none_is_a_valid_credential():
    import h11

    for variant in AUTH_JUNK:
        value = junk_authorization(variant, "eyJhbGciOiJIUzI1NiJ9.e30.sig")
        value.encode("ascii")  # httpx sends text header values as ASCII
        h11.Request(method="GET", target="/", headers=[("Host", "x"), ("Authorization", value)])  # h11 takes it
        scheme, _, token = value.partition(" ")
        assert scheme not in ("Bearer", "DPoP") or not token.replace(".", "").replace("-", "").replace("_", "").isalnum()


def test_situations_and_their_expectations():
    cases = malformed_cases()
    assert len({c.id for c in cases}) == len(cases)
    assert {c.endpoint for c in cases if c.junk_auth} == set(TOKEN_ENDPOINTS)
    assert all(situation_of(c.id) == c for c in cases)
    assert expect_malformed(MalformedCase("validate", "not-json")).statuses == ()  # any 4xx
    junk = expect_malformed(MalformedCase("poll", "auth-empty"))
    assert (junk.requirement, junk.statuses, junk.types) == ("TOKEN-malformed-auth", (401,), ("authentication-failed",))
    for mode in MODES:
        assert set(malformed_checks(mode)) <= set(fixed_checks(mode))
        assert [c.subject for c in malformed_checks(mode)] == [c.subject for c in malformed_checks("required")]


def test_a_body_change_describes_itself():
    change = BodyChange(members=(("endpoint", DROP), ("capabilities", "x")), content_type="text/plain")
    assert change.describe() == "endpoint removed; capabilities=\"x\"; Content-Type 'text/plain'"
    assert BodyChange().describe() == "(valid)"


# --- the fuzz strategies: every drawn body is malformed

def _malformed(change: BodyChange, body: dict, required) -> bool:
    raw = change.apply(body)
    if raw.content_type is None or raw.content_type.split(";")[0].strip().lower() != JSON_MEDIA_TYPE:
        return True
    try:
        value = json.loads(raw.content.decode("utf-8"))
    except ValueError:
        return True
    if not isinstance(value, dict) or any(name not in value for name in required):
        return True
    return any(type(value[name]) is not type(body[name]) for name in body if name in value)


@FAST
@given(MS.body_changes(VALID["validate"], REQUIRED_MEMBERS["validate"]))
def test_every_drawn_body_is_malformed_and_small(change):
    assert _malformed(change, VALID["validate"], REQUIRED_MEMBERS["validate"]), change.describe()
    assert len(change.apply(VALID["validate"]).content) < MAX_REQUEST_BODY_BYTES


@FAST
@given(MS.body_changes(VALID["validate"], REQUIRED_MEMBERS["validate"]))
def test_no_drawn_body_gives_the_endpoint_a_value_of_its_own_type(change):
    # phase 2 fetches {endpoint}/health: a drawn value there is never a string, so never another host
    assert all(not isinstance(value, str) for name, value in change.members if name in MS.ACTED_ON)


@FAST
@given(MS.odd_content_types())
def test_odd_content_types_are_not_json(content_type):
    assert content_type is None or content_type.split(";")[0].strip().lower() != JSON_MEDIA_TYPE

"""The problem+json schemas (schemas/*.json) and the WWW-Authenticate parser of conformance.judging.challenges."""
import pytest

from conformance.spec.catalogue import problem_uri
from conformance.judging.challenges import Challenge, parse_challenges
from conformance.judging.problems import schema_errors, type_errors

# The example response of ARCP docs/problems/token-not-dpop-bound.md (shared/seeds).
FULL = {
    "type": "https://arcp.0x001.tech/docs/problems/token-not-dpop-bound",
    "title": "Token Not DPoP Bound",
    "status": 401,
    "detail": "Access token does not have DPoP binding (missing cnf.jkt)",
    "instance": "/agents/validate_compliance",
    "timestamp": "2024-01-15T10:30:00Z",
    "request_id": "req_nobound_789",
}


def without(body, member):
    return {k: v for k, v in body.items() if k != member}


def changed(body, **changes):
    return {**body, **changes}


# --- arcp-problem (MUST members) and arcp-problem-recommended (SHOULD members)

def test_full_example_is_a_valid_arcp_problem():
    assert schema_errors("arcp-problem", FULL) == []
    assert schema_errors("arcp-problem-recommended", FULL) == []
    assert schema_errors("problem-details", FULL) == []


def test_extension_members_are_allowed():
    assert schema_errors("arcp-problem", changed(FULL, retry_after=30, errors=[{"field": "x"}])) == []


@pytest.mark.parametrize("member", ["type", "title", "status", "detail"])
def test_each_required_member_is_required(member):
    errors = schema_errors("arcp-problem", without(FULL, member))
    assert errors
    assert any(member in e and "required" in e for e in errors), errors


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(changed(FULL, status="401"), id="status-string"),
        pytest.param(changed(FULL, status=True), id="status-bool"),
        pytest.param(changed(FULL, status=99), id="status-below-100"),
        pytest.param(changed(FULL, status=600), id="status-above-599"),
        pytest.param(changed(FULL, type="dpop-invalid"), id="type-relative-uri"),
        pytest.param(changed(FULL, type="/docs/problems/dpop-invalid"), id="type-absolute-path"),
        pytest.param(changed(FULL, type=42), id="type-number"),
        pytest.param(changed(FULL, title=""), id="title-empty"),
        pytest.param(changed(FULL, title=None), id="title-null"),
        pytest.param(changed(FULL, detail=["x"]), id="detail-list"),
        pytest.param(changed(FULL, instance=7), id="instance-number"),
        pytest.param([FULL], id="not-an-object"),
    ],
)
def test_badly_typed_members_fail_arcp_problem(body):
    assert schema_errors("arcp-problem", body)


def test_error_messages_name_the_member():
    (error,) = schema_errors("arcp-problem", changed(FULL, status="401"))
    assert error.startswith("status:")


def test_about_blank_is_an_absolute_type_uri():
    assert schema_errors("arcp-problem", changed(FULL, type="about:blank")) == []


def test_rfc9457_base_schema_makes_every_member_optional():
    assert schema_errors("problem-details", {}) == []
    assert schema_errors("problem-details", {"type": "relative-ref", "x-extension": 1}) == []


def test_rfc9457_base_schema_rejects_string_status():
    errors = schema_errors("problem-details", {"status": "401"})
    assert errors and errors[0].startswith("status:")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(changed(FULL, timestamp="yesterday"), id="timestamp-words"),
        pytest.param(changed(FULL, timestamp="2024-01-15 10:30"), id="timestamp-no-seconds-no-offset"),
        pytest.param(changed(FULL, timestamp=1705314600), id="timestamp-epoch-number"),
        pytest.param(without(FULL, "request_id"), id="request-id-missing"),
        pytest.param(changed(FULL, request_id=""), id="request-id-empty"),
        pytest.param(without(FULL, "timestamp"), id="timestamp-missing"),
        pytest.param(without(FULL, "instance"), id="instance-missing"),
        pytest.param(changed(FULL, instance="not a uri ref"), id="instance-not-uri-reference"),
    ],
)
def test_recommended_members(body):
    assert schema_errors("arcp-problem-recommended", body)


@pytest.mark.parametrize("member", ["instance", "timestamp", "request_id"])
def test_recommended_members_are_not_required_by_arcp_problem(member):
    # a SHOULD (profile §7): their absence is judged by PROBLEM-recommended, not PROBLEM-members
    assert schema_errors("arcp-problem", without(FULL, member)) == []
    assert schema_errors("arcp-problem-recommended", without(FULL, member))


def test_type_errors_accepts_the_expected_type():
    assert type_errors(("token-not-dpop-bound",), FULL) == []
    assert type_errors(("dpop-required", "token-not-dpop-bound"), FULL) == []
    assert type_errors(("token-not-dpop-bound", "dpop-required"), FULL) == []  # order does not matter


def test_type_errors_rejects_another_catalogue_type():
    errors = type_errors(("dpop-invalid",), FULL)
    assert errors and errors[0].startswith("type:")
    assert problem_uri("dpop-invalid") in errors[0]


def test_type_errors_judge_the_type_member_alone():
    # a missing detail is PROBLEM-members' finding; BIND-problem-type must not report it twice
    body = without(changed(FULL, type=problem_uri("dpop-invalid")), "detail")
    assert type_errors(("dpop-invalid",), body) == []
    assert schema_errors("arcp-problem", body)


def test_type_errors_rejects_a_missing_type():
    assert type_errors(("token-not-dpop-bound",), without(FULL, "type"))


# --- WWW-Authenticate

def test_dpop_challenge_with_algs_and_error():
    (c,) = parse_challenges(['DPoP algs="ES256 EdDSA", error="invalid_dpop_proof", error_description="bad proof"'])
    assert c == Challenge("DPoP", {"algs": "ES256 EdDSA", "error": "invalid_dpop_proof", "error_description": "bad proof"})


def test_two_challenges_in_one_field_value():
    got = parse_challenges(['DPoP algs="ES256", error="invalid_token", Bearer realm="arcp", error=invalid_token'])
    assert [c.scheme for c in got] == ["DPoP", "Bearer"]
    assert got[0].params == {"algs": "ES256", "error": "invalid_token"}
    assert got[1].params == {"realm": "arcp", "error": "invalid_token"}


def test_challenges_from_several_field_values():
    got = parse_challenges(['DPoP algs="ES256"', "Bearer"])
    assert [(c.scheme, c.params) for c in got] == [("DPoP", {"algs": "ES256"}), ("Bearer", {})]


def test_bearer_token68():
    (c,) = parse_challenges(["Bearer mF_9.B5f-4.1JqM=="])
    assert (c.scheme, c.token68, c.params) == ("Bearer", "mF_9.B5f-4.1JqM==", {})


def test_token68_followed_by_another_challenge():
    got = parse_challenges(['Bearer abc123, DPoP algs="EdDSA"'])
    assert [(c.scheme, c.token68) for c in got] == [("Bearer", "abc123"), ("DPoP", None)]
    assert got[1].params == {"algs": "EdDSA"}


def test_quoted_string_with_escaped_quotes_and_commas():
    # RFC 9110 §11.6.1's own example
    got = parse_challenges(['Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple, really"'])
    assert [c.scheme for c in got] == ["Newauth", "Basic"]
    assert got[0].params == {"realm": "apps", "type": "1", "title": 'Login to "apps"'}
    assert got[1].params == {"realm": "simple, really"}


def test_param_names_are_case_insensitive_and_spaces_around_equals_allowed():
    (c,) = parse_challenges(['DPoP ERROR = "invalid_token"'])
    assert c.params == {"error": "invalid_token"}


@pytest.mark.parametrize("values", [[], [""], ["  ,  "]], ids=["no-field", "empty-value", "only-commas"])
def test_empty_header_gives_no_challenge(values):
    assert parse_challenges(values) == []

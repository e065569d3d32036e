"""The preflight's diagnoses (conformance.wire.preflight) on synthetic answers: a cause the user
must fix is named in one line; a failure that is the server's own is left to the checks."""
import json

from conformance.spec.catalogue import problem_uri
from conformance.wire.exchange import Exchange
from conformance.wire.preflight import diagnose_phase1, diagnose_phase2

BASE = "http://127.0.0.1:8001"
PHASE1 = BASE + "/auth/agent/request_temp_token"


def answer(status, body=None, url=PHASE1, method="POST", headers=()):
    content_type = "application/problem+json" if isinstance(body, dict) and "type" in body else "application/json"
    return Exchange(method, url, [], status=status, response_headers=[("content-type", content_type), *headers],
                    body_text=json.dumps(body) if body is not None else "")


def problem(status, slug, detail="x"):
    return answer(status, {"type": problem_uri(slug), "title": slug, "status": status, "detail": detail})


DISCOVERED = answer(200, {"token_endpoint": "/auth/agent/request_temp_token"}, url=BASE + "/.well-known/arcp-configuration", method="GET")
NO_DISCOVERY = answer(404, url=BASE + "/.well-known/arcp-configuration", method="GET")


def phase1(ex, discovery=DISCOVERED):
    return diagnose_phase1(BASE, discovery, ex, "testing", ["testing", "automation"])


def test_a_temp_token_or_nothing_sent_is_no_cause():
    assert phase1(answer(200, {"temp_token": "t"})) is None
    assert phase1(None) is None


def test_a_refused_key_is_named_with_the_option_to_check():
    cause = phase1(problem(401, "authentication-failed", "unknown agent key"))
    assert cause.startswith("the target refused the agent key (401 authentication-failed: unknown agent key)")
    assert "--agent-key (ARCP_CONFORMANCE_AGENT_KEY)" in cause
    assert "refused the agent key (403" in phase1(answer(403, {"detail": "forbidden"}))


def test_no_arcp_routes_and_no_discovery_is_not_an_arcp_server():
    cause = phase1(answer(501), NO_DISCOVERY)
    assert cause == (f"this is not an ARCP server at {BASE}: GET /.well-known/arcp-configuration -> 404, "
                     "POST /auth/agent/request_temp_token -> 501; check --target-url (scheme, host, port and base path)")
    assert phase1(answer(404), None).startswith("this is not an ARCP server")
    assert not phase1(answer(404), DISCOVERED).startswith("this is not an ARCP server")  # discovered, then a 404: not the URL


def test_the_servers_own_failures_are_left_to_the_checks():
    assert phase1(problem(401, "dpop-invalid")) is None  # a valid proof refused: ISSUE-bound-valid fails
    assert phase1(answer(400, {"error": "invalid_dpop_proof"})) is None
    assert phase1(problem(500, "internal-error")) is None


def test_rate_limiting_and_silence_are_named():
    assert "rate-limited phase 1 (429, Retry-After 30 s)" in phase1(answer(429, {}, headers=[("retry-after", "30")]))
    silent = Exchange("POST", PHASE1, [], error="connection refused")
    assert phase1(silent) == "phase 1 (POST /auth/agent/request_temp_token) got no answer: connection refused"


def test_a_refused_agent_type_names_the_listed_ones():
    cause = phase1(answer(422, {"detail": "agent_type must be one of automation"}))
    assert cause.startswith("the target refused agent type 'testing'") and "give --agent-type; the target lists testing, automation" in cause


def test_phase_2_without_a_health_request_names_the_agent_endpoint():
    accepted = answer(202, {"status": "pending"}, url=BASE + "/auth/agent/validate_compliance")
    failed = answer(200, {"status": "failed"}, url=BASE + "/auth/agent/validation/v1", method="GET")
    cause = diagnose_phase2(accepted, failed, "http://127.0.0.1:9999/agent-a", health_called=False)
    assert "the target never called http://127.0.0.1:9999/agent-a/health; set --agent-endpoint-host" in cause
    assert diagnose_phase2(accepted, failed, "http://127.0.0.1:9999/agent-a", health_called=True) is None  # the server's failure
    refused = problem(401, "dpop-invalid")
    assert diagnose_phase2(refused, None, "http://127.0.0.1:9999/agent-a", health_called=False) is None


ACCEPTED = answer(202, {"status": "pending"}, url=BASE + "/auth/agent/validate_compliance")
ENDPOINT = "http://127.0.0.1:9999/agent-a"


def polled(status, body=None):
    return answer(status, body, url=BASE + "/auth/agent/validation/v1", method="GET")


def test_phase_2_that_never_completes_is_no_verdict_whatever_the_agent_endpoint_saw():
    """A poll the target refuses (its own Location), one that never answers, a validation still
    pending after the poll's deadline, or nothing to poll: no validated token, and not the user's doing."""
    unanswered = Exchange("GET", BASE + "/auth/agent/validation/v1", [], error="connection reset")
    for poll, called, how in ((polled(404, {"detail": "no such validation"}), False, "its poll answered GET /auth/agent/validation/v1 -> 404"),
                              (unanswered, True, "its poll answered GET /auth/agent/validation/v1 -> no response"),
                              (polled(200, {"status": "pending"}), True, "still pending after 30 s of polling"),
                              (None, True, "it named nothing the suite may poll")):
        cause = diagnose_phase2(ACCEPTED, poll, ENDPOINT, health_called=called)
        assert cause.startswith("phase 2 never completed: the target accepted the validation (POST /auth/agent/validate_compliance -> 202")
        assert how in cause and cause.endswith("no check past phase 2 can be tested")


def test_phase_2_not_sent_names_why():
    """The target's temp token made the request unsendable (too large, not ASCII)."""
    unsent = Exchange("POST", BASE + "/auth/agent/validate_compliance", [], sent=False,
                      error="cannot be sent: its headers would be 40566 bytes; the suite keeps them under 8000")
    cause = diagnose_phase2(unsent, None, ENDPOINT, health_called=False)
    assert cause == ("phase 2 (POST /auth/agent/validate_compliance) was not sent: cannot be sent: its headers would be 40566 bytes; "
                     "the suite keeps them under 8000; no check past phase 1 can be tested")


def test_an_accepted_phase_1_without_a_usable_temp_token_names_why():
    from conformance.wire.preflight import diagnose_no_temp_token

    assert "but its body has no temp_token string" in diagnose_no_temp_token(answer(200, {"token": "x"}))
    garbled = Exchange("POST", PHASE1, [], status=200, body_text='{"status": "\ufffd\ufffd')
    assert "but its body is not JSON the suite reads, so the suite has no temp token" in diagnose_no_temp_token(garbled)
    bomb = Exchange("POST", PHASE1, [], status=200, truncated=True, body_note="the body's encoding yields too little for its size")
    assert diagnose_no_temp_token(bomb).startswith("phase 1 (POST /auth/agent/request_temp_token) was accepted (200) but the body's encoding")

"""Malformed requests on the wire (conformance.wire.malformed_requests) against the embedded model:
phase 1 gets its few variants at once with the run's agent key, phase 3's variants share one
validated token until a target spends it, and what is sent is recorded as sent. (The verdicts,
fault by fault: tests/e2e/test_mutation.py; the variants as data: tests/unit/test_malformed.py.)"""
from collections import Counter
from urllib.parse import urlsplit

import pytest

from conformance.model_target import start_model
from conformance.spec.requests import PHASE1, PHASE1_VARIANTS, MalformedCase, malformed_cases
from conformance.wire.client import MAX_REQUEST_BODY_BYTES
from conformance.wire.session import ConformanceSession, Settings


def session_for(model) -> ConformanceSession:
    cfg = model.config
    return ConformanceSession(Settings(model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode=cfg.mode, keep_exchanges=True))


def sent(session) -> Counter:
    return Counter((ex.method, urlsplit(ex.url).path) for ex in session.client.exchanges)


@pytest.mark.parametrize("faults, validations", [((), 1), (("any-auth-scheme",), 2)])
def test_phase1_variants_go_at_once_and_phase3_variants_share_a_validated_token(faults, validations):
    with start_model("required", faults) as model:
        session = session_for(model)
        try:
            session.issuance()
            before = sent(session)
            for case in malformed_cases():
                if case.endpoint in (PHASE1, "register"):
                    session.result(case)
            new = sent(session) - before
            endpoints = session.endpoints
            assert new[("POST", endpoints.token)] == len(PHASE1_VARIANTS) <= 4
            # one validation for all of phase 3's variants; one more after a target accepted (and
            # so spent) the token: with any-auth-scheme, "Token <validated>" registers the agent
            assert new[("POST", endpoints.validate)] == validations
            assert not session.flows.registered  # an agent a malformed request registered is unregistered again
            phase1 = [session.recorded(MalformedCase(PHASE1, v)).exchange for v in PHASE1_VARIANTS]
            assert all(ex.request_raw.source["agent_key"] == model.config.agent_key for ex in phase1)  # never a wrong key
            text_plain = session.recorded(MalformedCase(PHASE1, "text-plain")).exchange
            assert ("Content-Type", "text/plain") in text_plain.request_headers and text_plain.request_json is None
        finally:
            session.close()


def test_the_client_sends_no_body_beyond_its_limit():
    from conformance.dpop.malformed import RawBody

    with start_model("disabled") as model:
        session = session_for(model)
        try:
            with pytest.raises(ValueError, match="request body"):
                session.client.send("POST", "/auth/agent/request_temp_token", raw_body=RawBody(b"x" * (MAX_REQUEST_BODY_BYTES + 1)))
        finally:
            session.close()

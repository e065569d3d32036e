"""Issue 15's origin rule: the key-reference situations send requests to the target only, and the
jku / x5u URL a proof names is the suite's own agent endpoint, at the address the user gave."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conformance.dpop.proofs import decode_unverified
from conformance.judging.judge_check import judge_check
from conformance.model_target import start_model
from conformance.spec.cases import Case, expect
from conformance.spec.checks import Check
from conformance.spec.vocabulary import PASS
from conformance.wire.session import ConformanceSession, Settings

KEY_REFERENCES = ("kid-instead", "jku-instead", "x5u-instead", "x5c-instead")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_key_urls_name_the_agent_endpoint_and_requests_go_to_the_target_only(host):
    with start_model("required") as model:
        cfg = model.config
        session = ConformanceSession(Settings(model.url, agent_key=cfg.agent_key, dpop_mode="required",
                                              jwt_secret=cfg.jwt_secret, agent_endpoint_host=host, keep_exchanges=True))
        try:
            for endpoint in ("validate", "heartbeat"):
                for proof in KEY_REFERENCES:
                    case = Case(endpoint, "bound", proof)
                    verdict = judge_check(session, Check(expect(case, "required").requirement, case.id, "ensure_outcome", case))
                    assert verdict.outcome == PASS, (case.id, verdict.message)
            agent = urlsplit(session.agent_endpoint.base_url)
            target = urlsplit(model.url)
            named = []
            for ex in session.client.exchanges:
                assert urlsplit(ex.url).netloc == target.netloc, ex.url
                for name, value in ex.request_headers:
                    if name.lower() == "dpop":
                        header, _ = decode_unverified(value)
                        named += [header[m] for m in ("jku", "x5u") if m in header]
        finally:
            session.close()
    assert len(named) >= 4  # jku and x5u, at both endpoints
    for url in named:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("http", host, agent.port), url
        assert parts.path.startswith("/keys/"), url

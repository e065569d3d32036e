"""The judge of a proof's key URL (profile §5, RFC 8725 §3.10): a server does not dereference a
jku or x5u URL found in a proof. The suite names such a URL on its own agent endpoint, one per
situation, and reads the endpoint's record of requests to it (judge_check fills it in, after
allowing the target a moment to fetch). Registered with the case judges."""
from __future__ import annotations

from ..spec.cases import Expectation
from ..spec.vocabulary import FAIL, INCONCLUSIVE, PASS, Verdict
from ..wire.exchange import Exchange
from ..wire.records import CaseResult
from .case_judges import case_judge


@case_judge
def ensure_key_url_not_fetched(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """The target did not request the jku or x5u URL the proof named instead of its jwk."""
    # The positive control: the situation's request was answered (judge_case's precondition).
    if result.key_url is None or result.key_fetches is None:
        return Verdict(INCONCLUSIVE, "the proof named no key URL the suite serves, or its requests were not observed")
    if not result.key_fetches:
        return Verdict(PASS)
    first = result.key_fetches[0]
    # before or after: whether it fetched while answering or in the background (no seconds: the
    # message stays the same from run to run, for baselines)
    timing = "" if not ex.received_at else ", before its response" if first.at <= ex.received_at else ", after its response"
    agent = f" ({first.user_agent})" if first.user_agent else ""
    return Verdict(FAIL, f"the target requested the key URL the proof named ({result.key_url}): {len(result.key_fetches)} "
                         f"request(s), the first {first.method} from {first.client}{agent}{timing}; answered {ex.summary()}")

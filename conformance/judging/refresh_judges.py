"""The judges of a refresh (profile §6 "Refresh"): what the refreshed token keeps of the one it
replaces, and whether it works where access tokens are used. Registered with the case judges:
a refresh is a situation like the matrix's, judged on what its session recorded."""
from __future__ import annotations

from ..dpop.tokens import claims_of
from ..spec.cases import Expectation
from ..spec.vocabulary import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, Verdict
from ..wire.exchange import Exchange
from ..wire.records import CaseResult
from .case_judges import case_judge, precondition

KEPT = ("cnf.jkt", "aud", "token_type")  # the claims a refresh must carry over


def _claim(claims: dict, name: str) -> object:
    value: object = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _refreshed(ex: Exchange) -> str | None:
    token = ex.json_member("access_token") if ex.ok else None
    return token if isinstance(token, str) else None


def lost_claims(old: str | None, new: str | None) -> list[str]:
    """What the new token does not carry over from the old one, in words (empty: all kept)."""
    before, after = claims_of(old) or {}, claims_of(new) or {}
    lost = []
    for name in KEPT:
        was, now = _claim(before, name), _claim(after, name)
        if was is not None and now != was:
            lost.append(f"{name} {'dropped' if now is None else f'changed to {now!r}'} (was {was!r})")
    return lost


@case_judge
def ensure_refresh_keeps_binding(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """The refreshed token keeps the cnf.jkt, aud and token_type of the token it replaces."""
    if not ex.ok:
        return Verdict(NOT_APPLICABLE, "not refreshed: the outcome check reports it")
    new = _refreshed(ex)
    if new is None:
        return Verdict(FAIL, f"the refresh answered {ex.summary()} without an access_token")
    if claims_of(new) is None:
        return Verdict(FAIL, "the refreshed access_token is not a JWT")
    lost = lost_claims(result.presented, new)
    return Verdict(FAIL, "the refreshed token: " + "; ".join(lost)) if lost else Verdict(PASS)


@case_judge
def ensure_refreshed_token_works(ex: Exchange, exp: Expectation, result: CaseResult) -> Verdict:
    """The refreshed token is accepted at a heartbeat, with a proof by the key it is bound to."""
    if not ex.ok:
        return Verdict(NOT_APPLICABLE, "not refreshed: the outcome check reports it")
    if lost_claims(result.presented, _refreshed(ex)):
        return Verdict(NOT_APPLICABLE, "the refresh changed the token's binding or phase: ISSUE-refresh-keeps-binding reports it")
    follow_up = result.follow_up
    if follow_up is None:
        return Verdict(INCONCLUSIVE, result.reason or "the refreshed token was not presented anywhere")
    early = precondition(CaseResult(follow_up))
    if early:
        return early
    if follow_up.ok:
        return Verdict(PASS)
    return Verdict(FAIL, f"the refreshed token was refused at the agent's heartbeat: {follow_up.summary()}")

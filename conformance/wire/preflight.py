"""Preflight: before any check, whether the run can test at all, and if not, why in one line.

The main flow (phase 1 with the user's agent key and a valid proof, phase 2 against the suite's
agent endpoint, phase 3) is every check's positive control. When it fails for a reason the
target's operator or the suite's user must fix (a wrong URL, a refused agent key, an agent
endpoint the target cannot reach, rate limiting), no check can say anything about the server:
the run stops with that cause instead of reporting hundreds of inconclusive or misread checks.
A failure that is the server's own (a valid proof refused as a proof failure, a 5xx, a token
without the members the profile names) is not a preflight failure: the checks judge it.
"""
from __future__ import annotations

from ..spec.catalogue import slug_of
from .exchange import Exchange
from .flows import POLL_DEADLINE

# Refusals that are about the proof or the binding: a server that gives one to the main flow's
# valid proof breaks a requirement, and its checks say which.
DPOP_PROBLEMS = ("dpop-invalid", "dpop-required", "dpop-binding-mismatch", "token-not-dpop-bound")
DPOP_ERRORS = ("invalid_dpop_proof", "use_dpop_nonce")
NOT_THERE = (404, 405, 501)  # what answers a path no ARCP server would leave unrouted
KEY_OPTION = "--agent-key (ARCP_CONFORMANCE_AGENT_KEY)"


def _seen(ex: Exchange | None) -> str:
    if ex is None:
        return "not sent"
    if ex.status is None:
        return f"no answer ({ex.error})"
    return str(ex.status)


def _dpop_refusal(ex: Exchange) -> bool:
    return slug_of(ex.json_member("type")) in DPOP_PROBLEMS or ex.json_member("error") in DPOP_ERRORS


def _throttled(step: str, ex: Exchange) -> str:
    wait = ex.header("retry-after")
    return (f"the target rate-limited {step} ({ex.status}{f', Retry-After {wait} s' if wait else ''}) although the suite "
            "honoured Retry-After: wait until it lets this client in again (upstream ARCP locks a client IP out for "
            "300 s after repeated phase-1 failures), then re-run")


def diagnose_phase1(base_url: str, discovery: Exchange | None, phase1: Exchange | None, agent_type: str,
                    agent_types: list[str]) -> str | None:
    """Why phase 1 with the user's key and a valid proof gives nothing to test with, or None."""
    if phase1 is None or phase1.ok:
        return None
    path = phase1.url.removeprefix(base_url.rstrip("/")) or phase1.url
    if phase1.status is None:
        return f"phase 1 (POST {path}) got no answer: {phase1.error}"
    if phase1.throttled:
        return _throttled("phase 1", phase1)
    if phase1.status in NOT_THERE and not (discovery is not None and discovery.ok):
        return (f"this is not an ARCP server at {base_url}: GET /.well-known/arcp-configuration -> {_seen(discovery)}, "
                f"POST {path} -> {phase1.status}; check --target-url (scheme, host, port and base path)")
    if phase1.status >= 500 or _dpop_refusal(phase1):
        return None  # the server's own failure: ISSUE-bound-valid@phase1 judges it
    slug = slug_of(phase1.json_member("type"))
    detail = str(phase1.json_member("detail") or "")[:160]
    if phase1.status in (401, 403):
        return (f"the target refused the agent key ({phase1.status} {slug or 'without a problem type'}"
                f"{f': {detail}' if detail else ''}): check {KEY_OPTION}")
    if "agent_type" in detail or "agent type" in detail.lower():
        allowed = f"; the target lists {', '.join(agent_types)}" if agent_types else ""
        return f"the target refused agent type {agent_type!r} ({phase1.status}: {detail}): give --agent-type{allowed}"
    return (f"phase 1 with the agent key and a valid proof was refused ({phase1.summary()}"
            f"{f': {detail}' if detail else ''}): check {KEY_OPTION}, --agent-type and --target-url")


def diagnose_no_temp_token(phase1: Exchange) -> str:
    """Why a phase 1 the target accepted gave the suite nothing to go on with (no check past phase
    1 can be tested): the body unreadable, not JSON, or without a temp_token string."""
    if phase1.body_note:
        why = phase1.body_note
    elif phase1.json() is None:
        why = "its body is not JSON the suite reads" + (" (cut at the suite's size limit)" if phase1.truncated else "")
    else:
        why = "its body has no temp_token string"
    return (f"phase 1 ({phase1.method} {phase1.path}) was accepted ({phase1.status}) but {why}, so the suite has no "
            "temp token: no check past phase 1 can be tested")


def diagnose_phase2(validate: Exchange | None, poll: Exchange | None, endpoint_url: str, health_called: bool) -> str | None:
    """Why phase 2 gave no validated token so that nothing past it can be tested, or None when the
    target answered for itself (refused the valid request, or ended the validation as failed):
    then the checks say which requirement that breaks."""
    for step, ex in (("phase 2", validate), ("the phase-2 poll", poll)):
        if ex is not None and ex.throttled:
            return _throttled(step, ex)
    if validate is not None and not validate.sent:
        return f"phase 2 ({validate.method} {validate.path}) was not sent: {validate.error}; no check past phase 1 can be tested"
    if validate is None or not (validate.status == 202 or validate.ok):
        return None  # refused outright: the server's answer to a valid request, judged by the checks
    if poll is not None and not poll.ok:  # the poll URL the target gave refused, or did not answer
        return _never_completed(validate, f"its poll answered {poll.summary()}")
    if poll is None:  # whatever the agent endpoint saw, the result could never be read
        return _never_completed(validate, "it named nothing the suite may poll (no Location or polling_url on the target's own origin, no validation_id)")
    if not health_called:
        return (f"phase 2 could not reach the suite's agent endpoint: the target never called {endpoint_url}/health; "
                "set --agent-endpoint-host to an address of this machine that the target can reach")
    if poll.json_member("status") == "pending":
        return _never_completed(validate, f"the validation was still pending after {POLL_DEADLINE:g} s of polling")
    return None  # ended as failed, or passed without a token: the server's answer, judged by the checks


def _never_completed(validate: Exchange, how: str) -> str:
    return (f"phase 2 never completed: the target accepted the validation ({validate.summary()}) but {how}, so no "
            "validated token: no check past phase 2 can be tested")

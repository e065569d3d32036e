"""A hostile front (issue 21, item 5): the suite against targets that are broken or hostile in one
way each, the model behind faults or a bare TCP server. For every case: the exit code, no Python
error anywhere (traceback, INTERNALERROR, a check ended by an exception), a bounded number of
requests, wall time and peak memory, and the cause named in the output. (Each mechanism on its
own: test_hostile_parse.py, test_untestable_target.py, test_robustness.py, test_hostile.py.)"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import pytest

from conformance.spec.vocabulary import NO_VERDICT
from support.faulty_target import (Fault, FaultyTarget, RawTarget, answer, deep_json, deepen, gzip_bomb, nested_token, padded_token,
                                  stacked_gzip_bomb, with_temp_token)
from support.suite_run import run_suite

MEMORY_MB = 200  # issue 21: every run, whatever the target sends
PYTHON_ERRORS = ("Traceback", "INTERNALERROR", "RecursionError", "UnicodeEncodeError", "MemoryError")
FEW = ("--fuzz-examples", "3", "--stateful-examples", "8", "--request-timeout", "2")  # 8: every invariant exercised on the model
ELSEWHERE = "http://127.0.0.1:9/elsewhere"  # another origin: nothing listens there, and nothing may be sent


def html_errors(path, status, headers, body):
    """Every error answered with an HTML page, as a proxy's error page is."""
    if status < 400:
        return status, headers, body
    return status, [(b"content-type", b"text/html; charset=utf-8")], b"<html><body><h1>Error</h1><script>alert(1)</script></body></html>"


def poll_elsewhere(path, status, headers, body):
    """Phase 2 accepted, with its poll named on another origin only (no validation_id)."""
    doc = json.loads(body)
    if status != 202:
        return status, headers, body
    doc = {"status": "pending", "polling_url": f"{ELSEWHERE}/validation/1"}
    kept = [(k, v) for k, v in headers if k.lower() not in (b"location", b"content-length")]
    return status, kept + [(b"location", doc["polling_url"].encode())], json.dumps(doc).encode()


@dataclass
class Case:
    faults: list[Fault] | None  # None: a bare TCP server (`raw`)
    exit: int
    cause: str  # in the output
    raw: str = ""
    max_requests: int = 60
    max_seconds: float = 60
    args: tuple[str, ...] = field(default=())


CASES: dict[str, Callable[[], Case]] = {
    "deep-json-discovery": lambda: Case(
        [Fault("replace", "^/([.]well-known/arcp-configuration)$", replace=answer(200, deep_json()))], 0,
        "the configuration document (GET /.well-known/arcp-configuration -> 200) is not one the suite reads (nested", max_requests=2000),
    "deep-json-problem": lambda: Case([Fault("replace", "", replace=deepen(401))], 1, "PROBLEM-members [MUST]", max_requests=2000),
    "oversized-token": lambda: Case([with_temp_token(padded_token)], NO_VERDICT, "was not sent: cannot be sent: its headers would be"),
    "nested-token": lambda: Case([with_temp_token(nested_token)], NO_VERDICT, "was not sent: cannot be sent: its headers would be"),
    "non-ascii-token": lambda: Case([with_temp_token(lambda t: t + "é")], NO_VERDICT, "characters that are not ASCII"),
    "poll-on-another-origin": lambda: Case(
        [Fault("replace", "^/auth/agent/validate_compliance$", ("POST",), replace=poll_elsewhere)], NO_VERDICT,
        "phase 2 never completed: the target accepted the validation"),
    "redirect-everywhere": lambda: Case([Fault("redirect", "", location=ELSEWHERE)], NO_VERDICT, "cannot run the checks: "),
    "html-error-pages": lambda: Case([Fault("replace", "", replace=html_errors)], 1, "PROBLEM-content-type [MUST]", max_requests=2000),
    "not-utf8": lambda: Case([Fault("replace", "", replace=answer(200, b'{"status": "\xff\xfe\xc3"}'))], NO_VERDICT, "so the suite has no temp token"),
    "connection-reset": lambda: Case(None, NO_VERDICT, "the connection was closed or reset", raw="reset"),
    "silent": lambda: Case(None, NO_VERDICT, "no complete response within 2 s", raw="hang"),
    "retry-after-abuse": lambda: Case([Fault("status", "", status=429, retry_after=86_400)], NO_VERDICT, "Retry-After"),
    "gzip-bomb": lambda: Case([Fault("replace", "", replace=answer(200, gzip_bomb(), content_encoding="gzip"))], NO_VERDICT,
                              "so the suite has no temp token"),
    "gzip-gzip-bomb": lambda: Case([Fault("replace", "", replace=answer(200, stacked_gzip_bomb(), content_encoding="gzip, gzip"))],
                                   NO_VERDICT, "so the suite has no temp token"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_target_ends_in_a_named_cause_within_bounds(name, tmp_path):
    case = CASES[name]()
    target = RawTarget(case.raw) if case.faults is None else FaultyTarget("required", case.faults)
    try:
        env = {} if case.faults is None else target.env()
        if case.faults is None:
            env["ARCP_CONFORMANCE_AGENT_KEY"] = "not-used"
        run = run_suite(tmp_path, "--target-url", target.url, "--dpop-mode", "required", *FEW, *case.args, env=env, timeout=180)
        requests = target.connections if case.faults is None else len(target.requests)
    finally:
        target.close()
    output = run.stdout + run.stderr
    results = run.json_path.read_text(encoding="utf-8") if run.json_path.exists() else ""
    assert run.returncode == case.exit, output[-3000:]
    assert not [word for word in PYTHON_ERRORS if word in output + results], output[-3000:]
    assert case.cause in output, output[-3000:]
    assert requests <= case.max_requests, requests
    assert run.seconds < case.max_seconds, run.seconds
    assert run.max_rss_mb < MEMORY_MB, f"peak RSS {run.max_rss_mb:.0f} MB"

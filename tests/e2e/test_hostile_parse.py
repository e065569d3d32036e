"""A target whose answers the suite cannot read ends a run with verdicts, never a Python error
(issue 21, item 2): JSON nested 30,000 levels in discovery or in every 401 problem, and a
`Content-Encoding: gzip, gzip` bomb on every answer. Before the fix the first crashed the run
(pytest INTERNALERROR, RecursionError), the second made 860 checks Python errors, the third took
gigabytes. (The parts on their own: tests/unit/test_bounded_reading.py.)"""
from __future__ import annotations

import re

from conformance.report.results import exchange_record
from conformance.spec.vocabulary import NO_VERDICT
from conformance.wire.client import MAX_BODY_BYTES, TargetClient

from support.faulty_target import Fault, FaultyTarget, answer, deep_json, deepen, stacked_gzip_bomb
from support.suite_run import SuiteRun, run_suite

BOMB_RSS_MB = 300  # the suite's own run against the model peaks near 130 MB
BOMB_SECONDS = 60
PYTHON_ERRORS = ("INTERNALERROR", "RecursionError", "Traceback")


def run_against(tmp_path, faults: list[Fault]) -> tuple[SuiteRun, FaultyTarget]:
    target = FaultyTarget("required", faults)
    try:
        return run_suite(tmp_path, "--target-url", target.url, env=target.env(), timeout=300), target
    finally:
        target.close()


def assert_no_python_error(run: SuiteRun) -> None:
    results = run.json_path.read_text(encoding="utf-8") if run.json_path.exists() else ""  # none when the run stops before any check
    everything = run.stdout + run.stderr + results
    found = [word for word in PYTHON_ERRORS if word in everything]
    assert not found, f"{found}: {run.stdout[-2000:]}{run.stderr[-2000:]}"


def pytest_failed(run: SuiteRun) -> int:
    summary = re.search(r"(\d+) failed", run.stdout.splitlines()[-1])
    return int(summary.group(1)) if summary else 0


def test_deep_json_in_discovery_ends_the_run_with_verdicts(tmp_path):
    """The configuration document is optional (profile §3: "if it answers"): one the suite cannot
    read is none, and the strict model behind it is judged conformant."""
    deep = answer(200, deep_json())
    run, _ = run_against(tmp_path, [Fault("replace", "^/(health|[.]well-known/arcp-configuration|public/agent_types)$", replace=deep)])
    assert_no_python_error(run)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.doc["counts"]["pass"] > 1000


def test_a_problem_body_in_deep_json_is_judged_not_problem_json(tmp_path):
    run, _ = run_against(tmp_path, [Fault("replace", "", replace=deepen(401))])
    assert_no_python_error(run)
    assert run.returncode == 1, run.stdout[-3000:]
    on_401 = [c for c in run.doc["checks"] if c["requirement"] == "PROBLEM-members" and c["exchanges"] and c["exchanges"][-1]["status"] == 401]
    assert on_401 and all(c["verdict"] == "fail" and "not a JSON object" in c["message"] for c in on_401)
    assert pytest_failed(run) == run.doc["counts"]["fail"]  # every failure is a verdict, none a Python error


def test_a_gzip_gzip_bomb_on_every_answer_ends_in_seconds_in_bounded_memory(tmp_path):
    bomb = answer(200, stacked_gzip_bomb(), content_encoding="gzip, gzip")
    run, target = run_against(tmp_path, [Fault("replace", "", replace=bomb)])
    assert_no_python_error(run)
    assert run.returncode == NO_VERDICT, run.stdout[-3000:]
    assert run.max_rss_mb < BOMB_RSS_MB, f"peak RSS {run.max_rss_mb:.0f} MB"
    assert run.seconds < BOMB_SECONDS and len(target.requests) < 100, (run.seconds, len(target.requests))


def test_an_answer_that_is_not_its_coding_is_data_not_an_exception():
    target = FaultyTarget("required", [
        Fault("replace", "^/health$", replace=answer(200, b'{"status": "healthy"}', content_encoding="gzip")),
        Fault("replace", "^/public/agent_types$", replace=answer(200, stacked_gzip_bomb(), content_encoding="gzip, gzip")),
    ])
    client = TargetClient(target.url)
    try:
        broken, bomb = client.send("GET", "/health"), client.send("GET", "/public/agent_types")
    finally:
        client.close()
        target.close()
    assert broken.error is None and broken.status == 200 and broken.body_text == ""
    assert "not valid gzip" in broken.body_note and "not valid gzip" in broken.describe()
    assert exchange_record(broken)["body_note"] == broken.body_note
    assert bomb.status == 200 and bomb.truncated and len(bomb.body_text) == MAX_BODY_BYTES

"""The console's end (issue 16, item 3): failures then warnings, each requirement once with its
count, one example and one reproduce command; one verdict line with the exit code's meaning; and
pytest's per-test status of a check (report/summary.py, pytest_plugin/console.py)."""
from __future__ import annotations

from types import SimpleNamespace

from conformance.pytest_plugin.console import INFORMED, WARNED, report_teststatus
from conformance.report import summary
from conformance.spec.catalogue import requirements


def record(check_id: str, verdict: str, message: str = "why", command: str | None = None, environment=()) -> dict:
    req_id = check_id.split("@", 1)[0]
    return {"id": check_id, "requirement": req_id, "level": requirements()[req_id].level, "verdict": verdict, "message": message,
            "reproducer": {"command": command or f"arcp-conformance reproduce {check_id}.json", "environment": list(environment)}}


RECORDS = [
    record("ISSUE-lifetime@temp", "fail", "temp: expires_in=1500\nsecond line", environment=["ARCP_CONFORMANCE_AGENT_KEY"]),
    record("ISSUE-lifetime@access", "fail", "access: expires_in=4200"),
    record("ISSUE-lifetime@validated", "fail", "validated"),
    *[record(f"CHALLENGE-error@validate:{i}:valid", "warn", "x" * 400) for i in range(50)],
    *[record(f"TOKEN-wrong-phase-401@{i}:wrong-phase:valid", "warn") for i in range(7)],
    *[record(f"PROOF-typ@{i}", "pass") for i in range(900)],
    record("PROOF-alg@x", "inconclusive"),
]


def test_failures_then_warnings_each_requirement_once_with_count_example_and_reproducer():
    sections = summary.section_lines(RECORDS, requirements())
    assert [heading for heading, _ in sections] == ["failures: 1 requirement, 3 checks", "warnings: 2 requirements, 57 checks"]
    failures, warnings = (lines for _, lines in sections)
    statement = requirements()["ISSUE-lifetime"].statement
    assert failures == [
        f"ISSUE-lifetime [MUST] 3 checks: {statement}",
        "  e.g. ISSUE-lifetime@access: access: expires_in=4200",
        "  reproduce: arcp-conformance reproduce ISSUE-lifetime@access.json",
    ]
    # most checks first; a long example is cut, a multi-line one keeps its first line
    assert warnings[0].startswith("CHALLENGE-error [SHOULD] 50 checks: ") and warnings[3].startswith("TOKEN-wrong-phase-401 [SHOULD] 7 checks")
    assert warnings[1].endswith("…") and warnings[1].count("x") == summary.EXAMPLE_CHARS - 1
    assert summary.shorten("temp: expires_in=1500\nsecond line") == "temp: expires_in=1500…"


def test_the_reproducer_names_the_environment_it_needs():
    lines = summary.Group(requirements()["ISSUE-lifetime"], [RECORDS[0]]).lines()
    assert lines[-1] == "  reproduce: (with ARCP_CONFORMANCE_AGENT_KEY set as for this run) arcp-conformance reproduce ISSUE-lifetime@temp.json"


def test_with_v_every_check_is_listed():
    _, lines = summary.section_lines(RECORDS, requirements(), every_check=True)[0]
    assert [line.split(":")[0].strip() for line in lines[1:4]] == ["ISSUE-lifetime@access", "ISSUE-lifetime@temp", "ISSUE-lifetime@validated"]


def test_the_verdict_line_gives_the_counts_and_the_meaning_of_the_exit_code():
    line = summary.verdict_line(RECORDS, 1, None, strict=False)
    assert line == "arcp-conformance: exit 1: 1 MUST requirement broken | 3 fail, 57 warn, 900 pass, 1 inconclusive"
    warned_only = [r for r in RECORDS if r["verdict"] != "fail"]
    assert summary.exit_meaning(0, warned_only, None, strict=False) == "exit 0: conformant: no applicable MUST requirement broken (2 SHOULD requirements warned)"
    assert summary.exit_meaning(1, warned_only, None, strict=True) == "exit 1: 2 SHOULD requirements not met (--conformance-strict)"
    assert summary.exit_meaning(3, [], "the target could not be reached", strict=False) == "exit 3: no verdict: the target could not be reached"
    assert summary.exit_meaning(2, [], "--dpop-mode must be one of ...", strict=False).startswith("exit 2: usage error: ")
    assert summary.exit_meaning(1, [record("ISSUE-lifetime@temp", "stale")], None, strict=False) == "exit 1: 1 stale baseline entry"


def report(verdict: str, outcome: str, when: str = "call", **extra):
    return SimpleNamespace(arcp_check={"verdict": verdict, "message": "m"}, when=when, passed=outcome == "passed",
                           skipped=outcome == "skipped", failed=outcome == "failed", **extra)


def config(verbosity: int):
    return SimpleNamespace(get_verbosity=lambda: verbosity)


def test_pytest_shows_a_warned_check_apart_and_no_letter_for_passes_by_default():
    assert report_teststatus(report("warn", "passed"), config(0)) == WARNED
    assert report_teststatus(report("info", "passed"), config(0)) == INFORMED
    assert report_teststatus(report("pass", "passed"), config(0)) == ("passed", "", "PASSED")
    assert report_teststatus(report("pass", "passed"), config(1)) == ("passed", ".", "PASSED")
    assert report_teststatus(report("inconclusive", "skipped"), config(0)) == ("skipped", "", "INCONCLUSIVE")
    assert report_teststatus(report("inconclusive", "skipped"), config(1))[1] == "s"
    # pytest's own: failures (F), baselined deviations (xfail), setup and teardown, tests that are no checks
    assert report_teststatus(report("fail", "failed"), config(0)) is None
    assert report_teststatus(report("baselined", "skipped", wasxfail="listed"), config(0)) is None
    assert report_teststatus(report("pass", "passed", when="setup"), config(0)) is None
    assert report_teststatus(SimpleNamespace(when="call", passed=True), config(0)) is None

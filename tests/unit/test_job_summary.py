"""`arcp-conformance summary` (issue 16, item 7): the console's grouped failures, warnings and
verdict line from a results document, as text for a CI log or markdown for a job summary in
which the target's text cannot inject markup (conformance/report/job_summary.py)."""
from __future__ import annotations

import json
import re

from conformance.__main__ import main as command
from conformance.report import job_summary, results, summary
from conformance.spec.catalogue import requirements


def record(check_id: str, verdict: str, message: str = "why") -> dict:
    req_id = check_id.split("@", 1)[0]
    return {"id": check_id, "requirement": req_id, "level": requirements()[req_id].level, "verdict": verdict, "message": message,
            "reproducer": {"command": f"arcp-conformance reproduce reports/reproducers/{check_id}.json", "environment": []}}


def document(checks: list[dict], exit_status: int, strict: bool = False, version: str = "2.1.2") -> dict:
    return {"format": results.FORMAT, "exit_status": exit_status, "options": {"strict": strict},
            "target": {"url": "http://127.0.0.1:8001", "server_version": version, "dpop_mode": "required"}, "checks": checks}


CONFORMANT = document([record(f"PROOF-typ@{i}", "pass") for i in range(5)] + [record("BIND-unbound-proof-required@x", "not-applicable")], 0)
FAILING = document([record("ISSUE-lifetime@temp", "fail", "temp: expires_in=1500"), record("ISSUE-lifetime@access", "fail"),
                    record("CHALLENGE-error@validate:bound:valid", "warn", "no error attribute"), record("PROOF-typ@1", "pass")], 1)
HOSTILE_TEXT = ("<img src=x onerror=alert(1)> [click](https://evil.example) ![i](https://evil.example/i.png) "
                "**bold** ```` fence ````\n```\n<script>alert(2)</script>")
HOSTILE = document([record("ISSUE-lifetime@temp", "fail", HOSTILE_TEXT)], 1, version="<b>9</b> [v](https://evil.example) `x`")


def run(tmp_path, capsys, doc: dict | None, *options: str) -> tuple[int, str, str]:
    path = tmp_path / "conformance.json"
    if doc is not None:
        path.write_text(json.dumps(doc), encoding="utf-8")
    status = command(["summary", str(path), *options])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_conformant_run_says_so_with_no_section(tmp_path, capsys):
    status, out, _ = run(tmp_path, capsys, CONFORMANT)
    assert status == 0
    assert out.splitlines()[-1] == "arcp-conformance: exit 0: conformant: no applicable MUST requirement broken | 5 pass, 1 not-applicable"
    assert "failures" not in out and "warnings" not in out


def test_a_failing_run_gives_the_consoles_sections_and_verdict_line(tmp_path, capsys):
    status, out, _ = run(tmp_path, capsys, FAILING)
    assert status == 0  # the summary was printed; the run's own status is in its verdict line
    catalogue = requirements()
    for heading, lines in summary.section_lines(FAILING["checks"], catalogue):
        assert f"arcp-conformance {heading}" in out
        assert "\n".join(lines) in out
    assert out.splitlines()[-1] == summary.verdict_line(FAILING["checks"], 1, None, strict=False)
    assert "exit 1: 1 MUST requirement broken" in out


def test_the_exit_status_and_strictness_are_the_documents(tmp_path, capsys):
    warned = document([record("CHALLENGE-error@validate:bound:valid", "warn"), record("PROOF-typ@1", "pass")], 1, strict=True)
    _, out, _ = run(tmp_path, capsys, warned)
    assert "exit 1: 1 SHOULD requirement not met (--conformance-strict)" in out.splitlines()[-1]


def test_an_incomplete_run_says_which_checks_could_not_be_judged(tmp_path, capsys):
    from datetime import date

    from conformance.report import completeness

    checks = [record("PROOF-typ@1", "pass"), record("BIND-mismatch@stateful", "inconclusive", "no step of the run exercised it")]
    doc = document(checks, 3)
    doc["incomplete"] = completeness.unjudged(checks, False, {}, date.today())
    _, out, _ = run(tmp_path, capsys, doc)
    assert out.splitlines()[-1].startswith("arcp-conformance: exit 3: no verdict: incomplete: 1 applicable MUST check "
                                           "could not be judged (inconclusive): no step of the run exercised it (1)")


def test_markdown_shows_the_sections_in_code_blocks_and_the_verdict_first(tmp_path, capsys):
    status, out, _ = run(tmp_path, capsys, FAILING, "--markdown")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "## ARCP conformance"
    assert lines[2].startswith("**arcp\\-conformance: exit 1: 1 MUST requirement broken")
    assert "### failures: 1 requirement, 2 checks" in lines and "### warnings: 1 requirement, 1 check" in lines
    assert out.count("```text") == 2
    _, failures = summary.section_lines(FAILING["checks"], requirements())[0]
    start = lines.index("### failures: 1 requirement, 2 checks") + 3
    assert lines[start:start + len(failures)] == failures


def outside_code_blocks(markdown: str) -> str:
    """The markdown a renderer interprets: every fenced block removed (as CommonMark closes them)."""
    kept, fence = [], None
    for line in markdown.splitlines():
        if fence is None:
            opening = re.match(r"(`{3,})", line)
            if opening:
                fence = opening.group(1)
            else:
                kept.append(line)
        elif re.fullmatch(re.escape(fence) + r"`*\s*", line):
            fence = None
    assert fence is None, "a code block is left open"
    return "\n".join(kept)


def test_hostile_text_stays_text_in_markdown(tmp_path, capsys):
    _, out, _ = run(tmp_path, capsys, HOSTILE, "--markdown")
    interpreted = outside_code_blocks(out)
    for markup in ("<img", "<b>", "<script", "](https://", "`x`"):
        assert markup not in interpreted
    assert "&lt;b&gt;9&lt;/b&gt;" in interpreted  # the version string, escaped
    # the message sits in a block whose fence is longer than the ```` in it, so it cannot close it
    assert "`````text" in out and "<img src=x onerror=alert(1)>" in out
    # a multi-line message shows its first line only: the ``` and <script> lines never reach the summary
    assert "<script>" not in out


def test_control_characters_never_reach_the_log(tmp_path, capsys):
    doc = document([record("ISSUE-lifetime@temp", "fail", "red \x1b[31m bell \x07")], 1)
    _, out, _ = run(tmp_path, capsys, doc)
    assert "\x1b" not in out and "\x07" not in out and "red ?[31m bell ?" in out


def test_no_results_document_is_exit_2_with_the_reason_in_the_summary(tmp_path, capsys):
    status, out, err = run(tmp_path, capsys, None, "--markdown")
    assert status == 2
    assert "no verdict" in out and "no results document" in out and "stopped before judging" in err


def test_a_file_of_another_format_is_refused(tmp_path, capsys):
    status, out, err = run(tmp_path, capsys, {"format": "arcp-conformance/baseline-v1", "entries": []})
    assert status == 2 and "not a results document of this version" in err


def test_the_fence_outgrows_any_backtick_run():
    assert job_summary.code_block(["a ```` b"])[0] == "`````text"
    assert job_summary.code_block(["plain"])[0] == "```text"

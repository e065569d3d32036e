"""The run's outputs: the results JSON against its published schema, the JUnit file against the
JUnit schema, the HTML report grouped by requirement with the token × proof matrix, the printed
reproducer (run as printed, it shows the same failure), --check and the exit codes."""
import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema

from markupsafe import escape

from conformance.report import html as html_report
from conformance.report import page
from conformance.spec.catalogue import requirements
from conformance.spec.cases import REPLAYABLE
from conformance.spec.checks import fixed_checks
from conformance.judging.fuzz import fuzz_checks
from conformance.judging.stateful.run import stateful_checks
from conformance.spec.vocabulary import USAGE_ERROR
from conformance.report.reproduce import plan_name as reproducer_name
from conformance.report.results import FORMAT, schema_errors
from support import JUNIT_XSD
from support.suite_run import clean_env, run_suite

FAULTY = "model:required:accept-replay"  # breaks exactly PROOF-replay
FAILED_CHECK = "PROOF-replay@validate:bound:replay"
FUZZ_REPLAY = "PROOF-replay@fuzz:validate"
STATEFUL_REPLAY = "PROOF-replay@stateful"
REPLAYS = [f"PROOF-replay@{endpoint}:bound:replay" for endpoint in REPLAYABLE]  # the fault's fixed checks


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One whole run against the model with one fault, default output paths."""
    run = run_suite(tmp_path_factory.mktemp("full-run"), "--target-url", FAULTY)
    assert run.doc is not None, run.stdout[-2000:] + run.stderr[-2000:]
    return {
        "proc": run,
        "cwd": run.cwd,
        "doc": run.doc,
        "html": run.html_path.read_text(encoding="utf-8"),
        "junit": run.junit_path,
    }


def test_a_failing_run_exits_1_and_writes_every_output(full_run):
    assert full_run["proc"].returncode == 1, full_run["proc"].stdout[-2000:]
    assert full_run["doc"]["exit_status"] == 1
    # the fuzz run and the state machine find the same deviation
    assert [c["id"] for c in full_run["doc"]["checks"] if c["verdict"] == "fail"] == sorted([FUZZ_REPLAY, STATEFUL_REPLAY, *REPLAYS])


def test_the_state_machine_finds_the_replay_and_the_report_shows_its_sequence(full_run):
    inv = next(i for i in full_run["doc"]["stateful"]["invariants"] if i["check_id"] == STATEFUL_REPLAY)
    assert inv["outcome"] == "fail" and inv["minimal_steps"] and inv["minimal_steps"][-1].startswith("replay the request of step")
    section = full_run["html"].split('id="arcp-stateful"', 1)[1]
    assert f'href="#check-{STATEFUL_REPLAY}"' in section and "<ol><li>" in section


def test_the_results_validate_against_the_published_schema(full_run):
    doc = full_run["doc"]
    assert doc["format"] == FORMAT
    assert schema_errors(doc) == []
    assert len(doc["checks"]) == len(fixed_checks("required")) + len(fuzz_checks("required")) + len(stateful_checks("required"))


@pytest.mark.parametrize(
    ("path", "value"),
    [(("format",), "arcp-conformance/results-v0"), (("checks", 0, "verdict"), "passed"), (("counts",), {}),
     (("checks", 0, "exchanges", 0, "status"), "401"), (("target", "dpop_mode"), "auto")],
    ids=["format", "verdict", "counts", "status-type", "mode"],
)
def test_the_schema_refuses_a_broken_document(full_run, path, value):
    doc = copy.deepcopy(full_run["doc"])
    doc["checks"][0]["exchanges"] = doc["checks"][0]["exchanges"] or [next(c for c in doc["checks"] if c["exchanges"])["exchanges"][0]]
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(doc)


def test_the_junit_file_validates_and_names_each_check(full_run):
    schema = xmlschema.XMLSchema(JUNIT_XSD)
    schema.validate(full_run["junit"])
    text = full_run["junit"].read_text(encoding="utf-8")
    assert f'classname="PROOF-replay" name="{FAILED_CHECK}"' in text
    assert 'name="arcp_dpop_mode" value="required (given)"' in text


def test_the_html_report_shows_every_judged_requirement_with_level_and_linked_source(full_run):
    html = full_run["html"]
    judged = {r["id"] for r in full_run["doc"]["requirements"] if r["verdict"] not in ("inconclusive", "not-applicable")}
    assert "PROOF-replay" in judged
    for req_id in judged:
        req = requirements()[req_id]
        summary = html.split(f'id="req-{req_id}"', 1)[1].split("</summary>", 1)[0]
        assert f"<b>{req_id}</b> [{req.level}]" in summary, req_id
    assert 'href="https://www.rfc-editor.org/rfc/rfc9449#section-11.1"' in html
    assert 'href="https://github.com/0x00K1/ARCP/blob/main/docs/security/dpop.md"' in html


def test_the_html_report_names_every_check_once_and_opens_on_the_failure(full_run):
    html = full_run["html"]
    for check in full_run["doc"]["checks"]:
        assert html.count(f'id="check-{check["id"]}"') == 1, check["id"]
    assert html.index('id="verdict"') < html.index('id="req-PROOF-replay"') < html.index('id="arcp-matrix"') < html.index('id="environment"')
    assert "exit 1: 1 MUST requirement broken" in html.split('id="verdict"', 1)[1].split("</div>", 1)[0]


def test_the_html_report_has_the_matrix_per_endpoint(full_run):
    html = full_run["html"]
    matrix = html.split('id="arcp-matrix"', 1)[1]
    assert "<h3>validate endpoint</h3>" in matrix and "<h3>register endpoint</h3>" in matrix
    proofs, tokens, cells = html_report.matrix(full_run["doc"], "validate")
    assert {"bound", "mismatched", "unbound", "legacy", "expired", "missing", "alg-none", "alg-hmac-other", "signature-other"} <= set(tokens)
    assert cells[("valid", "alg-none")]["check"]["verdict"] == "pass" and cells[("valid", "alg-none")]["status"] == 401
    assert tokens.index("bad-signature") < tokens.index("alg-none") < tokens.index("signature-other") < tokens.index("malformed")
    matrix_html = matrix.split("<h3>refresh endpoint</h3>", 1)[1].split("</table>", 1)[0]
    assert "<th>alg-none</th>" in matrix_html and "<th>signature-other</th>" in matrix_html
    assert cells[("replay", "bound")]["check"]["verdict"] == "fail"
    assert cells[("replay", "bound")]["status"] == 202
    assert cells[("htm-wrong", "bound")]["check"]["verdict"] == "pass"
    assert cells[("htm-wrong", "bound")]["status"] == 401


def test_the_failure_shows_its_reproducer_in_console_json_and_html(full_run):
    check = next(c for c in full_run["doc"]["checks"] if c["id"] == FAILED_CHECK)
    rep = check["reproducer"]
    assert rep["plan_file"] == "reproducers/PROOF-replay_validate_bound_replay.json"
    assert rep["command"] == f"arcp-conformance reproduce reports/{rep['plan_file']}"
    assert rep["suite_command"] == f"pytest --target-url {FAULTY} --dpop-mode required --check {FAILED_CHECK}"
    # the console's grouped summary gives the reproduce command of its example: the first failed check by id
    example = min(c["id"] for c in full_run["doc"]["checks"] if c["verdict"] == "fail" and c["requirement"] == check["requirement"])
    example_command = next(c for c in full_run["doc"]["checks"] if c["id"] == example)["reproducer"]["command"]
    assert f"reproduce: {example_command}" in full_run["proc"].stdout
    assert escape(rep["command"]) in full_run["html"] and escape(rep["suite_command"]) in full_run["html"]


def test_the_suite_command_run_as_printed_shows_the_same_failure(full_run, tmp_path):
    check = next(c for c in full_run["doc"]["checks"] if c["id"] == FAILED_CHECK)
    argv = shlex.split(check["reproducer"]["suite_command"])
    assert argv[0] == "pytest"
    proc = run_suite(tmp_path, *argv[1:], timeout=60)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert [(c["id"], c["verdict"]) for c in proc.doc["checks"]] == [(FAILED_CHECK, "fail")]


def test_the_same_reproducer_passes_once_the_server_is_fixed(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:required", "--dpop-mode", "required", "--check", FAILED_CHECK, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_check_patterns_select_a_subset(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:optional", "--check", "PROOF-htm-mismatch@*,ISSUE-audience@*", timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]
    doc = proc.doc
    ids = [c["id"] for c in doc["checks"]]
    assert ids and all(i.startswith(("PROOF-htm-mismatch@", "ISSUE-audience@")) for i in ids)
    assert doc["options"]["checks"] == ["PROOF-htm-mismatch@*", "ISSUE-audience@*"]


def test_the_report_goes_where_conformance_html_says_and_pytest_html_gets_another_file(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:required", "--check", FAILED_CHECK, "--conformance-html", "out/verdict.html",
                     "--html", "out/tests.html", timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]
    ours = (tmp_path / "out" / "verdict.html").read_text(encoding="utf-8")
    assert "exit 0: conformant" in ours and "<script" not in ours
    theirs = (tmp_path / "out" / "tests.html").read_text(encoding="utf-8")  # pytest-html's own, linking to ours
    assert 'href="verdict.html"' in theirs
    assert not (tmp_path / "reports" / "conformance.html").exists()


def test_pytest_html_writing_over_the_suites_report_is_a_usage_error(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:required", "--check", FAILED_CHECK, "--html", "reports/conformance.html", timeout=60)
    assert proc.returncode == USAGE_ERROR
    assert "--html reports/conformance.html is where the suite writes its own report (--conformance-html)" in proc.stdout + proc.stderr


def test_a_check_pattern_matching_nothing_is_a_usage_error(tmp_path):
    proc = run_suite(tmp_path, "--target-url", "model:required", "--check", "NO-SUCH-*", timeout=60)
    assert proc.returncode == USAGE_ERROR
    assert "--check 'NO-SUCH-*' matches no check" in proc.stderr


# --- the HTML stays inert whatever the target sent

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&'


def hostile_doc(full_run) -> dict:
    doc = copy.deepcopy(full_run["doc"])
    check = next(c for c in doc["checks"] if c["id"] == FAILED_CHECK)
    check["message"] = HOSTILE
    check["exchanges"][0]["body"] = HOSTILE
    check["exchanges"][0]["response_headers"].append(["x-evil", HOSTILE])
    check["reproducer"]["plan_file"] = HOSTILE
    inv = doc["stateful"]["invariants"][0]
    inv["minimal_steps"], inv["message"], inv["statement"] = [HOSTILE], HOSTILE, HOSTILE
    doc["stateful"]["error"] = HOSTILE
    return doc


def test_hostile_text_is_escaped_in_the_report_and_the_check_details(full_run):
    doc = hostile_doc(full_run)
    check = next(c for c in doc["checks"] if c["id"] == FAILED_CHECK)
    for html in [page.render(doc, HOSTILE, plan_base="."), html_report.check_extra(check, HOSTILE)]:
        assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_report.check_extra(check)


def test_only_http_links_become_anchors():
    links = [{"text": "RFC 9449", "url": "javascript:alert(1)"}]
    assert "<a" not in html_report.linked_source("RFC 9449 §4.3", links)


def test_the_reproducer_command_run_as_printed_reproduces_the_failure(full_run):
    check = next(c for c in full_run["doc"]["checks"] if c["id"] == FAILED_CHECK)
    path = full_run["cwd"] / "reports" / check["reproducer"]["plan_file"]
    assert json.loads(path.read_text(encoding="utf-8"))["check"] == FAILED_CHECK
    failed = sorted(reproducer_name(c["id"]) for c in full_run["doc"]["checks"] if c["verdict"] not in ("pass", "not-applicable", "inconclusive"))
    assert sorted(p.name for p in path.parent.iterdir()) == failed  # only the checks that did not pass get one
    argv = shlex.split(check["reproducer"]["command"])
    assert argv[0] == "arcp-conformance"
    # the plan names model:required:accept-replay, so the command starts the model itself; run from
    # where the suite ran, as a user would after reading the console
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / argv[0]), *argv[1:]], cwd=full_run["cwd"], env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and f"REPRODUCED: {FAILED_CHECK}" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-1000:]
    assert "--- " in proc.stdout and "JUDGED" in proc.stdout


def test_the_reproducer_command_explains_a_bad_plan(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "conformance", "reproduce", str(tmp_path / "nope.json")], env=clean_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "conformance"], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "reproduce" in proc.stderr

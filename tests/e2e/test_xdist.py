"""The suite under pytest-xdist (-n 2): the same checks and verdicts as without it, one complete
results file, a valid JUnit file, the same exit codes, and the fuzz run and the state machine
sent once. Every run is a subprocess against the embedded model (each worker starts its own)."""
import json
from pathlib import Path

import pytest
import xmlschema

from conformance.spec.vocabulary import USAGE_ERROR
from conformance.report.results import schema_errors
from conformance.spec.cases import REPLAYABLE
from support import JUNIT_XSD, NO_TIME_LIMIT
from support.suite_run import SuiteRun, run_suite

pytest.importorskip("xdist")

# smaller fuzz and state-machine runs than the defaults (the file stays well under 90 s), but a
# state machine long enough to exercise every invariant on the model: otherwise the run is incomplete;
# no time budget, since the two runs' searches are compared
SMALL = ["--fuzz-examples", "10", "--stateful-examples", "8", *NO_TIME_LIMIT]
FAULTY = "model:required:accept-replay"  # breaks exactly PROOF-replay


def suite(cwd: Path, *args: str, timeout: float = 120) -> SuiteRun:
    """The suite in a subprocess (support.suite_run), without pytest's warnings summary."""
    return run_suite(cwd, "-p", "no:warnings", *args, timeout=timeout)


def verdicts(doc: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in doc["checks"]}


@pytest.fixture(scope="module", params=["model:required", FAULTY])
def pair(request, tmp_path_factory):
    """The same run with -n 0 and -n 2."""
    base = tmp_path_factory.mktemp("xdist")
    return {n: suite(base / f"n{n}", "--target-url", request.param, *SMALL, "-n", str(n)) for n in (0, 2)}


def test_the_same_checks_verdicts_and_exit_code(pair):
    n0, n2 = pair[0], pair[2]
    assert n2.returncode == n0.returncode, n2.stdout[-3000:]
    assert n0.doc and n2.doc, n2.stdout[-3000:]
    assert verdicts(n2.doc) == verdicts(n0.doc)
    assert n2.doc["counts"] == n0.doc["counts"]
    assert n2.doc["exit_status"] == n0.doc["exit_status"] == n0.returncode
    if n0.doc["target"]["spec"] == FAULTY:
        assert n0.returncode == 1
        assert {i for i, v in verdicts(n2.doc).items() if v == "fail"} == {
            "PROOF-replay@fuzz:validate", "PROOF-replay@stateful", *(f"PROOF-replay@{e}:bound:replay" for e in REPLAYABLE)}
    else:
        assert n0.returncode == 0
        assert not {v for v in verdicts(n2.doc).values()} & {"fail", "warn"}


def test_one_complete_results_file_that_validates(pair):
    doc = pair[2].doc
    assert schema_errors(doc) == []
    assert doc["target"]["spec"] == pair[0].doc["target"]["spec"]
    assert doc["target"]["dpop_mode"] == "required" and doc["target"]["server_version"]
    # both workers' traffic is counted; each situation stays whole on one worker, so little is sent twice
    assert pair[0].doc["transport"]["requests"] <= doc["transport"]["requests"] < 1.5 * pair[0].doc["transport"]["requests"]
    assert [c["id"] for c in doc["checks"]] == [c["id"] for c in pair[0].doc["checks"]]  # one record per check


def test_the_fuzz_run_and_the_state_machine_are_sent_once(pair):
    n0, n2 = pair[0].doc, pair[2].doc
    assert n2["fuzz"] is not None and n2["stateful"] is not None
    searched = {n: {k: pair[n].doc["fuzz"][k] for k in ("examples_run", "stopped", "elapsed_seconds")} for n in pair}
    assert n2["fuzz"]["examples_run"] == n0["fuzz"]["examples_run"], searched
    assert n2["fuzz"]["requests"] == n0["fuzz"]["requests"]
    assert n2["stateful"]["examples"] == n0["stateful"]["examples"]
    out = pair[2].stdout
    assert out.count("arcp-conformance fuzzing: seed") == 1 and out.count("arcp-conformance stateful flows: seed") == 1


def test_the_junit_file_validates_with_the_run_properties(pair):
    junit = pair[2].cwd / "reports" / "conformance.junit.xml"
    xmlschema.XMLSchema(JUNIT_XSD).validate(junit)
    text = junit.read_text(encoding="utf-8")
    assert 'name="arcp_dpop_mode" value="required (given)"' in text
    assert text.count("<testcase ") == len(pair[2].doc["checks"])


def test_the_html_report_and_reproducers(pair):
    cwd, doc = pair[2].cwd, pair[2].doc
    html = (cwd / "reports" / "conformance.html").read_text(encoding="utf-8")
    assert 'id="req-PROOF-replay"' in html and f'<dt>Target</dt><dd>{doc["target"]["url"]}' in html  # the controller wrote it
    files = {c["reproducer"]["plan_file"] for c in doc["checks"] if c["reproducer"]["plan_file"]}
    assert files == {c["reproducer"]["plan_file"] for c in pair[0].doc["checks"] if c["reproducer"]["plan_file"]}
    assert bool(files) == (doc["target"]["spec"] == FAULTY)  # a plan for each check that did not pass
    for file in files:  # the plans a worker wrote, written by the controller
        assert json.loads((cwd / "reports" / file).read_text(encoding="utf-8"))["format"] == "arcp-conformance/reproducer-v1", file


# --- options and exit codes under -n 2 (small runs: --check selects a check or two)

def test_usage_errors_exit_2(tmp_path):
    run = suite(tmp_path, "--target-url", "model:required", "--check", "NO-SUCH-*", "-n", "2", timeout=60)
    assert run.returncode == USAGE_ERROR
    assert "matches no check" in run.stdout + run.stderr


@pytest.mark.parametrize("spec, message", [("model:bogus", "unknown DPoP mode 'bogus'"),
                                           ("model:required:no-such-fault", "unknown model fault 'no-such-fault'")])
def test_a_bad_model_spec_exits_2_on_the_controller(tmp_path, spec, message):
    run = suite(tmp_path, "--target-url", spec, "-n", "2", timeout=60)
    assert run.returncode == USAGE_ERROR
    assert message in run.stdout + run.stderr


def test_an_unreachable_target_exits_3(tmp_path):
    run = suite(tmp_path, "--target-url", "http://127.0.0.1:9", "--agent-key", "any-agent-key", "-n", "2", timeout=60)
    assert run.returncode == 3, run.stdout[-2000:]
    assert "is unreachable" in run.stdout


def test_baselines_and_strict_mode_as_without_xdist(tmp_path):
    known, replay = tmp_path / "known.json", "PROOF-replay@validate:*"
    first = suite(tmp_path / "write", "--target-url", FAULTY, "--check", replay, "-n", "2", "--write-baseline", str(known))
    assert first.returncode == 1 and known.exists()
    assert [e["id"] for e in json.loads(known.read_text(encoding="utf-8"))["entries"]] == ["PROOF-replay@validate:bound:replay"]
    again = suite(tmp_path / "again", "--target-url", FAULTY, "--check", replay, "-n", "2", "--baseline", str(known))
    assert again.returncode == 0, again.stdout[-2000:]
    assert set(verdicts(again.doc).values()) == {"baselined"}
    fixed = suite(tmp_path / "fixed", "--target-url", "model:required", "--check", replay, "-n", "2", "--baseline", str(known))
    assert fixed.returncode == 1 and set(verdicts(fixed.doc).values()) == {"stale"}  # the deviation is gone
    # a SHOULD broken: a pass without --conformance-strict, a failure with it
    lax = suite(tmp_path / "lax", "--target-url", "model:required:skip-iat-future", "--check", "PROOF-iat-future@*", "-n", "2")
    strict = suite(tmp_path / "strict", "--target-url", "model:required:skip-iat-future", "--check", "PROOF-iat-future@*",
                       "-n", "2", "--conformance-strict")
    assert (lax.returncode, strict.returncode) == (0, 1)
    assert "warn" in set(verdicts(strict.doc).values())

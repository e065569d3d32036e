"""A crash inside a judge is a bug of the suite (issue 21, item 2): the run says so in one line,
exits with pytest's internal-error code (3), and never reports it as a failure of the server."""
import pytest

from support.suite_run import run_suite


def test_a_judge_that_raises_is_an_internal_error_not_a_server_failure(tmp_path):
    run = run_suite(tmp_path, "--target-url", "model:required", "--check", "PROOF-typ@*", "--fuzz-examples", "0",
                    "--stateful-examples", "0", plugins=["broken_judge"],
                    env={"ARCP_TEST_BROKEN_JUDGE": "PROOF-typ@validate:bound:typ-missing"})
    assert run.returncode == pytest.ExitCode.INTERNAL_ERROR == 3, run.stdout[-3000:]
    assert "FAILED" not in run.stdout and "Traceback" not in run.stdout and " failed" not in run.stdout.splitlines()[-1]
    assert ("arcp-conformance: internal error: the suite failed while judging 1 check, a bug of arcp-conformance and not "
            "a verdict about the server (please report it); first PROOF-typ@validate:bound:typ-missing: KeyError: ") in run.stdout
    record = next(c for c in run.doc["checks"] if c["id"] == "PROOF-typ@validate:bound:typ-missing")
    assert record["verdict"] == "inconclusive" and record["suite_error"] is True
    assert run.doc["exit_status"] == 3 and run.doc["counts"]["fail"] == 0 and run.doc["counts"]["pass"] > 0


def test_an_error_inside_the_fuzz_run_is_an_internal_error_not_a_shorter_stream(tmp_path):
    """Hypothesis ends a search at the first exception it meets: the fuzz run once kept quiet about
    one and reported the corpus and a single generated example as if they were the whole stream."""
    run = run_suite(tmp_path, "--target-url", "model:required", "--check", "*@fuzz:*", "--fuzz-examples", "5",
                    "--stateful-examples", "0", plugins=["broken_fuzz"])
    assert run.returncode == pytest.ExitCode.INTERNAL_ERROR == 3, run.stdout[-3000:]
    assert "FAILED" not in run.stdout and "Traceback" not in run.stdout
    assert "arcp-conformance: internal error: the suite failed while judging" in run.stdout
    assert "KeyError: 'an example that read a member nobody wrote'" in run.stdout
    fuzz_checks = [c for c in run.doc["checks"] if c["subject"].startswith("fuzz:")]
    assert fuzz_checks and all(c["verdict"] == "inconclusive" and c["suite_error"] for c in fuzz_checks)
    assert run.doc["counts"]["pass"] == run.doc["counts"]["fail"] == 0

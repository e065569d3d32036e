"""Baselines (--baseline, --write-baseline) end to end: accepted deviations do not fail the run,
stale ones do. (Classifying and loading on their own: tests/unit/test_baseline_classify.py.)"""
import json
from pathlib import Path

import conformance
from conformance.report.baseline import FORMAT
from conformance.spec.vocabulary import USAGE_ERROR
from support.suite_run import run_suite

SUITE = str(Path(conformance.__file__).parent / "suite")
REPLAY = "PROOF-replay@validate:bound:replay"


def run(cwd, target, *args):
    """The suite's phase-2 replay check in `cwd`, without the developer's ARCP_CONFORMANCE_* variables."""
    return run_suite(cwd, SUITE, "--target-url", target, "-k", "replay and validate", "--fuzz-examples", "0", "--stateful-examples", "0", *args, timeout=120)


def test_a_written_baseline_accepts_the_deviation_and_goes_stale_when_it_is_fixed(tmp_path):
    baseline = tmp_path / "baseline.json"
    first = run(tmp_path, "model:required:accept-replay", "--write-baseline", str(baseline))
    assert first.returncode == 1
    assert [e["id"] for e in json.loads(baseline.read_text())["entries"]] == [REPLAY]

    accepted = run(tmp_path, "model:required:accept-replay", "--baseline", str(baseline))
    assert accepted.returncode == 0
    accepted.stdout_lines.fnmatch_lines(["*1 xfailed*"])

    fixed = run(tmp_path, "model:required", "--baseline", str(baseline))  # the server no longer has the defect
    assert fixed.returncode == 1
    fixed.stdout_lines.fnmatch_lines([f"*{REPLAY}*now passes*"])


def test_an_expired_entry_fails_the_run(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"format": FORMAT, "entries": [{"id": REPLAY, "reason": "known", "expires": "2020-01-01"}]}))
    result = run(tmp_path, "model:required:accept-replay", "--baseline", str(baseline))
    assert result.returncode == 1
    result.stdout_lines.fnmatch_lines(["*expired on 2020-01-01*"])


def test_an_entry_naming_no_check_is_stale(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"format": FORMAT, "entries": [{"id": "NO-SUCH@check", "reason": "typo"}]}))
    result = run(tmp_path, "model:required", "--baseline", str(baseline))
    assert result.returncode == 1
    result.stdout_lines.fnmatch_lines(["*stale baseline entries*NO-SUCH@check*"])


def test_an_unusable_baseline_is_a_usage_error(tmp_path):
    result = run(tmp_path, "model:required", "--baseline", str(tmp_path / "missing.json"))
    assert result.returncode == USAGE_ERROR
    result.stderr_lines.fnmatch_lines(["*missing.json*no such file*"])

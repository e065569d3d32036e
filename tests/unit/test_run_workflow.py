"""scripts/run_workflow.py, the runner .ci/run runs the example GitHub workflow with: what the
steps write to $GITHUB_STEP_SUMMARY is kept, in order, as GitHub shows it (issue 16, item 7),
and what it does not support is refused rather than skipped."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_workflow.py"
_spec = importlib.util.spec_from_file_location("run_workflow", SCRIPT)
run_workflow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_workflow)


def run(tmp_path: Path, steps: list[dict], *options: str) -> int:
    workflow = tmp_path / "workflow.yml"
    workflow.write_text(yaml.safe_dump({"name": "t", "jobs": {"job": {"runs-on": "ubuntu-latest", "steps": steps}}}))
    (tmp_path / "ws").mkdir(exist_ok=True)
    return run_workflow.main([str(workflow), "--workspace", str(tmp_path / "ws"), "--runner-temp", str(tmp_path / "temp"), *options])


def test_each_steps_summary_is_kept_in_order_even_after_a_failure(tmp_path):
    status = run(tmp_path, [
        {"name": "one", "run": 'echo "## first" >> "$GITHUB_STEP_SUMMARY"'},
        {"name": "quiet", "run": "true"},
        {"name": "breaks", "run": 'echo "broken" >> "$GITHUB_STEP_SUMMARY"; exit 3'},
        {"name": "skipped", "run": 'echo "never" >> "$GITHUB_STEP_SUMMARY"'},
        {"name": "always", "if": "always()", "run": 'test ! -e "$GITHUB_STEP_SUMMARY"; echo "last" >> "$GITHUB_STEP_SUMMARY"'},
    ])
    assert status == 1
    assert (tmp_path / "temp" / "job-summary.md").read_text() == "## first\nbroken\nlast\n"


def test_the_job_summary_goes_where_it_is_asked_and_starts_empty(tmp_path):
    target = tmp_path / "out" / "summary.md"
    for _ in range(2):  # a second run does not add to the first's
        assert run(tmp_path, [{"run": 'echo hello >> "$GITHUB_STEP_SUMMARY"'}], "--job-summary", str(target)) == 0
    assert target.read_text() == "hello\n"


def test_an_unsupported_condition_is_refused(tmp_path, capsys):
    assert run(tmp_path, [{"name": "x", "if": "failure()", "run": "true"}]) == 2
    assert "unsupported condition" in capsys.readouterr().err

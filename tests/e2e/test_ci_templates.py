"""The CI templates server teams copy (issue 16, item 7), run here against the embedded model
instead of arcp-py: the GitHub Actions example through scripts/run_workflow.py (as .ci/run runs it
against upstream), the GitLab CI template's script lines in bash as a GitLab runner runs them. Only
the lines that install and start a server are replaced (the model needs neither); the lines that
run the suite, write the baseline, the summary and keep the reports are the templates' own.
On first copy (no baseline) a faulty server fails the job, yet the reports, a draft baseline the
suite accepts and the summary are there; with the draft committed the next run passes."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conformance.pytest_plugin.options import OPTIONS
from conformance.report import baseline
from support.suite_run import clean_env

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "examples" / "github-actions" / "arcp-conformance.yml"
GITLAB = ROOT / "examples" / "gitlab-ci" / "arcp-conformance.gitlab-ci.yml"
TARGET_IN_TEMPLATES = '"http://127.0.0.1:$ARCP_SERVER_PORT"'  # what the suite is pointed at: the started server
FAULTY = "model:required:expires-in-wrong"  # breaks ISSUE-lifetime, a MUST
CHEAP = {"ARCP_CONFORMANCE_CHECK": "ISSUE-*", "ARCP_CONFORMANCE_FUZZ_EXAMPLES": "0", "ARCP_CONFORMANCE_STATEFUL_EXAMPLES": "0"}
PYTEST_OWN = {"-p", "-q"}


def suite_commands(bin_dir: Path) -> None:
    """`pytest` and `arcp-conformance` as the templates' install would leave them, for this checkout."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, module in (("pytest", "pytest"), ("arcp-conformance", "conformance")):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m {module} \"$@\"\n")
        path.chmod(0o755)


def runner_env(extra: dict[str, str]) -> dict[str, str]:
    return clean_env({"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **CHEAP, **extra})


def pytest_options(script: str) -> set[str]:
    """The options of the pytest commands in a script (continuation lines joined)."""
    joined = script.replace("\\\n", " ")
    return {token for line in joined.splitlines() if re.match(r"\s*pytest\s", line)
            for token in shlex.split(line) if token.startswith("-")}


# --- GitHub Actions

def github_workflow_for_the_model(tmp_path: Path, target: str) -> Path:
    """The example with its two server-specific steps replaced: no server to start, the suite
    already installed (this checkout); the suite pointed at `target`."""
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    bin_dir = tmp_path / "suite-bin"
    suite_commands(bin_dir)
    names = [step.get("name") for step in job["steps"]]
    start, install = names.index("Start the server under test"), names.index("Install arcp-conformance")
    job["steps"][start] = {"name": "No server: the embedded model", "run": "true"}
    job["steps"][install] = {"name": "Install arcp-conformance", "run": f'echo "{bin_dir}" >> "$GITHUB_PATH"'}
    run_step = next(step for step in job["steps"] if step.get("name") == "Run the conformance suite")
    assert run_step["run"].count(TARGET_IN_TEMPLATES) == 2
    run_step["run"] = run_step["run"].replace(TARGET_IN_TEMPLATES, shlex.quote(target))
    # the secrets the workflow generates are its server's; the model has its own
    assert set(run_step.pop("env")) == {"ARCP_CONFORMANCE_AGENT_KEY", "ARCP_CONFORMANCE_JWT_SECRET"}
    path = tmp_path / "workflow.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    return path


def run_github(tmp_path: Path, label: str, target: str, committed: Path | None = None):
    workspace = tmp_path / label / "workspace"
    (workspace / ".arcp").mkdir(parents=True)
    if committed is not None:
        (workspace / ".arcp" / "conformance-baseline.json").write_bytes(committed.read_bytes())
    artifacts, summary = tmp_path / label / "artifacts", tmp_path / label / "summary.md"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_workflow.py"), str(github_workflow_for_the_model(tmp_path, target)),
                           "--workspace", str(workspace), "--runner-temp", str(tmp_path / label / "runner"), "--artifacts", str(artifacts),
                           "--job-summary", str(summary)], env=runner_env({}), capture_output=True, text=True, timeout=300)
    return proc, artifacts / "arcp-conformance-reports", summary.read_text(encoding="utf-8")


def test_the_github_example_on_first_copy_fails_a_faulty_server_yet_keeps_reports_draft_and_summary(tmp_path):
    first, reports, summary = run_github(tmp_path, "first", FAULTY)
    assert first.returncode == 1, first.stdout[-3000:]
    assert "::notice title=No conformance baseline::" in first.stdout
    for name in ("conformance.json", "conformance.junit.xml", "conformance.html", "conformance-baseline.json"):
        assert (reports / name).is_file(), name
    draft = reports / "conformance-baseline.json"
    assert {entry.split("@")[0] for entry in baseline.load(draft)} == {"ISSUE-lifetime"}
    assert "### failures: 1 requirement, 3 checks" in summary and "ISSUE-lifetime [MUST] 3 checks" in summary
    assert "exit 1: 1 MUST requirement broken" in summary and "No baseline committed" in summary

    # the draft committed: the same server passes the gate, and the summary says so
    gated, reports, summary = run_github(tmp_path, "gated", FAULTY, committed=draft)
    assert gated.returncode == 0, gated.stdout[-3000:]
    assert "::notice" not in gated.stdout and not (reports / "conformance-baseline.json").exists()
    assert "exit 0: conformant" in summary and "No baseline committed" not in summary


def test_the_github_example_on_first_copy_passes_a_conformant_server(tmp_path):
    first, reports, summary = run_github(tmp_path, "clean", "model:required")
    assert first.returncode == 0, first.stdout[-3000:]
    assert baseline.load(reports / "conformance-baseline.json") == {}
    assert "exit 0: conformant" in summary and "### failures" not in summary


def test_the_github_examples_pytest_options_are_the_suites():
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    used = set().union(*(pytest_options(step.get("run", "")) for step in job["steps"]))
    assert used and used - PYTEST_OWN <= {f"--{name}" for name in OPTIONS}
    assert "--html" not in used  # the report's path is the suite's default (reports/conformance.html)


# --- GitLab CI

def gitlab_job() -> dict:
    (job,) = [value for key, value in yaml.safe_load(GITLAB.read_text(encoding="utf-8")).items() if not key.startswith(".")]
    return job


def test_the_gitlab_template_keeps_its_reports_always_and_publishes_the_junit_file():
    job = gitlab_job()
    for key in ("image", "variables", "before_script", "script", "after_script", "artifacts"):
        assert key in job, key
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    junit = artifacts["reports"]["junit"]
    # after_script copies the suite's reports/ here; the suite writes its JUnit file to reports/conformance.junit.xml
    assert junit == "arcp-conformance-reports/conformance.junit.xml"
    assert any(junit.startswith(path.rstrip("/") + "/") for path in artifacts["paths"])


@pytest.mark.parametrize("section", ["before_script", "script", "after_script"])
def test_every_gitlab_script_line_is_bash(section):
    for line in gitlab_job()[section]:
        proc = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert proc.returncode == 0, f"{line!r}: {proc.stderr}"


def test_the_gitlab_templates_pytest_options_are_the_suites():
    job = gitlab_job()
    used = set().union(*(pytest_options(line) for line in job["script"]))
    assert used and used - PYTEST_OWN <= {f"--{name}" for name in OPTIONS}
    assert "--html" not in used


def run_gitlab(tmp_path: Path, label: str, target: str, committed: Path | None = None):
    """The job's script then its after_script, each in one bash as a GitLab runner runs them
    (errexit, pipefail; the job's variables set), before_script replaced: no server, the suite
    installed where the template installs it."""
    job = gitlab_job()
    project, run_dir = tmp_path / label / "project", tmp_path / label / "run"
    (project / ".arcp").mkdir(parents=True)
    if committed is not None:
        (project / ".arcp" / "conformance-baseline.json").write_bytes(committed.read_bytes())
    suite_commands(run_dir / "conformance-venv" / "bin")
    env = runner_env({**{k: str(v) for k, v in job["variables"].items()}, "ARCP_RUN_DIR": str(run_dir), "CI_PROJECT_DIR": str(project)})
    script = "\n".join(job["script"])
    assert script.count(TARGET_IN_TEMPLATES) == 2
    script = script.replace(TARGET_IN_TEMPLATES, shlex.quote(target))
    main = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    after = subprocess.run(["bash", "-eo", "pipefail", "-c", "\n".join(job["after_script"])], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)
    return main, after, project


def test_the_gitlab_template_on_first_copy_fails_a_faulty_server_yet_keeps_reports_draft_and_summary(tmp_path):
    main, after, project = run_gitlab(tmp_path, "first", FAULTY)
    assert main.returncode == 1, main.stdout[-3000:] + main.stderr[-2000:]
    assert "NOTE: .arcp/conformance-baseline.json is not in the repository" in main.stdout
    assert after.returncode == 0, after.stdout + after.stderr
    junit = project / gitlab_job()["artifacts"]["reports"]["junit"]
    assert junit.is_file()
    draft = project / "arcp-conformance-reports" / "conformance-baseline.json"
    assert {entry.split("@")[0] for entry in baseline.load(draft)} == {"ISSUE-lifetime"}
    assert "arcp-conformance failures: 1 requirement, 3 checks" in after.stdout
    assert after.stdout.rstrip().splitlines()[-2].startswith("arcp-conformance: exit 1: 1 MUST requirement broken")
    assert "NOTE: no baseline committed" in after.stdout

    gated, after, project = run_gitlab(tmp_path, "gated", FAULTY, committed=draft)
    assert gated.returncode == 0, gated.stdout[-3000:]
    assert "exit 0: conformant" in after.stdout and "NOTE" not in after.stdout + gated.stdout

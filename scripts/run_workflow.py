"""Run the steps of a one-job GitHub Actions workflow here, as a runner would, so that CI can
test the example workflow server teams copy (examples/github-actions/arcp-conformance.yml).

    python scripts/run_workflow.py WORKFLOW --workspace DIR --runner-temp DIR [--env NAME=VALUE]...

What it supports is what the example uses, no more: workflow and job `env`, step `env`,
`run` (bash -e, in `working-directory`, output masked after `::add-mask::`), `if: always()`,
`timeout-minutes`, the expressions
`${{ env.X }}`, `${{ runner.temp }}` and `${{ github.workspace }}`, the files $GITHUB_ENV,
$GITHUB_PATH and $GITHUB_STEP_SUMMARY (a file per step; what the steps wrote is kept together, in
order, in --job-summary: default RUNNER_TEMP/job-summary.md), and three actions: checkout (the workspace given is the checkout), setup-python
(checks that python3 is at least 3.11) and upload-artifact (checks that the path holds files
and copies them to --artifacts). `--env` overrides a workflow or job variable (e.g. the package
to install: this checkout). Anything else is refused, so the example cannot drift into features
this runner would silently skip. Every process a step leaves behind is killed at the end.

Exit status: 0 when every step succeeded, 1 when one failed, 2 for a workflow it cannot run.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
KNOWN_ACTIONS = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")
STEP_KEYS = {"name", "uses", "with", "run", "env", "if", "working-directory", "timeout-minutes", "id"}


class WorkflowError(ValueError):
    pass


class Runner:
    def __init__(self, workspace: Path, runner_temp: Path, artifacts: Path, overrides: dict[str, str], job_summary: Path | None = None):
        self.workspace, self.runner_temp, self.artifacts = workspace, runner_temp, artifacts
        self.overrides = overrides
        self.github_env = runner_temp / "github_env"
        self.github_path = runner_temp / "github_path"
        self.step_summary = runner_temp / "step_summary"
        self.job_summary = job_summary or runner_temp / "job-summary.md"
        self.job_summary.parent.mkdir(parents=True, exist_ok=True)
        self.job_summary.write_text("")
        self.extra_path: list[str] = []
        self.exported: dict[str, str] = {}
        self.sessions: list[int] = []
        self.masks: list[str] = []

    def expand(self, text: str, env: dict[str, str]) -> str:
        def value(match: re.Match) -> str:
            expr = match.group(1)
            if expr.startswith("env."):
                return env.get(expr[4:], "")
            if expr == "runner.temp":
                return str(self.runner_temp)
            if expr == "github.workspace":
                return str(self.workspace)
            raise WorkflowError(f"unsupported expression ${{{{ {expr} }}}}")
        return EXPRESSION.sub(value, str(text))

    def _read_exports(self) -> None:
        if self.github_env.exists():
            for line in self.github_env.read_text().splitlines():
                name, sep, value = line.partition("=")
                if sep:
                    self.exported[name] = value
            self.github_env.write_text("")
        if self.github_path.exists():
            self.extra_path = [p for p in self.github_path.read_text().splitlines() if p] + self.extra_path
            self.github_path.write_text("")
        if self.step_summary.exists():  # as GitHub: each step writes a file of its own, shown in order
            with self.job_summary.open("a", encoding="utf-8") as summary:
                summary.write(self.step_summary.read_text(encoding="utf-8", errors="replace"))
            self.step_summary.unlink()

    def base_env(self, levels: list[dict]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(GITHUB_ENV=str(self.github_env), GITHUB_PATH=str(self.github_path),
                   GITHUB_WORKSPACE=str(self.workspace), RUNNER_TEMP=str(self.runner_temp), CI="true",
                   GITHUB_STEP_SUMMARY=str(self.step_summary))
        for level in levels:
            for name, value in (level or {}).items():
                env[name] = self.expand(value, env)
        env.update(self.overrides)
        env.update(self.exported)
        env["PATH"] = os.pathsep.join([*self.extra_path, env["PATH"]])
        return env

    def run_step(self, step: dict, job_env: list[dict]) -> int:
        unknown = set(step) - STEP_KEYS
        if unknown:
            raise WorkflowError(f"step {step.get('name')!r}: unsupported keys {sorted(unknown)}")
        env = self.base_env(job_env)
        for name, value in (step.get("env") or {}).items():
            env[name] = self.expand(value, env)
        if "uses" in step:
            return self.action(step["uses"], {k: self.expand(v, env) for k, v in (step.get("with") or {}).items()})
        cwd = Path(self.expand(step.get("working-directory", str(self.workspace)), env))
        timeout = 60 * float(step.get("timeout-minutes", 30))
        proc = subprocess.Popen(["bash", "-e", "-c", self.expand(step["run"], env)], cwd=cwd, env=env,
                                start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        self.sessions.append(proc.pid)
        timer = threading.Timer(timeout, self._stop, (proc,))
        timer.start()
        try:
            for line in proc.stdout:
                self.show(line)
            status = proc.wait()
        finally:
            timer.cancel()
        if status == -signal.SIGKILL:
            print(f"::error:: step timed out after {timeout:.0f} s", flush=True)
        self._read_exports()
        return status

    def show(self, line: str) -> None:
        """Print a step's output line as a runner would: ::add-mask:: registers a secret and is not
        shown; every registered secret is shown as ***."""
        if line.startswith("::add-mask::"):
            value = line[len("::add-mask::"):].strip()
            if value:
                self.masks.append(value)
            return
        for secret in self.masks:
            line = line.replace(secret, "***")
        sys.stdout.write(line)
        sys.stdout.flush()

    @staticmethod
    def _stop(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def action(self, uses: str, with_: dict) -> int:
        if uses.startswith("actions/checkout@"):
            return 0 if self.workspace.is_dir() else 1
        if uses.startswith("actions/setup-python@"):
            return 0 if sys.version_info >= (3, 11) else 1
        if uses.startswith("actions/upload-artifact@"):
            source = Path(with_["path"])
            files = [p for p in source.rglob("*") if p.is_file()] if source.is_dir() else []
            if not files:
                print(f"::error:: upload-artifact: no files at {source}", flush=True)
                return 1
            target = self.artifacts / with_.get("name", "artifact")
            shutil.copytree(source, target, dirs_exist_ok=True)
            print(f"artifact {with_.get('name')}: {len(files)} file(s) -> {target}", flush=True)
            return 0
        raise WorkflowError(f"unsupported action {uses!r} (this runner knows {', '.join(KNOWN_ACTIONS)})")

    def cleanup(self) -> None:
        for pid in self.sessions:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass


def run(workflow: dict, runner: Runner) -> int:
    jobs = workflow.get("jobs") or {}
    if len(jobs) != 1:
        raise WorkflowError("the workflow must have exactly one job")
    (job_name, job), = jobs.items()
    levels = [workflow.get("env") or {}, job.get("env") or {}]
    failed = False
    try:
        for i, step in enumerate(job.get("steps") or [], start=1):
            label = step.get("name") or step.get("uses") or f"step {i}"
            condition = str(step.get("if", "success()")).strip()
            if condition not in ("always()", "success()"):
                raise WorkflowError(f"step {label!r}: unsupported condition {condition!r}")
            if failed and condition != "always()":
                print(f"--- {job_name} / {label}: skipped (an earlier step failed)", flush=True)
                continue
            print(f"--- {job_name} / {label}", flush=True)
            status = runner.run_step(step, levels)
            if status != 0:
                print(f"--- {job_name} / {label}: failed with exit status {status}", flush=True)
                failed = True
    finally:
        runner.cleanup()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflow", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--runner-temp", type=Path, required=True)
    parser.add_argument("--artifacts", type=Path, default=None)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--job-summary", type=Path, default=None, help="where the steps' $GITHUB_STEP_SUMMARY go (default RUNNER_TEMP/job-summary.md)")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.env)
    args.runner_temp.mkdir(parents=True, exist_ok=True)
    artifacts = args.artifacts or args.runner_temp / "artifacts"
    try:
        workflow = yaml.safe_load(args.workflow.read_text(encoding="utf-8"))
        return run(workflow, Runner(args.workspace.resolve(), args.runner_temp.resolve(), artifacts, overrides, args.job_summary))
    except (WorkflowError, OSError, yaml.YAMLError) as exc:
        print(f"run_workflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

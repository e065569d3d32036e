"""The suite run as a user runs it: `python -m pytest ...` in a subprocess, in a folder of its own,
with none of the developer's ARCP_CONFORMANCE_* settings. The one way the project's tests do it.

    run = run_suite(tmp_path, "--target-url", "model:required:accept-replay", "--check", "PROOF-*")
    assert run.returncode == 1, run.stdout[-2000:]
    assert run.doc["exit_status"] == 1                    # reports/conformance.json, parsed
    run.stdout_lines.fnmatch_lines(["*FAILED*PROOF-replay*"])

`plugins` names modules of tests/support that the suite's process loads as pytest plugins
(`-p NAME`, tests/support on its PYTHONPATH), e.g. hostile_target's probe.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import pytest

from conformance.pytest_plugin.options import OPTIONS

from . import SUPPORT

SETTINGS_PREFIX = "ARCP_CONFORMANCE_"


# the outer pytest run's extra options must not reach the run under test (pytester drops them too)
OUTER_PYTEST = ("PYTEST_ADDOPTS",)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without the suite's settings (every ARCP_CONFORMANCE_* variable: a developer's
    shell may hold a target URL or a key) or PYTEST_ADDOPTS, without bytecode files or colours,
    plus `extra`."""
    settings = {env for env, _help in OPTIONS.values()}
    env = {k: v for k, v in os.environ.items()
           if k not in settings and not k.startswith(SETTINGS_PREFIX) and k not in OUTER_PYTEST}
    env.update(PYTHONDONTWRITEBYTECODE="1", PY_COLORS="0")
    env.update(extra or {})
    return env


@dataclass
class SuiteRun:
    """What one run left: its exit code, console, peak memory, time and output files."""

    cwd: Path
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float  # peak resident set size of the pytest process: its own VmHWM (support/peak_memory.py)
    seconds: float

    @property
    def reports(self) -> Path:
        return self.cwd / "reports"

    @property
    def json_path(self) -> Path:
        return self.reports / "conformance.json"

    @property
    def html_path(self) -> Path:
        return self.reports / "conformance.html"

    @property
    def junit_path(self) -> Path:
        return self.reports / "conformance.junit.xml"

    @cached_property
    def doc(self) -> dict | None:
        """reports/conformance.json, parsed; None when the run wrote none."""
        return json.loads(self.json_path.read_text(encoding="utf-8")) if self.json_path.exists() else None

    @property
    def stdout_lines(self) -> pytest.LineMatcher:
        """stdout for fnmatch_lines and no_fnmatch_line, as pytester's results offer them."""
        return pytest.LineMatcher(self.stdout.splitlines())

    @property
    def stderr_lines(self) -> pytest.LineMatcher:
        return pytest.LineMatcher(self.stderr.splitlines())

    def outputs(self) -> dict[str, str]:
        """Every output of the run by name: console, HTML, JSON, JUnit, each reproducer plan."""
        files = [self.html_path, self.json_path, self.junit_path, *sorted((self.reports / "reproducers").glob("*.json"))]
        out = {"stdout": self.stdout, "stderr": self.stderr}
        for f in files:
            out[str(f.relative_to(self.cwd))] = f.read_text(encoding="utf-8", errors="replace")
        return out


def run_suite(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180,
              plugins: Iterable[str] = ()) -> SuiteRun:
    """`python -m pytest -p no:cacheprovider [-p PLUGIN ...] ARGS` in `cwd` (made if missing), with
    clean_env() and then `env`. Raises subprocess.TimeoutExpired (the process killed, its console
    attached) after `timeout` seconds."""
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    plugins = ("peak_memory", *plugins)  # the run's own peak memory (wait4's would include this process's)
    full_env = clean_env()
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    peak_file = Path(tempfile.mkdtemp(prefix="arcp-test-peak-")) / "peak_kb"
    full_env["ARCP_TEST_PEAK_FILE"] = str(peak_file)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *(a for p in plugins for a in ("-p", p)), *args]
    started = time.monotonic()
    # the console goes to unnamed files, not pipes: nothing to drain while waiting with wait4
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        killed = threading.Event()

        def kill():
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        seconds = time.monotonic() - started
        stdout, stderr = (_read(f) for f in (out, err))
    peak_kb = int(peak_file.read_text()) if peak_file.exists() else usage.ru_maxrss  # no file: the run ended before pytest configured
    shutil.rmtree(peak_file.parent, ignore_errors=True)
    if killed.is_set():
        raise subprocess.TimeoutExpired(argv, timeout, output=stdout, stderr=stderr)
    return SuiteRun(cwd, tuple(args), proc.returncode, stdout, stderr, peak_kb / 1024, seconds)


def _read(f) -> str:
    """The console as text, newlines translated as a text-mode read does."""
    f.seek(0)
    return f.read().decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")

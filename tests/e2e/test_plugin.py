"""The pytest plugin end to end, in a pytest subprocess: options, environment, unreachable target."""
from pathlib import Path

import pytest

import conformance
from conformance.pytest_plugin.options import OPTIONS
from conformance.spec.vocabulary import USAGE_ERROR
from support.suite_run import run_suite

SUITE = str(Path(conformance.__file__).parent / "suite")
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens there
NO_TARGET_LINE = "arcp-conformance: no --target-url given: the conformance checks are skipped"


ANY_KEY = {"ARCP_CONFORMANCE_AGENT_KEY": "any-agent-key"}  # without a key a run stops before any request (test_preflight)


def run(cwd, *args, env=None, timeout=30):
    """The suite's folder run in `cwd`; the outer run's ARCP_CONFORMANCE_* variables do not leak
    into it (support.suite_run.clean_env), only those of `env` and, for a server, an agent key
    (the model brings its own)."""
    key = {} if any(str(a).startswith("model:") for a in args) else ANY_KEY
    return run_suite(cwd, SUITE, *args, env={**key, **(env or {})}, timeout=timeout)


def unreachable_line(url):
    return f"*target {url} is unreachable*"


# --- no target: the suite is not collected

def test_without_target_url_the_suite_is_skipped(tmp_path):
    result = run(tmp_path)
    assert result.returncode in (pytest.ExitCode.NO_TESTS_COLLECTED, pytest.ExitCode.OK)
    assert NO_TARGET_LINE in result.stdout.splitlines()
    result.stdout_lines.fnmatch_lines(["collected 0 items"])
    result.stdout_lines.no_fnmatch_line("*test_binding*")
    result.stdout_lines.no_fnmatch_line("*test_issuance*")


def test_without_target_url_no_results_file_is_written(tmp_path):
    run(tmp_path)
    assert not (tmp_path / "reports" / "conformance.json").exists()


# --- unreachable target

def test_unreachable_target_is_reported_quickly(tmp_path):
    result = run(tmp_path, "--target-url", CLOSED, timeout=10)
    assert result.seconds < 10
    result.stdout_lines.fnmatch_lines([f"arcp-conformance: cannot run the checks: {unreachable_line(CLOSED)}"])
    result.stdout_lines.fnmatch_lines([f"arcp-conformance: {unreachable_line(CLOSED)}"])  # repeated in the summary
    result.stdout_lines.no_fnmatch_line("*passed*")


def test_unreachable_target_exits_3(tmp_path):
    result = run(tmp_path, "--target-url", CLOSED, timeout=10)
    # no verdict at all must not look like a green run
    result.stdout_lines.fnmatch_lines(["arcp-conformance: cannot run the checks: *"])
    assert result.returncode == 3


def test_paths_without_the_suite_run_those_tests_and_send_nothing(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert True\n", encoding="utf-8")
    result = run_suite(tmp_path, "--target-url", CLOSED, "test_mine.py", timeout=30)  # nothing listens: a request would fail
    assert result.returncode == 0, result.stdout[-2000:]
    result.stdout_lines.fnmatch_lines(["*the paths given do not hold the conformance suite: no check runs and nothing is sent*",
                                       "*1 passed*"])
    result.stdout_lines.no_fnmatch_line("*unreachable*")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8001", "http://"])
def test_not_an_http_url_is_a_usage_error(tmp_path, url):
    result = run(tmp_path, "--target-url", url, timeout=10)
    assert result.returncode == USAGE_ERROR
    result.stderr_lines.fnmatch_lines([f"*--target-url must be an http(s) URL*{url}*"])


# --- --dpop-mode

def test_bogus_dpop_mode_is_a_usage_error(tmp_path):
    result = run(tmp_path, "--target-url", CLOSED, "--dpop-mode", "bogus", timeout=10)
    assert result.returncode == USAGE_ERROR
    result.stderr_lines.fnmatch_lines(["*--dpop-mode must be one of required, optional, disabled, auto*bogus*"])


def test_bogus_dpop_mode_from_the_environment_is_a_usage_error(tmp_path):
    result = run(tmp_path, "--target-url", CLOSED, env={"ARCP_CONFORMANCE_DPOP_MODE": "bogus"}, timeout=10)
    assert result.returncode == USAGE_ERROR
    result.stderr_lines.fnmatch_lines(["*--dpop-mode*bogus*"])


# --- where the options come from: command line, then environment, then ini

def test_target_url_from_the_environment(tmp_path):
    result = run(tmp_path, env={"ARCP_CONFORMANCE_TARGET_URL": CLOSED}, timeout=10)
    result.stdout_lines.fnmatch_lines([f"arcp-conformance: cannot run the checks: {unreachable_line(CLOSED)}"])
    assert NO_TARGET_LINE not in result.stdout.splitlines()


def test_command_line_beats_the_environment(tmp_path):
    other = "http://127.0.0.1:7"
    result = run(tmp_path, "--target-url", other, env={"ARCP_CONFORMANCE_TARGET_URL": CLOSED}, timeout=10)
    result.stdout_lines.fnmatch_lines([f"arcp-conformance: cannot run the checks: {unreachable_line(other)}"])
    result.stdout_lines.no_fnmatch_line(unreachable_line(CLOSED))


def test_target_url_from_the_ini_file(tmp_path):
    ini = tmp_path / "tox.ini"
    ini.write_text(f"[pytest]\narcp_target_url = {CLOSED}\n", encoding="utf-8")
    result = run(tmp_path, "-c", str(ini), timeout=10)
    result.stdout_lines.fnmatch_lines([f"arcp-conformance: cannot run the checks: {unreachable_line(CLOSED)}"])


def test_options_are_listed_in_help(tmp_path):
    result = run_suite(tmp_path, "--help", timeout=30)
    for name, (env, _help) in OPTIONS.items():
        result.stdout_lines.fnmatch_lines([f"*--{name}*"])
    result.stdout_lines.fnmatch_lines(["*ARCP_CONFORMANCE_TARGET_URL*"])


# --- a reachable target the suite cannot register with: no verdict, so no green run

@pytest.fixture
def health_only_target():
    """A loopback server that answers /health and nothing else."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"status": "healthy", "version": "0-test"}).encode() if self.path == "/health" else b"{}"
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_target_the_suite_cannot_register_with_exits_3_before_any_check(tmp_path, health_only_target):
    result = run(tmp_path, "--target-url", health_only_target, "--dpop-mode", "required", timeout=60)
    assert result.returncode == 3
    result.stdout_lines.fnmatch_lines([f"*this is not an ARCP server at {health_only_target}*"])
    result.stdout_lines.no_fnmatch_line("* passed*")


# --- the embedded model server

def test_model_target_with_a_fault_fails_the_run_on_that_rule(tmp_path):
    result = run(tmp_path, "--target-url", "model:required:accept-replay", "-k", "replay", timeout=120)
    assert result.returncode == 1
    # the grouped summary names the broken requirement once; -rf would list each failed check
    result.stdout_lines.fnmatch_lines(["*arcp-conformance failures: 1 requirement, * checks*", "PROOF-replay ?MUST? * checks: *"])


def test_model_target_with_an_unknown_fault_is_a_usage_error(tmp_path):
    result = run(tmp_path, "--target-url", "model:required:no-such-fault")
    assert result.returncode == USAGE_ERROR
    result.stderr_lines.fnmatch_lines(["*no-such-fault*"])

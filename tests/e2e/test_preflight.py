"""Preflight (issue 16, item 1): a run that cannot test says why in one line, first and last, and
exits 2 (a usage error, before any request) or 3 (no verdict), never with a MUST failure. Each
cause as a user meets it: a wrong agent key, no key, a server that is not ARCP, the right server
under a wrong base path, an agent endpoint the target cannot reach."""
from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conformance.spec.vocabulary import NO_VERDICT, USAGE_ERROR

from support.faulty_target import FaultyTarget, closed_port
from support.suite_run import SuiteRun, run_suite



def assert_stopped_with(run: SuiteRun, status: int, cause: str) -> None:
    """Exit `status`, the cause in the first lines and again among the last, no check failed."""
    lines = run.stdout.splitlines()
    assert run.returncode == status, run.stdout[-3000:]
    assert any(cause in line for line in lines[:6]), lines[:6]
    assert any(cause in line for line in lines[-6:]), lines[-6:]
    assert "FAILED" not in run.stdout and "[MUST]" not in run.stdout


@pytest.fixture
def file_server(tmp_path):
    """`python3 -m http.server`, as a user might point the suite at it by mistake."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: SimpleHTTPRequestHandler(*a, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_refused_agent_key_is_named_not_failed(tmp_path):
    run = run_suite(tmp_path, "--target-url", "model:required", "--agent-key", "not-the-models-key")
    assert_stopped_with(run, NO_VERDICT, "the target refused the agent key (401 authentication-failed")
    assert "ARCP_CONFORMANCE_AGENT_KEY" in run.stdout


def test_no_agent_key_is_a_usage_error_before_any_request(tmp_path):
    run = run_suite(tmp_path, "--target-url", f"http://127.0.0.1:{closed_port()}")  # nothing listens: no request is made
    assert run.returncode == USAGE_ERROR, run.stdout[-2000:]
    assert "no --agent-key given (or ARCP_CONFORMANCE_AGENT_KEY)" in run.stdout + run.stderr
    assert "unreachable" not in run.stdout + run.stderr


def test_a_server_that_is_not_arcp_is_named(tmp_path, file_server):
    run = run_suite(tmp_path, "--target-url", file_server, "--agent-key", "some-agent-key")
    assert_stopped_with(run, NO_VERDICT, f"this is not an ARCP server at {file_server}")
    assert "POST /auth/agent/request_temp_token -> 501" in run.stdout


def test_a_wrong_base_path_is_named(tmp_path):
    target = FaultyTarget("required")
    try:
        run = run_suite(tmp_path, "--target-url", target.url + "/api/", env=target.env())
    finally:
        target.close()
    assert_stopped_with(run, NO_VERDICT, "this is not an ARCP server at")
    assert "base path" in run.stdout


def test_an_agent_endpoint_the_target_cannot_reach_is_named(tmp_path):
    run = run_suite(tmp_path, "--target-url", "model:required:isolated")
    assert_stopped_with(run, NO_VERDICT, "phase 2 could not reach the suite's agent endpoint")
    assert "--agent-endpoint-host" in run.stdout

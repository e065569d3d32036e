"""Profile §3 and §6 along registration flows: one item per invariant of the state machine
(conformance.judging.stateful), all judged on the session's single run, sent after every other check."""
import pytest

from conformance.pytest_plugin.collection import checks_for
from conformance.pytest_plugin.outcomes import run_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "stateful")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_stateful(check, arcp_session, pytestconfig, request):
    run_check(pytestconfig, arcp_session, check, request.node)

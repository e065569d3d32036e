"""Profile §5–§7 under property fuzzing at phase 2: one item per property, all judged on the
session's single Hypothesis run (conformance.judging.fuzz.FuzzRun), so the requests are sent once."""
import pytest

from conformance.pytest_plugin.collection import checks_for
from conformance.pytest_plugin.outcomes import run_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "fuzz")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_fuzz(check, arcp_session, pytestconfig, request):
    run_check(pytestconfig, arcp_session, check, request.node)

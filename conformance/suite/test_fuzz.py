"""Profile §5–§7 under property fuzzing at phase 2: one item per property, all judged on the
session's single Hypothesis run (conformance.fuzz.FuzzRun), so the requests are sent once."""
import pytest

from conformance.plugin import checks_for, run_fuzz_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "fuzz")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_fuzz(check, arcp_session, pytestconfig, request):
    run_fuzz_check(pytestconfig, arcp_session, check, request.node)

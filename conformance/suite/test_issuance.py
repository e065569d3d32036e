"""Profile §4 and §6 (issuance and flow): tokens, their binding, lifetimes and single use."""
import pytest

from conformance.pytest_plugin.collection import checks_for
from conformance.pytest_plugin.outcomes import run_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "issuance")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_issuance(check, arcp_session, request):
    run_check(request.config, arcp_session, check, request.node)

"""Profile §5–§7 at the DPoP-protected endpoints: the binding matrix, each proof defect, and the
problem+json and WWW-Authenticate rules on every refusal."""
import pytest

from conformance.pytest_plugin.collection import checks_for
from conformance.pytest_plugin.outcomes import run_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "binding")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_binding(check, arcp_session, request):
    run_check(request.config, arcp_session, check, request.node)

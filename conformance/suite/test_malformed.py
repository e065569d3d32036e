"""Profile §6 and §7 at every endpoint of §3: malformed bodies and junk Authorization headers are
refused with a 4xx problem+json (a junk header with 401 authentication-failed), never a 5xx."""
import pytest

from conformance.pytest_plugin.collection import checks_for
from conformance.pytest_plugin.outcomes import run_check


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    checks = checks_for(metafunc.config, "malformed")
    metafunc.parametrize("check", checks, ids=[c.id for c in checks])


def test_malformed(check, arcp_session, request):
    run_check(request.config, arcp_session, check, request.node)

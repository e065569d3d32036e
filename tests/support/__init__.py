"""What the project's tests share and are not tests themselves: the faulty and hostile targets,
the runner of the suite in a subprocess (suite_run), and data files (the JUnit schema).

tests/ is on sys.path (pyproject.toml [tool.pytest.ini_options] pythonpath), so a test imports
`from support.suite_run import run_suite`. hostile_target is also loaded by the suite under test
as a pytest plugin (`-p hostile_target`, this folder on PYTHONPATH): it imports nothing from here.
"""
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
JUNIT_XSD = SUPPORT / "data" / "junit-10.xsd"  # JUnit 10 schema, as Jenkins and GitLab read it

# The fuzz run's and the state machine's wall-clock budgets are safety nets that may cut a search
# short, and so change its path, on a loaded machine (under the full selftest on two cores they cut
# the fuzz run to 43 examples of 52 and of 72): tests that compare two runs' searches lift them, so
# that only what the test varies differs.
NO_TIME_LIMIT = ("--fuzz-seconds", "900", "--stateful-seconds", "900")

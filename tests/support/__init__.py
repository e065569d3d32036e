"""What the project's tests share and are not tests themselves: the faulty and hostile targets,
the runner of the suite in a subprocess (suite_run), and data files (the JUnit schema).

tests/ is on sys.path (pyproject.toml [tool.pytest.ini_options] pythonpath), so a test imports
`from support.suite_run import run_suite`. hostile_target is also loaded by the suite under test
as a pytest plugin (`-p hostile_target`, this folder on PYTHONPATH): it imports nothing from here.
"""
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
JUNIT_XSD = SUPPORT / "data" / "junit-10.xsd"  # JUnit 10 schema, as Jenkins and GitLab read it

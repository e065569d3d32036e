"""The wheel a user installs: every layer of the package, the data it stands on and the requirements
document, and none of the developer tools; the arcp-conformance command works from it alone."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conformance.spec.catalogue import ROOT

from support.suite_run import clean_env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next(out.glob("arcp_conformance-*.whl"))


def test_the_wheel_has_the_layers_the_data_and_the_document_but_not_the_tools(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for layer in ("dpop", "spec", "wire", "judging", "judging/stateful", "report", "pytest_plugin", "model_target", "suite"):
        assert f"conformance/{layer}/__init__.py" in names, layer
    for data in ("conformance/vectors/requirements.json", "conformance/vectors/requirement-renames.json",
                 "conformance/schemas/results.schema.json", "conformance/docs/requirements.md",
                 "conformance/report/templates/report.html.j2"):
        assert data in names, data
    assert not [n for n in names if n.startswith(("tools/", "tests/")) or "/mutation.py" in n or "/deviations.py" in n]


def test_the_command_prints_a_requirement_from_the_wheel_alone(wheel, tmp_path):
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    env = {**clean_env(), "PYTHONPATH": str(unpacked)}
    proc = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from conformance.__main__ import main; sys.exit(main(['requirements', 'PROOF-replay@validate:bound:replay']))",
                           str(unpacked)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith('### <a id="proof-replay"></a>PROOF-replay') and "**MUST**" in proc.stdout
    proc = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from conformance.__main__ import main; sys.exit(main(['requirements', 'NO-SUCH']))",
                           str(unpacked)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no requirement 'NO-SUCH'" in proc.stderr

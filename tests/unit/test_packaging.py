"""An installed (non-editable) package must carry the data the checks stand on."""
import fnmatch
import tomllib

from conformance.spec.catalogue import ROOT


def test_every_data_file_is_packaged():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    dirs, data = setuptools["package-dir"], setuptools["package-data"]
    covered = set()
    for package, folder in dirs.items():
        assert package in setuptools["packages"], package
        for path in (ROOT / folder).glob("*"):
            if path.is_file() and any(fnmatch.fnmatch(path.name, g) for g in data.get(package, [])):
                covered.add(path.relative_to(ROOT).as_posix())
    on_disk = {p.relative_to(ROOT).as_posix() for top in ("schemas", "vectors") for p in (ROOT / top).rglob("*.json")}
    assert on_disk and on_disk <= covered, sorted(on_disk - covered)


def test_the_plugin_entry_point_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["pytest11"] == {"arcp_conformance": "conformance.pytest_plugin.hooks"}


def test_loading_the_plugin_does_not_import_jsonschema():
    # the plugin is loaded by every pytest run in the environment: jsonschema with its format
    # checkers costs about a second to import, so it waits until a schema is compiled
    import subprocess
    import sys

    code = "import sys, conformance.pytest_plugin.hooks; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr[-2000:]

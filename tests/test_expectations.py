"""The README's record of upstream's deviations is generated from vectors/expected, and kept so."""
import json

from conformance.catalogue import ROOT, requirements
from conformance.expectations import BEGIN, END, EXPECTED_DIR, compare, deviations_markdown


def test_readme_deviation_table_is_generated_from_the_expectation_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == deviations_markdown(list(EXPECTED_DIR.glob("*.json"))).strip(), \
        "run: python -m conformance.expectations readme"


def test_expectation_files_name_known_requirements_only():
    for path in EXPECTED_DIR.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for check_id in doc["fail"] + doc["warn"]:
            assert check_id.split("@", 1)[0] in requirements(), (path.name, check_id)


def _results(mode, fail=(), warn=(), inconclusive=()):
    rows = [{"id": i, "verdict": "fail"} for i in fail] + [{"id": i, "verdict": "warn"} for i in warn]
    rows += [{"id": i, "verdict": "inconclusive"} for i in inconclusive]
    return {"dpop_mode": mode, "checks": rows}


def test_compare_reports_new_and_vanished_failures_and_mode_changes():
    expected = {"dpop_mode": "required", "fail": ["A@x", "B@x"], "warn": ["C@x"], "inconclusive_count": 0}
    assert compare(_results("required", ["A@x", "B@x"], ["C@x"]), expected) == []
    problems = compare(_results("optional", ["A@x", "D@x"], [], ["E@x"]), expected)
    assert "new fail: D@x" in problems and "no longer fail: B@x" in problems and "no longer warn: C@x" in problems
    assert any("DPoP mode" in p for p in problems) and any("inconclusive" in p for p in problems)

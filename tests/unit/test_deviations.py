"""Upstream's record: the baselines CI runs upstream with, and the table in docs/upstream.md generated from them."""
import json

import pytest

from conformance.report.baseline import load
from conformance.spec.checks import fixed_checks
from tools.deviations import BASELINE_DIR, BEGIN, END, TABLE_PAGE, deviations_markdown, setup_of
from tools.generated import block
from conformance.judging.fuzz import fuzz_checks
from conformance.judging.stateful.run import stateful_checks

BASELINES = sorted(BASELINE_DIR.glob("*.json"))


def test_there_is_a_baseline_per_upstream_setup_ci_runs():
    assert [p.name for p in BASELINES] == [
        "arcp-py-2.1.2-optional.json", "arcp-py-2.1.2-required-noredis.json", "arcp-py-2.1.2-required.json"]


def test_deviation_table_is_generated_from_the_baselines():
    assert block(TABLE_PAGE, BEGIN, END) == deviations_markdown(BASELINES).strip(), "run: python -m tools.deviations"


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.name)
def test_each_baseline_loads_and_names_checks_of_its_mode_only(path):
    entries = load(path)
    mode = json.loads(path.read_text(encoding="utf-8"))["about"]["dpop_mode"]
    assert setup_of(path)[1].startswith(mode)
    assert entries and set(entries) <= {c.id for c in fixed_checks(mode) + fuzz_checks(mode) + stateful_checks(mode)}
    assert all(e.reason.strip() for e in entries.values())


def test_setup_labels():
    assert setup_of(BASELINE_DIR / "arcp-py-2.1.2-required-noredis.json") == ("arcp-py 2.1.2", "required, no Redis")
    assert setup_of(BASELINE_DIR / "x-1.0-optional.json") == ("x 1.0", "optional, Redis")

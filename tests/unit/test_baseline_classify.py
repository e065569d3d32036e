"""Baselines (conformance.report.baseline): how a listed, expired or re-found deviation is
classified, and which baseline files are refused. (The suite run with --baseline and
--write-baseline: tests/e2e/test_baseline.py.)"""
import json
from datetime import date

import pytest

from conformance.report.baseline import BASELINED, FORMAT, STALE, BaselineError, Entry, classify, load

TODAY = date(2026, 11, 25)
REPLAY = "PROOF-replay@validate:bound:replay"


@pytest.mark.parametrize(
    ("entry", "outcome", "want"),
    [
        (None, "fail", "fail"),
        (Entry(REPLAY, "known"), "fail", BASELINED),
        (Entry(REPLAY, "known"), "warn", BASELINED),
        (Entry(REPLAY, "known", date(2026, 12, 1)), "fail", BASELINED),
        (Entry(REPLAY, "known", date(2026, 11, 1)), "fail", STALE),
        (Entry(REPLAY, "known"), "pass", STALE),
        (Entry(REPLAY, "known"), "inconclusive", "inconclusive"),
    ],
    ids=["unlisted", "listed-fail", "listed-warn", "not-yet-expired", "expired", "now-passes", "inconclusive"],
)
def test_classify(entry, outcome, want):
    assert classify(entry, outcome, TODAY)[0] == want


@pytest.mark.parametrize(
    ("entry", "outcome", "want"),
    [(Entry(REPLAY, "known"), "pass", BASELINED), (Entry(REPLAY, "known"), "fail", BASELINED),
     (Entry(REPLAY, "known", date(2026, 11, 1)), "pass", STALE), (None, "fail", "fail")],
    ids=["not-re-found", "re-found", "expired", "unlisted"],
)
def test_an_exploratory_check_that_misses_a_listed_deviation_is_not_stale(entry, outcome, want):
    assert classify(entry, outcome, TODAY, exploratory=True)[0] == want


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"entries": []}), json.dumps({"format": FORMAT, "entries": [{"id": REPLAY}]}),
     json.dumps({"format": FORMAT, "entries": [{"id": REPLAY, "reason": "x", "expires": "next week"}]})],
    ids=["not-json", "no-format", "no-reason", "bad-date"],
)
def test_bad_baselines_are_refused_with_the_file_name(tmp_path, content):
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(BaselineError, match="b.json"):
        load(path)


def test_a_baseline_written_under_the_old_requirement_ids_still_applies(tmp_path):
    from conformance.spec.catalogue import renamed_requirements

    old = next(o for o, new in renamed_requirements().items() if new == REPLAY.partition("@")[0])
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": FORMAT, "entries": [{"id": f"{old}@validate:bound:replay", "reason": "known"}]}), encoding="utf-8")
    assert list(load(path)) == [REPLAY]

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


GAP = "BIND-mismatch@stateful"


@pytest.mark.parametrize(
    ("entry", "outcome", "want"),
    [
        (Entry(GAP, "no bound token", None, "inconclusive"), "inconclusive", "inconclusive"),
        (Entry(GAP, "no bound token", None, "inconclusive"), "pass", STALE),
        (Entry(GAP, "no bound token", None, "inconclusive"), "fail", "fail"),
        (Entry(GAP, "no bound token", None, "inconclusive"), "warn", "warn"),
        (Entry(GAP, "no bound token", None, "inconclusive"), "not-applicable", "not-applicable"),
    ],
    ids=["still-a-gap", "now-passes", "now-fails", "now-warns", "not-applicable"],
)
def test_a_gap_entry_never_hides_a_verdict(entry, outcome, want):
    assert classify(entry, outcome, TODAY)[0] == want
    assert classify(entry, outcome, TODAY, exploratory=True)[0] == want


def test_a_gap_is_accepted_until_its_entry_expires():
    from conformance.report.baseline import accepts_inconclusive

    assert accepts_inconclusive(Entry(GAP, "r", date(2026, 12, 1), "inconclusive"), TODAY)
    assert not accepts_inconclusive(Entry(GAP, "r", date(2026, 11, 1), "inconclusive"), TODAY)
    assert not accepts_inconclusive(Entry(GAP, "r"), TODAY)  # a deviation entry accepts a failure, not a gap
    assert not accepts_inconclusive(None, TODAY)
    assert "expired" in classify(Entry(GAP, "r", date(2026, 11, 1), "inconclusive"), "inconclusive", TODAY)[1]


def test_a_gap_entry_is_read_and_written_back(tmp_path):
    from conformance.report.baseline import write

    path = tmp_path / "b.json"
    path.write_text(json.dumps({"format": FORMAT, "entries": [{"id": GAP, "reason": "no bound token", "verdict": "inconclusive"}]}))
    loaded = load(path)
    assert loaded[GAP].verdict == "inconclusive"
    records = [
        {"id": GAP, "level": "MUST", "verdict": "inconclusive", "message": "no step of the run exercised it"},
        {"id": "PROOF-typ@validate:bound:typ-missing", "level": "SHOULD", "verdict": "inconclusive", "message": "429"},
        {"id": REPLAY, "level": "MUST", "verdict": "fail", "message": "replay accepted"},
    ]
    write(tmp_path / "new.json", records, loaded, "recorded")
    entries = {e["id"]: e for e in json.loads((tmp_path / "new.json").read_text())["entries"]}
    assert entries[GAP] == {"id": GAP, "reason": "no bound token", "expires": None, "verdict": "inconclusive"}
    assert "verdict" not in entries[REPLAY] and entries[REPLAY]["reason"] == "recorded: replay accepted"
    assert "PROOF-typ@validate:bound:typ-missing" not in entries  # a SHOULD gap counts only under strict
    write(tmp_path / "strict.json", records, loaded, "recorded", strict=True)
    strict_entries = {e["id"]: e for e in json.loads((tmp_path / "strict.json").read_text())["entries"]}
    assert strict_entries["PROOF-typ@validate:bound:typ-missing"]["verdict"] == "inconclusive"


def test_a_gap_entry_with_another_verdict_is_refused(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"format": FORMAT, "entries": [{"id": GAP, "reason": "r", "verdict": "pass"}]}))
    with pytest.raises(BaselineError, match='verdict may only be "inconclusive"'):
        load(path)

"""Exit 0 means tested (conformance.report.completeness): which inconclusive checks make a run
incomplete, grouped by cause, and which a baseline accepts."""
from datetime import date

from conformance.report.baseline import Entry
from conformance.report.completeness import reason, unjudged

TODAY = date(2026, 12, 7)


def record(check_id: str, level: str, verdict: str, message: str = "") -> dict:
    return {"id": check_id, "level": level, "verdict": verdict, "message": message}


RECORDS = [
    record("A@validate:bound:x", "MUST", "inconclusive", "phase 2 never returned a validated token\nmore"),
    record("B@validate:bound:y", "MUST", "inconclusive", "phase 2 never returned a validated token\nother"),
    record("C@register:bound:x", "MUST", "inconclusive", "rate limited"),
    record("D@validate:bound:z", "SHOULD", "inconclusive", "rate limited"),
    record("E@validate:bound:z", "MAY", "inconclusive", "rate limited"),
    record("F@validate:bound:z", "MUST", "not-applicable", "no unbound token"),
    record("G@validate:bound:z", "MUST", "pass"),
]


def test_inconclusive_must_checks_make_the_run_incomplete_grouped_by_cause():
    found = unjudged(RECORDS, False, {}, TODAY)
    assert found == {"checks": 3, "causes": [
        {"reason": "phase 2 never returned a validated token…", "checks": 2, "ids": ["A@validate:bound:x", "B@validate:bound:y"]},
        {"reason": "rate limited", "checks": 1, "ids": ["C@register:bound:x"]},
    ]}
    line = reason(found, False)
    assert line.startswith("incomplete: 3 applicable MUST checks could not be judged (inconclusive): ")
    assert "phase 2 never returned a validated token… (2); rate limited (1)" in line


def test_should_checks_count_only_under_strict_and_not_applicable_never():
    assert unjudged(RECORDS, True, {}, TODAY)["checks"] == 4
    assert unjudged([r for r in RECORDS if r["verdict"] != "inconclusive"], True, {}, TODAY) is None


def test_a_baseline_accepts_named_gaps_until_they_expire():
    entries = {"C@register:bound:x": Entry("C@register:bound:x", "load-dependent", None, "inconclusive"),
               "A@validate:bound:x": Entry("A@validate:bound:x", "old", date(2026, 1, 1), "inconclusive"),
               "B@validate:bound:y": Entry("B@validate:bound:y", "a deviation, not a gap")}
    found = unjudged(RECORDS, False, entries, TODAY)
    assert [c["ids"] for c in found["causes"]] == [["A@validate:bound:x", "B@validate:bound:y"]]


def test_many_causes_are_cut_in_the_line_and_kept_in_the_document():
    many = [record(f"X{i}@validate:bound:x", "MUST", "inconclusive", f"cause {i}") for i in range(5)]
    found = unjudged(many, False, {}, TODAY)
    assert len(found["causes"]) == 5
    assert reason(found, False).endswith("; and 2 other causes (results document: incomplete)")

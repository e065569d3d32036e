"""Exit 0 means tested and conformant: a run is complete only when every applicable MUST check
(and, under --conformance-strict, every SHOULD check) reached a verdict. The ones that did not,
unless a baseline accepts the gap, make the run incomplete (exit 3 when nothing failed), and the
run says why, grouped by cause."""
from __future__ import annotations

from datetime import date

from .baseline import Entry, accepts_inconclusive, counts_as_unjudged
from .summary import shorten

CAUSES_SHOWN = 3  # in the one-line reason; the results document lists every cause


def unjudged(records: list[dict], strict: bool, entries: dict[str, Entry], today: date) -> dict | None:
    """The results document's `incomplete` member: the checks that make the run incomplete, by
    cause (their message's first line), most checks first; None when the run is complete."""
    missing = [r for r in records if counts_as_unjudged(r, strict) and not accepts_inconclusive(entries.get(r["id"]), today)]
    if not missing:
        return None
    causes: dict[str, list[str]] = {}
    for record in missing:
        causes.setdefault(shorten(record["message"], 300) or "(no message)", []).append(record["id"])
    ordered = sorted(causes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {"checks": len(missing), "causes": [{"reason": reason, "checks": len(ids), "ids": sorted(ids)} for reason, ids in ordered]}


def reason(incomplete: dict, strict: bool) -> str:
    """One line: how many checks were not judged, and the main causes."""
    n = incomplete["checks"]
    which = "MUST or SHOULD (--conformance-strict)" if strict else "MUST"
    shown = "; ".join(f"{c['reason']} ({c['checks']})" for c in incomplete["causes"][:CAUSES_SHOWN])
    more = len(incomplete["causes"]) - CAUSES_SHOWN
    return (f"incomplete: {n} applicable {which} check{'s' if n > 1 else ''} could not be judged (inconclusive): {shown}"
            + (f"; and {more} other cause{'s' if more > 1 else ''} (results document: incomplete)" if more > 0 else ""))

"""Baselines: deviations a server team has accepted, check by check, with a reason and an expiry.

A listed check that fails (or warns) does not fail the run; a listed check that now passes,
or whose entry has expired, fails it as stale, so the list never outlives the deviations.

An entry with `"verdict": "inconclusive"` accepts a gap instead: a check the target cannot be
made to answer (load-dependent, or a precondition it lacks) does not make the run incomplete
(exit 3). When the check reaches a verdict again, the entry is stale (a pass) or the failure
stands (a fail): a gap entry never hides a broken requirement.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..spec.catalogue import current_check_id
from ..spec.vocabulary import BASELINED, FAIL, INCONCLUSIVE, MUST, PASS, SHOULD, STALE, WARN

FORMAT = "arcp-conformance/baseline-v1"


class BaselineError(ValueError):
    """The baseline file cannot be used (a usage error, reported with the file's name)."""


@dataclass(frozen=True)
class Entry:
    id: str
    reason: str
    expires: date | None = None
    verdict: str | None = None  # INCONCLUSIVE: an accepted gap; None: an accepted deviation (fail or warn)

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today


def accepts_inconclusive(entry: Entry | None, today: date) -> bool:
    """Does `entry` accept its check being inconclusive (a gap entry that has not expired)?"""
    return entry is not None and entry.verdict == INCONCLUSIVE and not entry.expired(today)


def counts_as_unjudged(record: dict, strict: bool) -> bool:
    """Does this inconclusive check make the run incomplete: a MUST check, or a SHOULD one under
    --conformance-strict (its baseline not accepting the gap is checked by the caller)?"""
    return record["verdict"] == INCONCLUSIVE and (record["level"] == MUST or (strict and record["level"] == SHOULD))


def load(path: Path) -> dict[str, Entry]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: no such file") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), list):
        raise BaselineError(f'baseline {path}: expected {{"format": "{FORMAT}", "entries": [...]}}')
    entries: dict[str, Entry] = {}
    for i, raw in enumerate(doc["entries"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("reason"), str) or not raw["reason"].strip():
            raise BaselineError(f"baseline {path}: entry {i} needs a string id and a non-empty reason")
        expires = raw.get("expires")
        try:
            expires = date.fromisoformat(expires) if expires is not None else None
        except (TypeError, ValueError):
            raise BaselineError(f"baseline {path}: entry {raw['id']}: expires must be YYYY-MM-DD, got {expires!r}") from None
        verdict = raw.get("verdict")
        if verdict not in (None, INCONCLUSIVE):
            raise BaselineError(f'baseline {path}: entry {raw["id"]}: verdict may only be "{INCONCLUSIVE}" (an accepted gap), got {verdict!r}')
        check_id = current_check_id(raw["id"])  # a baseline written before the ids were renamed still applies
        entries[check_id] = Entry(check_id, raw["reason"], expires, verdict)
    return entries


def classify(entry: Entry | None, outcome: str, today: date, *, exploratory: bool = False) -> tuple[str, str]:
    """The outcome once the baseline is applied, and why.

    An exploratory check (the stateful search) that did not hit a listed deviation this time
    has not shown it fixed: its path depends on the server's answers, so it stays baselined.
    """
    if entry is None:
        return outcome, ""
    if entry.verdict == INCONCLUSIVE:
        return _classify_gap(entry, outcome, today)
    if exploratory and outcome == PASS and (entry.expires is None or entry.expires >= today):
        return BASELINED, f"not re-found by this run's search, so not shown fixed: {entry.reason}"
    if outcome in (FAIL, WARN):
        if entry.expires is not None and entry.expires < today:
            return STALE, f"its baseline entry expired on {entry.expires} ({entry.reason})"
        return BASELINED, f"accepted deviation: {entry.reason}"
    if outcome == PASS:
        return STALE, "listed in the baseline, but the check now passes: remove the entry"
    return outcome, ""  # inconclusive or not applicable: says nothing about the deviation


def _classify_gap(entry: Entry, outcome: str, today: date) -> tuple[str, str]:
    if outcome == INCONCLUSIVE:
        if entry.expired(today):
            return outcome, f"its baseline entry accepting the gap expired on {entry.expires} ({entry.reason})"
        return outcome, f"accepted gap: {entry.reason}"
    if outcome == PASS:
        return STALE, "listed in the baseline as inconclusive, but the check now passes: remove the entry"
    if outcome in (FAIL, WARN):
        return outcome, "listed in the baseline as inconclusive, but the check now reaches this verdict: the entry accepts no failure"
    return outcome, ""


def write(path: Path, results: list[dict], previous: dict[str, Entry], note: str, about: dict | None = None,
          strict: bool = False) -> None:
    """A baseline of every failed or warned check, and of every inconclusive one that would make
    the run incomplete (as a gap); entries already in `previous` keep their reason and expiry, new
    ones get `note` and what the check saw. `about` records the run (informational)."""
    entries = []
    for result in sorted(results, key=lambda r: r["id"]):
        gap = counts_as_unjudged(result, strict)
        if result["verdict"] not in (FAIL, WARN, BASELINED) and not gap:
            continue
        old = previous.get(result["id"])
        entry = {
            "id": result["id"],
            "reason": old.reason if old and (old.verdict == INCONCLUSIVE) == gap else f"{note}: {_first_line(result.get('message', ''))}",
            "expires": old.expires.isoformat() if old and old.expires else None,
        }
        if gap:
            entry["verdict"] = INCONCLUSIVE
        entries.append(entry)
    doc = {"format": FORMAT, **({"about": about} if about else {}), "entries": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _first_line(message: str, limit: int = 200) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "deviation"
    return line if len(line) <= limit else line[: limit - 1] + "…"

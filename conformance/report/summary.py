"""The run's verdict in a few lines, h2spec-style: the broken requirements, then the warned ones,
each once with how many checks broke it, one example and one reproduce command; then one line
with the counts and what the exit code means. The console prints it (a run of thousands of
checks with one root cause stays a screen long); any other text summary can reuse it."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec.catalogue import Requirement
from ..spec.vocabulary import FAIL, INFO, NO_VERDICT, STALE, USAGE_ERROR, VERDICT_ORDER, WARN
from . import results
from .reproduce import env_prefix

EXAMPLE_CHARS = 160  # of an example message: the full one is in the reports and the reproducer
# (section title, the verdicts it gathers), most telling first
SECTIONS = (("failures", (STALE, FAIL)), ("warnings", (WARN,)), ("information (MAY)", (INFO,)))
# exit codes and what they tell a reader
EXIT_MEANINGS = {0: "conformant: no applicable MUST requirement broken", USAGE_ERROR: "usage error", NO_VERDICT: "no verdict"}


@dataclass
class Group:
    """One requirement and its checks of one section's verdicts."""

    requirement: Requirement
    checks: list[dict]

    def lines(self, every_check: bool = False) -> list[str]:
        req, first = self.requirement, self.checks[0]
        n = len(self.checks)
        out = [f"{req.id} [{req.level}] {n} check{'s' if n > 1 else ''}: {req.statement}"]
        if every_check:
            out += [f"  {c['id']}: {shorten(c['message'])}" for c in self.checks]
        else:
            out.append(f"  e.g. {first['id']}: {shorten(first['message'])}")
        reproducible = next((c for c in self.checks if (c.get("reproducer") or {}).get("command")), None)
        if reproducible is not None:
            rep = reproducible["reproducer"]
            out.append(f"  reproduce{'' if reproducible is first or every_check else ' ' + reproducible['id']}: "
                       f"{env_prefix(rep)}{rep['command']}")
        return out


def shorten(message: str, limit: int = EXAMPLE_CHARS) -> str:
    """A message's first line, cut to `limit` characters."""
    lines = (message or "").strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit or len(lines) > 1:
        return first[:limit - 1].rstrip() + "…"
    return first


def groups(records: list[dict], catalogue: dict[str, Requirement], verdicts: tuple[str, ...]) -> list[Group]:
    """The requirements with checks of `verdicts`, most checks first (then by id)."""
    by_req: dict[str, list[dict]] = {}
    for record in records:
        if record["verdict"] in verdicts:
            by_req.setdefault(record["requirement"], []).append(record)
    ordered = sorted(by_req.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Group(catalogue[req_id], sorted(checks, key=lambda c: c["id"])) for req_id, checks in ordered]


def section_lines(records: list[dict], catalogue: dict[str, Requirement], every_check: bool = False) -> list[tuple[str, list[str]]]:
    """(section title, its lines) for each section that has checks."""
    out = []
    for title, verdicts in SECTIONS:
        found = groups(records, catalogue, verdicts)
        if found:
            n = sum(len(g.checks) for g in found)
            heading = f"{title}: {len(found)} requirement{'s' if len(found) > 1 else ''}, {n} check{'s' if n > 1 else ''}"
            out.append((heading, [line for g in found for line in g.lines(every_check)]))
    return out


def counts_text(records: list[dict]) -> str:
    counts = results.count(records)  # most telling first
    return ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICT_ORDER if counts.get(verdict))


def exit_meaning(exit_status: int, records: list[dict], error: str | None, strict: bool) -> str:
    """What the exit code says, with the reason: which requirements broke, or why there is no verdict."""
    if exit_status == 1:
        reasons = []
        broken = {r["requirement"] for r in records if r["verdict"] == FAIL}
        if broken:
            reasons.append(f"{len(broken)} MUST requirement{'s' if len(broken) > 1 else ''} broken")
        warned = {r["requirement"] for r in records if r["verdict"] == WARN}
        if strict and warned:
            reasons.append(f"{len(warned)} SHOULD requirement{'s' if len(warned) > 1 else ''} not met (--conformance-strict)")
        stale = sum(r["verdict"] == STALE for r in records)
        if stale:
            reasons.append(f"{stale} stale baseline entr{'ies' if stale > 1 else 'y'}")
        if error:
            reasons.append(error)
        return f"exit 1: {'; '.join(reasons) or 'a test failed'}"
    if exit_status in EXIT_MEANINGS:
        meaning = EXIT_MEANINGS[exit_status]
        if exit_status == 0:
            warned = {r["requirement"] for r in records if r["verdict"] == WARN}
            return f"exit 0: {meaning}" + (f" ({len(warned)} SHOULD requirement{'s' if len(warned) > 1 else ''} warned)" if warned else "")
        return f"exit {exit_status}: {meaning}" + (f": {error}" if error else "")
    return f"exit {exit_status}: pytest's own status (interrupted, internal error or nothing collected)"


def verdict_line(records: list[dict], exit_status: int, error: str | None, strict: bool) -> str:
    """The one line a reader needs: the counts and what the exit code means."""
    counts = counts_text(records)
    return f"arcp-conformance: {exit_meaning(exit_status, records, error, strict)}" + (f" | {counts}" if counts else "")

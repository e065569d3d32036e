"""The suite's own HTML report (reports/conformance.html): one static, self-contained page rendered
from the results document, verdict first. Its order is what a reader needs: the verdict banner
with the target and one set of counts; the broken, warned and MAY requirements, open, each
exchange once; the inconclusive and not-applicable checks grouped by reason; the matrix and the
other sections; the passing requirements collapsed; the environment last.

Inert whatever the target sends: Jinja2 escapes every value, the page has no script and no event
handler, and its Content-Security-Policy forbids running or loading anything should escaping
ever fail.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..spec.catalogue import Requirement
from ..spec.vocabulary import BASELINED, FAIL, INCONCLUSIVE, NO_VERDICT, NOT_APPLICABLE, PASS, STALE, WARN
from . import html, summary
from .exchange_text import exchange_text
from .reproduce import env_prefix

TEMPLATES = Path(__file__).parent / "templates"
CHECKS_SHOWN = 12  # checks of one requirement listed open; the rest behind one more <details>
# the packages whose versions the environment lists (what a bug report needs)
PACKAGES = ("arcp-conformance", "pytest", "pytest-xdist", "pytest-html", "hypothesis", "httpx", "PyJWT", "cryptography",
            "jsonschema", "jinja2")
# (title, verdicts, open): the requirement sections after the banner, most telling first
REQUIREMENT_SECTIONS = (*((title, verdicts, True) for title, verdicts in summary.SECTIONS),
                        ("accepted deviations (baseline)", (BASELINED,), False))


@dataclass
class CheckView:
    """One check as the page lists it: its exchanges shown here, or the check that shows the same ones."""

    record: dict
    exchanges: list[str] = field(default_factory=list)
    same_as: str | None = None
    plan_href: str | None = None

    @property
    def reproduce(self) -> str | None:
        rep = self.record.get("reproducer") or {}
        return f"{env_prefix(rep)}{rep['command']}" if rep.get("command") else None


def banner_state(exit_status: int, records: list[dict]) -> str:
    """The banner's colour: why the run ended as it did."""
    if exit_status == 0:
        return "warned" if any(r["verdict"] == WARN for r in records) else "conformant"
    if exit_status == 1 and any(r["verdict"] in (FAIL, STALE) for r in records):
        return "failing"
    return "no-verdict"


def _catalogue(doc: dict) -> dict[str, Requirement]:
    """The requirements as the document recorded them (a recorded document renders without today's catalogue)."""
    return {r["id"]: Requirement(r["id"], r["level"], r["section"], r["source"], r["statement"]) for r in doc["requirements"]}


def _plan_href(record: dict, plan_base: str | None) -> str | None:
    file = (record.get("reproducer") or {}).get("plan_file")
    return f"{plan_base}/{file}" if file and plan_base is not None else None


def requirement_sections(doc: dict, plan_base: str | None) -> list[dict]:
    """Each section of requirements with checks of its verdicts; a check's exchanges are shown
    the first time the page meets them (a situation's ten or so checks share them)."""
    catalogue, records = _catalogue(doc), {r["id"]: r for r in doc["requirements"]}
    passed: dict[str, list[dict]] = {}
    for check in doc["checks"]:
        if check["verdict"] == PASS:
            passed.setdefault(check["requirement"], []).append(check)
    seen: dict[str, str] = {}
    out = []
    for title, verdicts, open_ in REQUIREMENT_SECTIONS:
        groups = summary.groups(doc["checks"], catalogue, verdicts)
        if not groups:
            continue
        views = []
        for group in groups:
            checks = []
            for record in group.checks:
                view = CheckView(record, plan_href=_plan_href(record, plan_base))
                key = json.dumps(record["exchanges"], sort_keys=True)
                if key in seen:
                    view.same_as = seen[key]
                else:
                    seen[key] = record["id"]
                    view.exchanges = [exchange_text(ex) for ex in record["exchanges"]]
                checks.append(view)
            reproducible = next((c for c in checks if c.reproduce), None)
            views.append({"requirement": records[group.requirement.id], "checks": checks, "reproducible": reproducible,
                          "passed": passed.get(group.requirement.id, []),
                          "source": Markup(html.linked_source(group.requirement.source, records[group.requirement.id]["links"]))})
        n = sum(len(v["checks"]) for v in views)
        out.append({"title": title, "verdict": verdicts[-1], "open": open_, "groups": views,
                    "heading": f"{title}: {len(views)} requirement{'s' if len(views) > 1 else ''}, {n} check{'s' if n > 1 else ''}"})
    return out


def by_reason(checks: list[dict], verdict: str) -> list[dict]:
    """The checks of `verdict` grouped by their message's first line, most checks first."""
    reasons: dict[str, list[dict]] = {}
    for check in checks:
        if check["verdict"] == verdict:
            reasons.setdefault(summary.shorten(check["message"], 300), []).append(check)
    return [{"reason": reason or "(no message)", "checks": mine}
            for reason, mine in sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))]


def passing_requirements(doc: dict) -> list[dict]:
    """The requirements every judged check of which passed, each with its passing checks' ids (its
    inconclusive and not-applicable ones are listed by reason)."""
    checks: dict[str, list[dict]] = {}
    for check in doc["checks"]:
        if check["verdict"] == PASS:
            checks.setdefault(check["requirement"], []).append(check)
    return [{"requirement": r, "source": Markup(html.linked_source(r["source"], r["links"])), "checks": checks.get(r["id"], [])}
            for r in doc["requirements"] if r["verdict"] == PASS]


def environment() -> dict:
    """The machine that ran the suite (not the target): what a bug report needs."""
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return {"Python": platform.python_version(), "Platform": platform.platform(), "Packages": packages}


def _target_facts(doc: dict) -> list[tuple[str, str]]:
    target = doc["target"]
    algs = target.get("algorithms")
    facts = [("Target", target["url"] + (f" ({target['spec']})" if target.get("spec") and target["spec"] != target["url"] else "")),
             ("DPoP mode", f"{target['dpop_mode']} ({target['dpop_mode_source']})"),
             ("Server version", target["server_version"] or "unknown")]
    if algs:
        facts.append(("Proof algorithms", html.algorithms_text(algs)))
    facts += [("Forged tokens", "on" if target["forged_tokens"] else "off (no --jwt-secret: those checks are inconclusive)"),
              ("Date", f"{doc['started_at']} to {doc['finished_at']}")]
    return facts


def context(doc: dict | None, error: str | None = None, env: dict | None = None, plan_base: str | None = None) -> dict:
    """Everything the template shows. Without a document (the target could not be used) only the
    banner with the reason and the environment."""
    env = env if env is not None else environment()
    if doc is None:
        return {"doc": None, "state": "no-verdict", "headline": summary.exit_meaning(NO_VERDICT, [], error, False),
                "counts": "", "facts": [], "env": env}
    records = doc["checks"]
    status = doc["exit_status"]
    seeds = {name: doc[name]["seed"] for name in ("fuzz", "stateful") if doc.get(name)}
    return {
        "doc": doc,
        "state": banner_state(status, records),
        "headline": summary.exit_meaning(status, records, error, bool(doc["options"].get("strict"))),
        "counts": summary.counts_text(records),
        "facts": _target_facts(doc),
        "sections": requirement_sections(doc, plan_base),
        "inconclusive": by_reason(records, INCONCLUSIVE),
        "not_applicable": by_reason(records, NOT_APPLICABLE),
        "target_lines": Markup(html.operations_line(doc["target"]) + html.nonce_line(doc["target"].get("dpop_nonce"))),
        "more_sections": [Markup(s) for s in (html.matrix_section(doc), html.malformed_section(doc), html.fuzz_section(doc),
                                             html.stateful_section(doc)) if s],
        "passing": passing_requirements(doc),
        "seeds": seeds,
        "options": doc["options"],
        "env": env,
        "checks_shown": CHECKS_SHOWN,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def render(doc: dict | None, error: str | None = None, env: dict | None = None, plan_base: str | None = None) -> str:
    return _environment().get_template("report.html.j2").render(context(doc, error, env, plan_base))


def write(path: Path, doc: dict | None, error: str | None = None, results_dir: Path | None = None) -> None:
    """The page at `path`; links to the reproducers' plans are relative to it (they sit next to the results)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    plan_base = os.path.relpath(results_dir.resolve(), path.resolve().parent).replace(os.sep, "/") if results_dir else None
    template = _environment().get_template("report.html.j2")
    with path.open("w", encoding="utf-8") as out:  # streamed: the page is never one string in memory
        for chunk in template.generate(context(doc, error, None, plan_base)):
            out.write(chunk)

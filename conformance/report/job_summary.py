"""`arcp-conformance summary RESULTS.json [--markdown]`: the console's summary (report/summary.py:
the broken, then the warned requirements, and the verdict line) again, from the results document
a run wrote, for a CI job summary ($GITHUB_STEP_SUMMARY, with --markdown) or a CI log (text).

The exit status comes from the document: the run records the one it exits with (`exit_status`,
set in pytest_sessionfinish after every adjustment), so the summary needs no option for it.
A run that stopped before judging anything (a usage error, an unusable target) writes no
document: then this command says so and exits 2.

The document holds the target's text (messages, bodies, its version string). In markdown it is
shown only inside code blocks whose fence is longer than any run of backticks in it, or escaped,
so that a hostile target cannot add links, images or HTML to the job summary.

Exit status: 0 a summary was printed (whatever the run's verdict), 2 no usable results document.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..spec.catalogue import requirements
from . import completeness, results, summary
from .requirements_doc import NAME as REQUIREMENTS_DOC

DEFAULT_RESULTS = results.DEFAULT_PATH
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # a terminal escape or a stray byte: never printed
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
BACKTICKS = re.compile(r"`+")


def clean(text: str) -> str:
    return CONTROL.sub("?", str(text))


def markdown_inline(text: str) -> str:
    """Text shown as itself in markdown: no emphasis, link, code span or HTML tag can start in it."""
    escaped = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", escaped).replace("\n", " ")


def code_block(lines: list[str]) -> list[str]:
    """A fenced block no line of `lines` can close: the fence is longer than any backtick run in them."""
    body = [clean(line) for line in lines]
    longest = max((len(run) for line in body for run in BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *body, fence]


def load(path: Path) -> dict:
    """The results document at `path`; ValueError saying why it cannot be summarised."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no results document at {path}: the run stopped before judging the target "
                         "(a usage error or a target it could not use; its own output says why)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a results document: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != results.FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path} is not a results document of this version ({results.FORMAT}; found {found!r})")
    return doc


def _parts(doc: dict) -> tuple[list[tuple[str, list[str]]], str, str]:
    """The sections, the verdict line and the target line of `doc`, as report/summary.py words them."""
    catalogue = requirements()
    records = [r for r in doc.get("checks") or [] if r.get("requirement") in catalogue]
    strict = bool((doc.get("options") or {}).get("strict"))
    sections = summary.section_lines(records, catalogue)
    incomplete = doc.get("incomplete")
    why = completeness.reason(incomplete, strict) if isinstance(incomplete, dict) and incomplete.get("causes") else None
    verdict = summary.verdict_line(records, int(doc.get("exit_status", 0)), why, strict)
    target = doc.get("target") or {}
    about = f"target {target.get('url')} (version {target.get('server_version') or 'unknown'}), DPoP mode {target.get('dpop_mode')}"
    return sections, verdict, about


def text_lines(doc: dict, path: Path) -> list[str]:
    sections, verdict, about = _parts(doc)
    out = [f"arcp-conformance: {about}"]
    for heading, lines in sections:
        out += ["", f"arcp-conformance {heading}", *lines]
    if sections:
        out += ["", f"(exchanges: {path} and the HTML report beside it; requirements: {REQUIREMENTS_DOC})"]
    return [clean(line) for line in out] + [clean(verdict)]


def markdown_lines(doc: dict, path: Path) -> list[str]:
    sections, verdict, about = _parts(doc)
    out = ["## ARCP conformance", "", f"**{markdown_inline(verdict)}**", "", markdown_inline(about)]
    for heading, lines in sections:
        out += ["", f"### {markdown_inline(heading)}", "", *code_block(lines)]
    if sections:
        out += ["", markdown_inline(f"Exchanges: {path} and the HTML report beside it (in the reports artifact); "
                                   f"requirements: {REQUIREMENTS_DOC} of arcp-conformance.")]
    return out


def missing_lines(reason: str, markdown: bool) -> list[str]:
    if markdown:
        return ["## ARCP conformance", "", f"**{markdown_inline('arcp-conformance: no verdict: ' + reason)}**"]
    return [clean(f"arcp-conformance: no verdict: {reason}")]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arcp-conformance summary", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS,
                        help=f"the results document the run wrote (--conformance-json; default {DEFAULT_RESULTS})")
    parser.add_argument("--markdown", action="store_true", help="markdown for a CI job summary ($GITHUB_STEP_SUMMARY)")
    args = parser.parse_args(argv)
    try:
        doc = load(args.results)
    except ValueError as exc:
        print("\n".join(missing_lines(str(exc), args.markdown)))
        print(f"arcp-conformance summary: {exc}", file=sys.stderr)
        return 2
    lines = markdown_lines(doc, args.results) if args.markdown else text_lines(doc, args.results)
    print("\n".join(lines))
    return 0

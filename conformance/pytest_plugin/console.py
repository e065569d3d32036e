"""What a person reads: the report header and the console's last lines; and, when the user asks
pytest-html for its per-test report (--html), its environment rows, columns, row extras and a
link to the suite's own report, through pytest-html's public hooks only."""
from __future__ import annotations

import os
from html import escape
from pathlib import Path

import pytest

from ..report import html, summary
from ..report.requirements_doc import NAME as REQUIREMENTS_DOC
from ..spec.catalogue import requirements
from ..spec.vocabulary import INFO, PASS, WARN
from .options import MODEL_SCHEME, html_path, option, results_path, strict
from .state import state


def report_header(config: pytest.Config) -> list[str]:
    run = state(config)
    session = run.session
    if run.error:
        return [f"arcp-conformance: cannot run the checks: {run.error}"]
    if run.suite_not_selected:
        return ["arcp-conformance: the paths given do not hold the conformance suite: no check runs and nothing is sent to "
                "the target (`pytest --target-url URL` without paths runs the suite)"]
    if session is None and run.controller_mode is not None:
        return [f"arcp-conformance: target {option(config, 'target-url')}, DPoP mode {run.controller_mode}; pytest-xdist: each worker "
                f"opens its own session (phase 1, agent endpoint{', model server' if option(config, 'target-url').startswith(MODEL_SCHEME) else ''}), "
                f"the fuzz run and the state machine run on one worker each"]
    if session is None:
        return ["arcp-conformance: no --target-url given: the conformance checks are skipped"]
    d = session.discovery
    lines = [f"arcp-conformance: target {session.client.base_url} (version {d.version or 'unknown'}), DPoP mode {session.mode} ({session.mode_source}), forged tokens {'on' if session.forger else 'off (no --jwt-secret)'}"]
    algs = session.algorithms()
    lines.append(f"arcp-conformance: proof algorithms listed by the target: {', '.join(algs['listed']) or 'none'}"
                 + ("" if algs["advertised"] else " (ARCP's default: none advertised)")
                 + (f"; listed but not signable by the suite (not judged): {', '.join(algs['not_signable'])}" if algs["not_signable"] else ""))
    for exploration in run.explorations.values():
        if exploration.checks(session.mode) and exploration.enabled:
            lines.append(f"arcp-conformance: {exploration.plan_line()}")
    return lines


def quiet_per_check_failures(config: pytest.Config) -> None:
    """By default, no pytest block and no FAILED line per failed check: the grouped summary names
    every broken requirement with an example and a reproduce command and the reports hold every
    check, while pytest's own lines would bury the verdict (2,700 lines against upstream, the
    verdict line 550 lines from the end). Asked for, they stay: -v, --tb=STYLE, -r with f."""
    opt = config.option
    if getattr(opt, "verbose", 0) > 0:
        return
    if getattr(opt, "tbstyle", None) == "auto":  # pytest's default: not given
        opt.tbstyle = "no"
    if getattr(opt, "reportchars", None) == PYTEST_DEFAULT_REPORTCHARS:
        opt.reportchars = PYTEST_DEFAULT_REPORTCHARS.replace("f", "")
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:  # it read the option when it was made
            reporter.reportchars = reporter.reportchars.replace("f", "")


PYTEST_DEFAULT_REPORTCHARS = "fE"  # failures and errors; errors (a bug of the suite) stay listed


def terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """The run's notes, then h2spec-style the broken and the warned requirements, each once (with
    -v every check), then one verdict line with the counts and what the exit code means."""
    run = state(config)
    if run.error:
        terminalreporter.write_line(f"arcp-conformance: {run.error}", red=True)
    facts = run.facts or {}
    for note in facts.get("notes") or []:
        terminalreporter.write_line(f"arcp-conformance: {note}", yellow=True)
    for line in facts.get("lines") or []:
        terminalreporter.write_line(f"arcp-conformance {line}")
    if (facts.get("target") or {}).get("algorithms"):
        terminalreporter.write_line(f"arcp-conformance: proof algorithms {html.algorithms_text(facts['target']['algorithms'])}")
    if "p" in getattr(terminalreporter, "reportchars", ""):  # -rA: pytest lists passes; a warned check is not one
        for report in terminalreporter.stats.get(WARNED[0], []):
            terminalreporter.write_line(f"{WARNED[2][0]} {report.nodeid} - {summary.shorten(report.arcp_check.get('message', ''))}")
    sections = summary.section_lines(run.records, requirements(), every_check=config.get_verbosity() > 0)
    for heading, lines in sections:
        terminalreporter.write_sep("-", f"arcp-conformance {heading}", red=heading.startswith("failures"), yellow=not heading.startswith("failures"))
        for line in lines:
            terminalreporter.write_line(line)
    if sections:
        terminalreporter.write_line(f"(exchanges: {html_path(config)}, {results_path(config)} or -v; requirements: {REQUIREMENTS_DOC})")
    elif run.records:  # where a conformant run's report is
        terminalreporter.write_line(f"arcp-conformance: report {html_path(config)}, results {results_path(config)}")
    if run.records or run.error:
        status = run.exit_status if run.exit_status is not None else 0
        # run.error is the first line above: the verdict line does not say it twice
        terminalreporter.write_sep("=", summary.verdict_line(run.records, status, None, strict(config)),
                                   red=status != 0, green=status == 0, bold=True)


# pytest's (category, letter, verbose word) of a check that passed for pytest but not for the
# profile: its own category, so that pytest's last line counts it apart ("55 warned")
WARNED = ("warned", "W", ("WARN", {"yellow": True}))
INFORMED = ("information", "i", ("INFO", {"yellow": True}))


def report_teststatus(report, config: pytest.Config):
    """How pytest shows a check: warned and information apart from passed; and by default no
    letter for a pass or an inconclusive check (thousands of dots would push the verdict off the
    screen; the verdict line counts them, -v shows every check's line)."""
    check = getattr(report, "arcp_check", None)
    if not check or report.when != "call" or hasattr(report, "wasxfail") or report.failed:
        return None
    verdict = check.get("verdict")
    if report.passed and verdict == WARN:
        return WARNED
    if report.passed and verdict == INFO:
        return INFORMED
    quiet = config.get_verbosity() <= 0
    if report.passed:
        return "passed", "" if quiet else ".", ("PASSED" if verdict == PASS else str(verdict).upper())
    if report.skipped:
        return "skipped", "" if quiet else "s", str(verdict).upper()
    return None


# --- pytest-html's per-test report (--html), public hooks only, and pytest-metadata

def _html_environment(config: pytest.Config) -> dict | None:
    """pytest-metadata's environment table (pytest-html shows it), or None without those plugins."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def _set_environment(meta: dict, url: str, mode: str, mode_source: str, version: str | None, forged: bool) -> None:
    # pytest-html's script inserts these values as HTML: the URL and the version are the target's text
    meta["ARCP target URL"] = escape(url)
    meta["ARCP DPoP mode"] = f"{mode} ({mode_source})"
    meta["ARCP server version"] = escape(version or "unknown")
    meta["ARCP signing secret given"] = "yes" if forged else "no (forged-token checks are inconclusive)"


def record_environment(config: pytest.Config) -> None:
    session = state(config).session
    meta = _html_environment(config)
    if meta is not None and session is not None:
        _set_environment(meta, session.client.base_url, session.mode, session.mode_source, session.discovery.version, bool(session.forger))


def check_source(entry: dict) -> str:
    return requirements()[entry["requirement"]].source


def annotate_report(item: pytest.Item, report, entry: dict) -> None:
    """The check's columns and its exchanges on the test report (not user_properties: the JUnit
    schema has no per-test properties); its verdict and message for report_teststatus."""
    report.arcp_check = {"check_id": entry["id"], "level": entry["level"], "verdict": entry["verdict"], "source": check_source(entry),
                         "message": entry["message"]}
    html_path = getattr(item.config.option, "htmlpath", None)
    if not html_path or not item.config.pluginmanager.hasplugin("html"):  # pytest-html writes no report: keep no extras
        return
    from pytest_html import extras

    base = Path(html_path).resolve().parent if html_path else Path.cwd()
    file = entry["reproducer"] and entry["reproducer"].get("plan_file")
    href = os.path.relpath(results_path(item.config).resolve().parent / file, base) if file else None
    report.extras = [*getattr(report, "extras", []), extras.html(html.check_extra(entry, href))]


def pytest_html_pointer(config: pytest.Config) -> list[str]:
    """pytest-html's report (--html) lists the tests; the verdict is in the suite's own report."""
    if state(config).doc is None:
        return []
    target = html_path(config).resolve()
    html_arg = getattr(config.option, "htmlpath", None)
    href = os.path.relpath(target, Path(html_arg).resolve().parent) if html_arg else str(target)
    return [f'<p>The conformance verdict, the requirements and the token × proof matrix: <a href="{escape(href)}">{escape(href)}</a>.</p>']


def table_header(cells: list) -> None:
    cells.insert(1, "<th>Check id</th>")
    cells.insert(2, "<th>Level</th>")
    cells.insert(3, "<th>Verdict</th>")
    cells.insert(4, "<th>Source</th>")


def table_row(report, cells: list) -> None:
    props = getattr(report, "arcp_check", None) or {}
    for i, key in enumerate(("check_id", "level", "verdict", "source"), start=1):
        cells.insert(i, f"<td>{escape(str(props.get(key, '')))}</td>")

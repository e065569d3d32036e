"""The pytest plugin: options, the session against the target, one test item per check, the report.

Registered through the `pytest11` entry point, so installing the package is enough.
"""
from __future__ import annotations

import json
import os
import warnings
from datetime import date
from pathlib import Path

import pytest

from . import baseline
from .catalogue import requirement
from .checks import FAIL, INCONCLUSIVE, PASS, SKIP, VERDICTS, Check, all_checks, binding_checks, graded, issuance_checks
from .session import MODES, ConformanceSession, Settings
from .target import TargetError, redact_tokens

SUITE_DIR = Path(__file__).resolve().parent / "suite"
SESSION_KEY = pytest.StashKey["ConformanceSession | None"]()
RESULTS_KEY = pytest.StashKey["list[dict]"]()
ERROR_KEY = pytest.StashKey["str | None"]()
MODEL_KEY = pytest.StashKey["object | None"]()
BASELINE_KEY = pytest.StashKey["dict"]()
MODEL_SCHEME = "model:"

# option name -> (environment variable, ini name, help)
OPTIONS = {
    "target-url": ("ARCP_CONFORMANCE_TARGET_URL", "The ARCP server under test, e.g. http://127.0.0.1:8001, or model:MODE[:FAULT,...] for the embedded model server."),
    "agent-key": ("ARCP_CONFORMANCE_AGENT_KEY", "A registration key the target accepts at phase 1 (prefer the environment variable: argv is visible to other users)."),
    "agent-type": ("ARCP_CONFORMANCE_AGENT_TYPE", "Agent type to register (default: the first type the target allows)."),
    "dpop-mode": ("ARCP_CONFORMANCE_DPOP_MODE", "The target's DPoP mode: required, optional, disabled or auto (default auto: detected, heuristic)."),
    "jwt-secret": ("ARCP_CONFORMANCE_JWT_SECRET", "The target's token signing secret: enables the checks that need forged tokens (prefer the environment variable)."),
    "agent-endpoint-host": ("ARCP_CONFORMANCE_AGENT_ENDPOINT_HOST", "Address at which the target reaches the suite's agent endpoint (default 127.0.0.1)."),
    "conformance-strict": ("ARCP_CONFORMANCE_STRICT", "Fail the run on SHOULD violations too (pytest owns --strict)."),
    "conformance-json": ("ARCP_CONFORMANCE_JSON", "Where to write the results as JSON (default reports/conformance.json)."),
    "baseline": ("ARCP_CONFORMANCE_BASELINE", "A baseline file of accepted deviations: listed failures do not fail the run; listed checks that pass, or expired entries, do."),
    "write-baseline": ("ARCP_CONFORMANCE_WRITE_BASELINE", "Write a baseline of this run's failed and warned checks to this file."),
}


def _dest(name: str) -> str:
    return "arcp_" + name.replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("arcp-conformance", "ARCP conformance suite")
    for name, (env, help_text) in OPTIONS.items():
        kwargs = {"action": "store_true"} if name == "conformance-strict" else {"default": None}
        group.addoption(f"--{name}", dest=_dest(name), help=f"{help_text} Env: {env}; ini: {_dest(name)}.", **kwargs)
        parser.addini(_dest(name), help_text, default=None)


def option(config: pytest.Config, name: str) -> str | None:
    """Command line, then environment variable, then ini file."""
    value = config.getoption(_dest(name))
    if value not in (None, False):
        return value
    env = os.environ.get(OPTIONS[name][0])
    if env:
        return env
    ini = config.getini(_dest(name))
    return ini or None


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arcp_check(id): an ARCP conformance check")
    config.stash[SESSION_KEY] = None
    config.stash[RESULTS_KEY] = []
    config.stash[ERROR_KEY] = None
    config.stash[MODEL_KEY] = None
    config.stash[BASELINE_KEY] = {}
    url = option(config, "target-url")
    if not url:
        return
    mode = option(config, "dpop-mode")
    agent_key, jwt_secret = option(config, "agent-key"), option(config, "jwt-secret")
    if url.startswith(MODEL_SCHEME):
        model = _start_model(url)
        config.stash[MODEL_KEY] = model
        url, mode = model.url, mode or model.config.mode
        agent_key, jwt_secret = agent_key or model.config.agent_key, jwt_secret or model.config.jwt_secret
    mode = mode or "auto"
    baseline_path = option(config, "baseline")
    if baseline_path:
        try:
            config.stash[BASELINE_KEY] = baseline.load(Path(baseline_path))
        except baseline.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    if mode not in MODES:
        raise pytest.UsageError(f"--dpop-mode must be one of {', '.join(MODES)}, got {mode!r}")
    # `pytest --target-url X` alone runs the suite, not the project's own tests.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = [str(SUITE_DIR)]
    if getattr(config.option, "htmlpath", "unset") is None and config.pluginmanager.hasplugin("html"):
        config.option.htmlpath = str(Path("reports") / "conformance.html")
        config.option.self_contained_html = True
    settings = Settings(
        target_url=url,
        agent_key=agent_key,
        agent_type=option(config, "agent-type"),
        dpop_mode=mode,
        jwt_secret=jwt_secret,
        agent_endpoint_host=option(config, "agent-endpoint-host") or "127.0.0.1",
    )
    try:
        session = ConformanceSession(settings)
        session.resolve_mode()
    except TargetError as exc:
        config.stash[ERROR_KEY] = str(exc)
        return
    config.stash[SESSION_KEY] = session


def pytest_sessionstart(session: pytest.Session) -> None:
    conf = session.config.stash.get(SESSION_KEY, None)
    if conf is not None:
        _record_environment(session.config, conf)


def _start_model(spec: str):
    """`model:MODE[:FAULT,...]`: the embedded strict model server on a free loopback port."""
    from .model_target import start_model

    mode, _, faults = spec[len(MODEL_SCHEME):].partition(":")
    try:
        return start_model(mode or "required", tuple(f for f in faults.split(",") if f))
    except ValueError as exc:
        raise pytest.UsageError(f"--target-url {spec}: {exc}") from None


def _record_environment(config: pytest.Config, session: ConformanceSession) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    meta["ARCP target URL"] = session.client.base_url
    meta["ARCP DPoP mode"] = f"{session.mode} ({session.mode_source})"
    meta["ARCP server version"] = session.discovery.version or "unknown"
    meta["ARCP signing secret given"] = "yes" if session.forger else "no (forged-token checks are inconclusive)"


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()
    model = config.stash.get(MODEL_KEY, None)
    if model is not None:
        model.close()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if SUITE_DIR in (collection_path, *collection_path.parents) and not option(config, "target-url"):
        return True
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash.get(SESSION_KEY, None)
    error = config.stash.get(ERROR_KEY, None)
    if error:
        return [f"arcp-conformance: cannot run the checks: {error}"]
    if session is None:
        return ["arcp-conformance: no --target-url given: the conformance checks are skipped"]
    d = session.discovery
    return [f"arcp-conformance: target {session.client.base_url} (version {d.version or 'unknown'}), DPoP mode {session.mode} ({session.mode_source}), forged tokens {'on' if session.forger else 'off (no --jwt-secret)'}"]


# --- collection: one item per check, the check id in the test id

def checks_for(config: pytest.Config, group: str) -> list[Check]:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return []
    return {"issuance": issuance_checks, "binding": binding_checks}[group](session.mode)


@pytest.fixture(scope="session")
def arcp_session(pytestconfig: pytest.Config) -> ConformanceSession:
    session = pytestconfig.stash.get(SESSION_KEY, None)
    if session is None:
        pytest.skip(pytestconfig.stash.get(ERROR_KEY, None) or "no --target-url given")
    return session


def run_check(config: pytest.Config, session: ConformanceSession, check: Check, record) -> None:
    """Judge one check and turn its verdict into a pytest outcome (fail only for MUST, or strict)."""
    req = check.requirement
    verdict = session.judge(check)
    message = redact_tokens(verdict.message)
    outcome, note = baseline.classify(config.stash.get(BASELINE_KEY, {}).get(check.id), graded(verdict.outcome, req.level), date.today())
    message = f"{message} ({note})" if note else message
    record("check_id", check.id)
    record("requirement", req.id)
    record("level", req.level)
    record("source", req.source)
    record("verdict", outcome)
    config.stash[RESULTS_KEY].append({"id": check.id, "requirement": req.id, "level": req.level, "verdict": outcome, "message": message})
    detail = ""
    if outcome in (FAIL, "warn", "info", baseline.STALE):
        detail = "\n\n" + "\n\n".join(redact_tokens(ex.describe()) for ex in session.exchanges_for(check))
    if outcome == baseline.BASELINED:
        pytest.xfail(f"{check.id}: {message}")
    if outcome == baseline.STALE:
        pytest.fail(f"stale baseline entry {check.id}: {note}{detail}", pytrace=False)
    if outcome == FAIL or (outcome == "warn" and _truthy(option(config, "conformance-strict"))):
        pytest.fail(f"[{req.level}] {check.id}: {req.statement}\n{message}{detail}", pytrace=False)
    if outcome in ("warn", "info"):
        warnings.warn(ConformanceWarning(f"[{req.level}] {check.id}: {message}"))
    if outcome in (INCONCLUSIVE, SKIP):
        pytest.skip(f"{outcome}: {message}")


class ConformanceWarning(UserWarning):
    """A SHOULD (or MAY) requirement the target does not meet."""


# --- results file and report columns

def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    conf = session.config.stash.get(SESSION_KEY, None)
    if conf is None:
        if session.config.stash.get(ERROR_KEY, None):
            session.exitstatus = 3  # the target could not be used: no verdict at all
        return
    path = Path(option(session.config, "conformance-json") or Path("reports") / "conformance.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    results = sorted(session.config.stash[RESULTS_KEY], key=lambda r: r["id"])
    doc = {
        "format": "arcp-conformance/results-v0",
        "target": conf.client.base_url,
        "server_version": conf.discovery.version,
        "dpop_mode": conf.mode,
        "dpop_mode_source": conf.mode_source,
        "forged_tokens": conf.forger is not None,
        "counts": {v: sum(r["verdict"] == v for r in results) for v in (*VERDICTS, baseline.BASELINED, baseline.STALE)},
        "checks": results,
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    _finish_baseline(session, conf, results)
    if results and not any(doc["counts"][v] for v in (PASS, FAIL, "warn", "info", baseline.BASELINED, baseline.STALE)):
        session.config.stash[ERROR_KEY] = "every check was inconclusive or skipped: no verdict about the target"
        session.exitstatus = 3


def _finish_baseline(session: pytest.Session, conf: ConformanceSession, results: list[dict]) -> None:
    entries = session.config.stash[BASELINE_KEY]
    unknown = sorted(set(entries) - {c.id for c in all_checks(conf.mode)})
    if unknown:
        # an entry that names no check of this mode can never match: stale
        session.config.stash[ERROR_KEY] = f"stale baseline entries (no such check in {conf.mode} mode): {', '.join(unknown[:10])}"
        session.exitstatus = 1
    target = option(session.config, "write-baseline")
    if target:
        note = f"recorded {date.today().isoformat()} against {conf.discovery.version or 'unknown version'}, DPoP {conf.mode}"
        baseline.write(Path(target), results, entries, note)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    error = config.stash.get(ERROR_KEY, None)
    if error:
        terminalreporter.write_line(f"arcp-conformance: {error}", red=True)
    results = config.stash.get(RESULTS_KEY, [])
    if results:
        counts = {v: sum(r["verdict"] == v for r in results) for v in (*VERDICTS, baseline.BASELINED, baseline.STALE)}
        line = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        terminalreporter.write_sep("=", f"arcp-conformance verdicts: {line}")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list) -> None:
    cells.insert(1, "<th>Check id</th>")
    cells.insert(2, "<th>Level</th>")
    cells.insert(3, "<th>Verdict</th>")
    cells.insert(4, "<th>Source</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list) -> None:
    from html import escape

    props = dict(getattr(report, "user_properties", []))
    for i, key in enumerate(("check_id", "level", "verdict", "source"), start=1):
        cells.insert(i, f"<td>{escape(str(props.get(key, '')))}</td>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "ARCP conformance report"

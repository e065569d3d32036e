"""The pytest plugin: options, the session against the target, one test item per check, the report.

Registered through the `pytest11` entry point, so installing the package is enough.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import warnings
from datetime import date
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from . import baseline, html_report, results
from .catalogue import requirements
from .checks import FAIL, INCONCLUSIVE, PASS, SKIP, Check, Verdict, all_checks, binding_checks, graded, issuance_checks
from .fuzz import DEFAULT_EXAMPLES, DEFAULT_SECONDS, DEFAULT_SEED, FuzzRun, FuzzSettings, fuzz_checks
from .session import MODES, ConformanceSession, Settings
from .stateful import DEFAULT_EXAMPLES as STATEFUL_EXAMPLES, DEFAULT_SECONDS as STATEFUL_SECONDS, DEFAULT_STEPS as STATEFUL_STEPS
from .stateful import StatefulRun, StatefulSettings, is_stateful_check, stateful_checks
from .target import (DEFAULT_MAX_REQUESTS, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_CAP, DEFAULT_RUN_TIMEOUT, PATH_FAILURES_TO_GIVE_UP,
                     TargetClient, TargetError, redact_tokens)

SUITE_DIR = Path(__file__).resolve().parent / "suite"
SESSION_KEY = pytest.StashKey["ConformanceSession | None"]()
RESULTS_KEY = pytest.StashKey["list[dict]"]()
ERROR_KEY = pytest.StashKey["str | None"]()
MODEL_KEY = pytest.StashKey["object | None"]()
BASELINE_KEY = pytest.StashKey["dict"]()
STARTED_KEY = pytest.StashKey["str"]()
RECORD_KEY = pytest.StashKey["dict"]()  # on a test item: its check's result record
SNIPPETS_KEY = pytest.StashKey["dict"]()  # reproducer file path -> script text, written at the end
FUZZ_KEY = pytest.StashKey["FuzzRun | None"]()
STATEFUL_KEY = pytest.StashKey["StatefulRun | None"]()
# pytest-xdist: on the controller, what the workers reported; on a worker, a --check it could not match
WORKERS_KEY = pytest.StashKey["dict[str, dict]"]()  # worker id -> its facts (see run_facts)
CONTROLLER_KEY = pytest.StashKey["dict"]()  # the controller's view of the target (no session of its own)
WORKER_USAGE_KEY = pytest.StashKey["str | None"]()
FACTS_KEY = pytest.StashKey["dict | None"]()  # merged_facts, computed once at session finish
REPRODUCER_DIR = "reproducers"  # next to the results file
MODEL_SCHEME = "model:"
USAGE_ERROR = 2  # pytest itself says 4 for its own option errors; ours are documented as 2

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
    "check": ("ARCP_CONFORMANCE_CHECK", "Run only the checks whose id matches this pattern (fnmatch, e.g. 'DPOP-4.3-*@validate:*'); repeat the option or separate patterns with commas."),
    "fuzz-examples": ("ARCP_CONFORMANCE_FUZZ_EXAMPLES", "Hypothesis examples of the DPoP proof fuzzing at phase 2 (default 30; 0 disables it), after a fixed corpus of 25 (each named defect alone, wrong claim types, a replay). At most 3 requests each; --hypothesis-seed picks the examples (default seed 5449)."),
    "fuzz-seconds": ("ARCP_CONFORMANCE_FUZZ_SECONDS", "Wall-clock budget of the fuzzing in seconds (default 60): when spent, no more examples are sent."),
    "stateful-examples": ("ARCP_CONFORMANCE_STATEFUL_EXAMPLES", "Examples (step sequences) of the registration-flow state machine (default 20; 0 disables it). It runs once, after the other checks; --hypothesis-seed picks the sequences (default seed 5449)."),
    "stateful-steps": ("ARCP_CONFORMANCE_STATEFUL_STEPS", "Steps per state-machine example (default 8; a warm-up of up to 3 ordinary steps comes on top)."),
    "stateful-seconds": ("ARCP_CONFORMANCE_STATEFUL_SECONDS", "Wall-clock budget of the state machine in seconds (default 300, a safety net: a run that spends it may take another path): when spent, no more steps are sent."),
    "request-timeout": ("ARCP_CONFORMANCE_REQUEST_TIMEOUT", f"Seconds each request may take, connection to last byte (default {DEFAULT_REQUEST_TIMEOUT:g}). A request that takes longer has no response (its checks are inconclusive); after {PATH_FAILURES_TO_GIVE_UP} in a row on one path the suite sends nothing more there."),
    "run-timeout": ("ARCP_CONFORMANCE_RUN_TIMEOUT", f"Seconds the whole run may send requests (default {DEFAULT_RUN_TIMEOUT:g}): when spent, nothing more is sent, the remaining checks are inconclusive and the run exits 3."),
    "max-requests": ("ARCP_CONFORMANCE_MAX_REQUESTS", f"Requests the run may send in all, retries included (default {DEFAULT_MAX_REQUESTS}): when spent, nothing more is sent, the remaining checks are inconclusive and the run exits 3."),
    "retry-after-cap": ("ARCP_CONFORMANCE_RETRY_AFTER_CAP", f"Seconds of Retry-After honoured per request on 429 and 503 (default {DEFAULT_RETRY_CAP:g}; 0 never waits): a request still refused then makes its checks inconclusive."),
}
# Environment variables a reproducer needs set as for the original run (secrets are never printed).
SECRET_ENV = {"agent-key": OPTIONS["agent-key"][0], "jwt-secret": OPTIONS["jwt-secret"][0]}


def _dest(name: str) -> str:
    return "arcp_" + name.replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("arcp-conformance", "ARCP conformance suite")
    for name, (env, help_text) in OPTIONS.items():
        kwargs = {"action": "store_true"} if name == "conformance-strict" else {"action": "append"} if name == "check" else {"default": None}
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


def usage_error(message: str):
    """Stop the run with exit code 2 and one line naming the problem."""
    pytest.exit(f"arcp-conformance: {message}", returncode=USAGE_ERROR)


def check_patterns(config: pytest.Config) -> list[str] | None:
    value = option(config, "check")
    if not value:
        return None
    values = value if isinstance(value, list) else [value]
    return [p.strip() for v in values for p in str(v).split(",") if p.strip()]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arcp_check(id): an ARCP conformance check")
    config.stash[SESSION_KEY] = None
    config.stash[RESULTS_KEY] = []
    config.stash[ERROR_KEY] = None
    config.stash[MODEL_KEY] = None
    config.stash[BASELINE_KEY] = {}
    config.stash[STARTED_KEY] = results.now_rfc3339()
    config.stash[SNIPPETS_KEY] = {}
    config.stash[FUZZ_KEY] = None
    config.stash[STATEFUL_KEY] = None
    config.stash[WORKERS_KEY] = {}
    config.stash[WORKER_USAGE_KEY] = None
    url = option(config, "target-url")
    if not url:
        return
    if not url.startswith(MODEL_SCHEME) and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        usage_error(f"--target-url must be an http(s) URL or model:MODE[:FAULT,...], got {url!r}")
    mode = option(config, "dpop-mode")
    agent_key, jwt_secret = option(config, "agent-key"), option(config, "jwt-secret")
    if is_controller(config):
        _configure_controller(config, url, mode)
        return
    if url.startswith(MODEL_SCHEME):
        model = _start_model(url)
        config.stash[MODEL_KEY] = model
        url, mode = model.url, mode or model.config.mode
        agent_key, jwt_secret = agent_key or model.config.agent_key, jwt_secret or model.config.jwt_secret
    mode = mode or "auto"
    fuzz_settings, stateful_settings, limits = _configure_run(config, mode)
    settings = Settings(
        target_url=url,
        agent_key=agent_key,
        agent_type=option(config, "agent-type"),
        dpop_mode=mode,
        jwt_secret=jwt_secret,
        agent_endpoint_host=option(config, "agent-endpoint-host") or "127.0.0.1",
        **limits,
    )
    session = None
    try:
        session = ConformanceSession(settings)
        session.resolve_mode()
    except TargetError as exc:
        config.stash[ERROR_KEY] = str(exc)
        if session is not None:  # got as far as detecting the mode: free its agent endpoint
            session.close()
        return
    config.stash[SESSION_KEY] = session
    config.stash[FUZZ_KEY] = FuzzRun(session, fuzz_settings)
    config.stash[STATEFUL_KEY] = StatefulRun(session, stateful_settings)
    patterns = check_patterns(config) or []
    known = known_checks(session.mode)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(c.id, p) for c in known)]
    if unmatched:  # pytest_unconfigure still closes the session
        message = f"--check {unmatched[0]!r} matches no check in DPoP mode {session.mode} (check ids are listed in reports/conformance.json)"
        if is_worker(config):  # the controller reports it (a worker cannot stop the run cleanly)
            config.stash[WORKER_USAGE_KEY] = message
            return
        usage_error(message)


def _configure_run(config: pytest.Config, mode: str):
    """What every run with a target does with its options, on the xdist controller too: load the
    baseline, refuse a bad option (exit 2), run the suite rather than the project's tests, and
    default the report paths. Returns the fuzz, state-machine and limit settings."""
    baseline_path = option(config, "baseline")
    if baseline_path:
        try:
            config.stash[BASELINE_KEY] = baseline.load(Path(baseline_path))
        except baseline.BaselineError as exc:
            usage_error(str(exc))
    if mode not in MODES:
        usage_error(f"--dpop-mode must be one of {', '.join(MODES)}, got {mode!r}")
    # `pytest --target-url X` alone runs the suite, not the project's own tests.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = [str(SUITE_DIR)]
    if getattr(config.option, "htmlpath", "unset") is None and config.pluginmanager.hasplugin("html"):
        config.option.htmlpath = str(Path("reports") / "conformance.html")
        config.option.self_contained_html = True
    if getattr(config.option, "xmlpath", "unset") is None:
        config.option.xmlpath = str(Path("reports") / "conformance.junit.xml")
    fuzz_settings = _fuzz_settings(config)
    return fuzz_settings, _stateful_settings(config, fuzz_settings), _limits(config)


# --- pytest-xdist: each worker runs its own session; the controller only gathers and reports

def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The xdist controller (-n N, N > 0): it collects nothing and runs no check itself."""
    return (not is_worker(config) and getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))
            and not config.getoption("collectonly", False))


def _configure_controller(config: pytest.Config, url: str, mode: str | None) -> None:
    """The controller validates the options (usage errors exit 2 here, once) and sets the report
    paths; every worker opens its own session against the target (its own model server for
    model:MODE), so the controller sends no request and starts no server."""
    if url.startswith(MODEL_SCHEME):
        from .model_target import ModelConfig

        model_mode, faults = _model_spec(url)
        try:
            ModelConfig(mode=model_mode, faults=frozenset(faults))
        except ValueError as exc:
            usage_error(f"--target-url {url}: {exc}")
        mode = mode or model_mode
    mode = mode or "auto"
    _configure_run(config, mode)  # the same usage errors and report paths as a run without xdist
    config.stash[CONTROLLER_KEY] = {"mode": mode}
    patterns = check_patterns(config) or []
    modes = [mode] if mode != "auto" else ["required", "optional", "disabled"]  # auto: the workers detect it
    known = [c for m in modes for c in known_checks(m)]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(c.id, p) for c in known)]
    if unmatched:
        usage_error(f"--check {unmatched[0]!r} matches no check in DPoP mode {mode} (check ids are listed in reports/conformance.json)")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Situations whole per worker, the fuzz run and the state machine each on one worker."""
    if not option(config, "target-url"):
        return None
    from .distribute import ConformanceScheduling

    return ConformanceScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """A worker is done: keep what it reports about its session, for the results and the JUnit."""
    config = node.config
    raw = getattr(node, "workeroutput", {}).get("arcp_conformance")
    if raw is None or WORKERS_KEY not in config.stash:
        return
    facts = json.loads(raw)
    workers = config.stash[WORKERS_KEY]
    first = not any(f.get("target") for f in workers.values())
    workers[str(node.gateway.id)] = facts
    if first and facts.get("target"):
        try:
            from _pytest.junitxml import xml_key
        except ImportError:
            return
        xml = config.stash.get(xml_key, None)
        if xml is not None:  # on a worker record_testsuite_property has no JUnit file to go to
            for name, value in facts["junit_properties"]:
                xml.add_global_property(name, value)


def pytest_runtest_logreport(report) -> None:
    """On the xdist controller: the check's record comes with its worker's test report."""
    raw = getattr(report, "arcp_record", None)
    if raw is None or report.when != "call" or not hasattr(report, "node"):
        return
    config = report.node.config
    entry = json.loads(raw)
    config.stash[RESULTS_KEY].append(entry)
    snippet = getattr(report, "arcp_snippet", None)
    file = entry["reproducer"] and entry["reproducer"].get("python_file")
    if snippet and file:
        config.stash[SNIPPETS_KEY][file] = snippet


def known_checks(mode: str) -> list[Check]:
    """Every check a run in `mode` can have (the fuzz and stateful checks whether or not they are on)."""
    return all_checks(mode) + fuzz_checks(mode) + stateful_checks(mode)


def _number(config: pytest.Config, name: str, default, kind):
    value = option(config, name)
    if value in (None, ""):
        return default
    try:
        parsed = kind(value)
    except ValueError:
        parsed = -1
    if parsed < 0:
        usage_error(f"--{name} must be a non-negative number, got {value!r}")
    return parsed


def _limits(config: pytest.Config) -> dict:
    """The transport's limits (Settings fields): per request, per run, and Retry-After."""
    timeout = _number(config, "request-timeout", DEFAULT_REQUEST_TIMEOUT, float)
    run_timeout = _number(config, "run-timeout", DEFAULT_RUN_TIMEOUT, float)
    max_requests = _number(config, "max-requests", DEFAULT_MAX_REQUESTS, int)
    for name, value in (("request-timeout", timeout), ("run-timeout", run_timeout), ("max-requests", max_requests)):
        if value <= 0:
            usage_error(f"--{name} must be greater than 0, got {option(config, name)!r}")
    return {"timeout": timeout, "run_timeout": run_timeout, "max_requests": max_requests,
            "retry_cap": _number(config, "retry-after-cap", DEFAULT_RETRY_CAP, float)}


def _fuzz_settings(config: pytest.Config) -> FuzzSettings:
    def number(name: str, default, kind):
        return _number(config, name, default, kind)

    raw_seed = config.getoption("hypothesis_seed", None)
    if raw_seed is None:
        seed, source = DEFAULT_SEED, "default"
    else:
        seed, source = (int(raw_seed) if str(raw_seed).isdigit() else str(raw_seed)), "--hypothesis-seed"
    return FuzzSettings(number("fuzz-examples", DEFAULT_EXAMPLES, int), number("fuzz-seconds", DEFAULT_SECONDS, float), seed, source)


def _stateful_settings(config: pytest.Config, fuzz: FuzzSettings) -> StatefulSettings:
    """The state machine's settings; its seed is the fuzzing's (--hypothesis-seed or 5449)."""
    examples = _number(config, "stateful-examples", STATEFUL_EXAMPLES, int)
    steps = _number(config, "stateful-steps", STATEFUL_STEPS, int)
    if steps < 1 and examples > 0:
        usage_error(f"--stateful-steps must be at least 1, got {steps}")
    seconds = _number(config, "stateful-seconds", STATEFUL_SECONDS, float)
    return StatefulSettings(examples, steps, seconds, fuzz.seed, fuzz.seed_source)


def stateful_args(config: pytest.Config) -> list[str]:
    """The options that make a rerun send the same state-machine steps."""
    run = config.stash.get(STATEFUL_KEY, None)
    if run is None:
        return []
    s = run.settings
    return ["--hypothesis-seed", str(s.seed), "--stateful-examples", str(s.examples), "--stateful-steps", str(s.steps),
            "--stateful-seconds", f"{s.seconds:g}"]


def fuzz_args(config: pytest.Config) -> list[str]:
    """The options that make a rerun send the same fuzz examples."""
    run = config.stash.get(FUZZ_KEY, None)
    if run is None:
        return []
    s = run.settings
    return ["--hypothesis-seed", str(s.seed), "--fuzz-examples", str(s.examples), "--fuzz-seconds", f"{s.seconds:g}"]


def pytest_sessionstart(session: pytest.Session) -> None:
    conf = session.config.stash.get(SESSION_KEY, None)
    if conf is not None:
        _record_environment(session.config, conf)


def _model_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """`model:MODE[:FAULT,...]` -> (mode, faults); the mode defaults to required."""
    mode, _, faults = spec[len(MODEL_SCHEME):].partition(":")
    return mode or "required", tuple(f for f in faults.split(",") if f)


def _start_model(spec: str):
    """The embedded strict model server on a free loopback port."""
    from .model_target import start_model

    try:
        return start_model(*_model_spec(spec))
    except ValueError as exc:
        usage_error(f"--target-url {spec}: {exc}")


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


def _record_environment(config: pytest.Config, session: ConformanceSession) -> None:
    meta = _html_environment(config)
    if meta is not None:
        _set_environment(meta, session.client.base_url, session.mode, session.mode_source, session.discovery.version, bool(session.forger))


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
    controller = config.stash.get(CONTROLLER_KEY, None)
    if session is None and controller is not None:
        return [f"arcp-conformance: target {option(config, 'target-url')}, DPoP mode {controller['mode']}; pytest-xdist: each worker "
                f"opens its own session (phase 1, agent endpoint{', model server' if option(config, 'target-url').startswith(MODEL_SCHEME) else ''}), "
                f"the fuzz run and the state machine run on one worker each"]
    if session is None:
        return ["arcp-conformance: no --target-url given: the conformance checks are skipped"]
    d = session.discovery
    lines = [f"arcp-conformance: target {session.client.base_url} (version {d.version or 'unknown'}), DPoP mode {session.mode} ({session.mode_source}), forged tokens {'on' if session.forger else 'off (no --jwt-secret)'}"]
    run = config.stash.get(FUZZ_KEY, None)
    if run is not None and fuzz_checks(session.mode) and run.settings.examples > 0:
        s = run.settings
        lines.append(f"arcp-conformance: fuzzing {s.examples} examples within {s.seconds:g} s, seed {s.seed} ({s.seed_source})")
    srun = config.stash.get(STATEFUL_KEY, None)
    if srun is not None and stateful_checks(session.mode) and srun.settings.examples > 0:
        s = srun.settings
        lines.append(f"arcp-conformance: stateful flows {s.examples} examples of up to {s.steps} steps within {s.seconds:g} s, "
                     f"seed {s.seed} ({s.seed_source})")
    return lines


# --- collection: one item per check, the check id in the test id

def checks_for(config: pytest.Config, group: str) -> list[Check]:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return []
    if group == "fuzz":
        run = config.stash.get(FUZZ_KEY, None)
        checks = fuzz_checks(session.mode) if run is not None and run.settings.examples > 0 else []
    elif group == "stateful":
        srun = config.stash.get(STATEFUL_KEY, None)
        checks = stateful_checks(session.mode) if srun is not None and srun.settings.examples > 0 else []
    else:
        checks = {"issuance": issuance_checks, "binding": binding_checks}[group](session.mode)
    patterns = check_patterns(config)
    return checks if patterns is None else [c for c in checks if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


@pytest.fixture(scope="session")
def arcp_session(pytestconfig: pytest.Config, record_testsuite_property) -> ConformanceSession:
    session = pytestconfig.stash.get(SESSION_KEY, None)
    if session is None:
        pytest.skip(pytestconfig.stash.get(ERROR_KEY, None) or "no --target-url given")
    # the run's context on the JUnit test suite
    record_testsuite_property("arcp_target", session.client.base_url)
    record_testsuite_property("arcp_server_version", session.discovery.version or "unknown")
    record_testsuite_property("arcp_dpop_mode", f"{session.mode} ({session.mode_source})")
    record_testsuite_property("arcp_forged_tokens", "on" if session.forger else "off")
    return session


def check_source(entry: dict) -> str:
    return requirements()[entry["requirement"]].source


def rerun_command(config: pytest.Config, session: ConformanceSession, check_id: str) -> dict:
    """The one command that re-runs exactly `check_id` against the same target, with fresh proofs.

    Secrets are not in it: it names the environment variables that must hold them.
    """
    spec = option(config, "target-url")
    args = ["pytest", "--target-url", spec, "--dpop-mode", session.mode]
    for name in ("agent-type", "agent-endpoint-host"):
        if option(config, name):
            args += [f"--{name}", option(config, name)]
    args += ["--check", check_id]
    environment = []
    if not spec.startswith(MODEL_SCHEME):  # the model brings its own key and secret
        environment.append(SECRET_ENV["agent-key"])
        if session.forger is not None:
            environment.append(SECRET_ENV["jwt-secret"])
    return {"command": shlex.join(args), "environment": environment}


def _python_snippet(session: ConformanceSession, check: Check) -> str | None:
    try:
        from .reproduce import python_snippet
    except ImportError:
        return None
    try:
        return python_snippet(session, check)
    except Exception as exc:  # a reproducer must never cost the verdict
        return f"# no Python reproducer for {check.id}: {type(exc).__name__}: {exc}\n"


def run_fuzz_check(config: pytest.Config, session: ConformanceSession, check: Check, item: pytest.Item) -> None:
    """A fuzz property check: judged on the session's one fuzz run (sent on first use)."""
    verdict, exchanges = config.stash[FUZZ_KEY].run().verdict(check)
    run_check(config, session, check, item, judged=(verdict, exchanges))


def run_stateful_check(config: pytest.Config, session: ConformanceSession, check: Check, item: pytest.Item) -> None:
    """A state-machine invariant check: judged on the session's one state-machine run (sent on
    first use, which pytest_collection_modifyitems puts after every other check)."""
    outcome, message, exchanges = config.stash[STATEFUL_KEY].verdict(check)
    run_check(config, session, check, item, judged=(Verdict(outcome, message), exchanges))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """A suite module with no check to run (--fuzz-examples 0, --stateful-examples 0, a --check
    that selects none of it) has no item at all, not an empty skipped one. The state machine
    attributes the client's exchanges to its steps and is best sent after the other checks'
    traffic: its items go last, in their own order. Under pytest-xdist the fuzz checks and the state
    machine, one unit of work each and the longest, go first (conformance.distribute hands out work
    in this order, so they start at once on two workers; a worker runs one of them alone first)."""
    def in_suite(item) -> bool:
        return getattr(item, "path", None) is not None and Path(item.path).parent == SUITE_DIR

    def stateful(item) -> bool:
        return getattr(item, "path", None) == SUITE_DIR / "test_stateful.py"

    def fuzz(item) -> bool:
        return getattr(item, "path", None) == SUITE_DIR / "test_fuzz.py"

    empty = [i for i in items if in_suite(i) and not isinstance(getattr(getattr(i, "callspec", None), "params", {}).get("check"), Check)]
    if empty:
        config.hook.pytest_deselected(items=empty)
    kept = [i for i in items if i not in empty]
    if is_worker(config):
        items[:] = [i for i in kept if fuzz(i)] + [i for i in kept if stateful(i)] + [i for i in kept if not stateful(i) and not fuzz(i)]
    else:
        items[:] = [i for i in kept if not stateful(i)] + [i for i in kept if stateful(i)]


def run_check(config: pytest.Config, session: ConformanceSession, check: Check, item: pytest.Item, judged=None) -> None:
    """Judge one check and turn its verdict into a pytest outcome (fail only for MUST, or strict).

    `judged` = (verdict, exchanges) for checks judged elsewhere (the fuzz properties)."""
    req = check.requirement
    verdict, exchanges = judged if judged is not None else (session.judge(check), None)
    message = redact_tokens(verdict.message)  # views of tokens, control characters visible
    outcome, note = baseline.classify(config.stash.get(BASELINE_KEY, {}).get(check.id), graded(verdict.outcome, req.level), date.today(),
                                      exploratory=check.subject == "stateful")
    message = f"{message} ({note})" if note else message
    exchanges = session.exchanges_for(check) if exchanges is None else exchanges
    reproducer = rerun_command(config, session, check.id)
    reproducer["python_file"] = None
    if judged is not None:  # fuzz, stateful: the same seed and budget send the same examples
        extra = stateful_args(config) if is_stateful_check(check) else fuzz_args(config)
        reproducer["command"] = shlex.join([*shlex.split(reproducer["command"]), *extra])
    elif outcome not in (PASS, SKIP, INCONCLUSIVE):
        snippet = _python_snippet(session, check)
        if snippet:
            # one file per check: each script is standalone, so they are too big to inline
            reproducer["python_file"] = f"{REPRODUCER_DIR}/{reproducer_name(check.id)}"
            config.stash[SNIPPETS_KEY][reproducer["python_file"]] = snippet
    entry = results.check_record(check, outcome, message, exchanges, reproducer)
    config.stash[RESULTS_KEY].append(entry)
    item.stash[RECORD_KEY] = entry
    detail = ""
    if outcome in (FAIL, "warn", "info", baseline.STALE):
        detail = "\n\n" + "\n\n".join(ex.describe() for ex in exchanges)
        detail += "\n\nReproduce: " + _env_prefix(reproducer) + reproducer["command"]
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


def reproducer_name(check_id: str) -> str:
    """A file name for a check's Python reproducer: the id with : and @ made safe."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", check_id) + ".py"


def results_path(config: pytest.Config) -> Path:
    return Path(option(config, "conformance-json") or Path("reports") / "conformance.json")


def _write_reproducers(config: pytest.Config) -> None:
    """The Python reproducers of this run, next to the results file (old ones removed)."""
    folder = results_path(config).parent / REPRODUCER_DIR
    if folder.is_dir():
        for old in folder.glob("*.py"):
            old.unlink()
    for relative, text in config.stash[SNIPPETS_KEY].items():
        path = results_path(config).parent / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _env_prefix(reproducer: dict) -> str:
    names = reproducer.get("environment") or []
    return f"(with {', '.join(names)} set as for this run) " if names else ""


class ConformanceWarning(UserWarning):
    """A SHOULD (or MAY) requirement the target does not meet."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    entry = item.stash.get(RECORD_KEY, None)
    if entry is None or report.when != "call":
        return
    # for the report's columns (not user_properties: the JUnit schema has no per-test properties)
    report.arcp_check = {"check_id": entry["id"], "level": entry["level"], "verdict": entry["verdict"], "source": check_source(entry)}
    if is_worker(item.config):
        # pytest serialises a report's attributes for xdist (TestReport._to_json): JSON text
        # survives any transport; the controller writes results, reproducers and baseline
        report.arcp_record = json.dumps(entry)
        file = entry["reproducer"] and entry["reproducer"].get("python_file")
        if file:
            report.arcp_snippet = item.config.stash[SNIPPETS_KEY].get(file)
    if not item.config.pluginmanager.hasplugin("html"):
        return
    from pytest_html import extras

    html_path = getattr(item.config.option, "htmlpath", None)
    base = Path(html_path).resolve().parent if html_path else Path.cwd()
    file = entry["reproducer"] and entry["reproducer"].get("python_file")
    href = os.path.relpath(results_path(item.config).resolve().parent / file, base) if file else None
    report.extras = [*getattr(report, "extras", []), extras.html(html_report.check_extra(entry, href))]


# --- results file and report columns

def run_facts(config: pytest.Config) -> dict:
    """What this process's session says about the run (a worker sends it to the xdist controller):
    the target, the limits, the transport, the fuzz and stateful summaries and console lines."""
    conf = config.stash.get(SESSION_KEY, None)
    facts: dict = {"error": config.stash.get(ERROR_KEY, None), "usage_error": config.stash.get(WORKER_USAGE_KEY, None), "target": None}
    if conf is None:
        return facts
    facts.update(
        target={
            "url": conf.client.base_url,
            "spec": option(config, "target-url"),
            "server_version": conf.discovery.version,
            "dpop_mode": conf.mode,
            "dpop_mode_source": conf.mode_source,
            "forged_tokens": conf.forger is not None,
        },
        limits={"request_timeout": conf.client.timeout, "run_timeout": conf.client.run_timeout,
                "max_requests": conf.client.max_requests, "retry_after_cap": conf.client.retry_cap},
        transport=_transport_summary(conf.client),
        notes=transport_notes(conf.client),
        cut_short=bool(conf.client.stopped or conf.client.given_up),
        fuzz=_fuzz_summary(config, conf),
        stateful=_stateful_summary(config, conf),
        fuzz_line=_fuzz_line(config),
        stateful_line=_stateful_line(config),
        junit_properties=[
            ["arcp_target", conf.client.base_url],
            ["arcp_server_version", conf.discovery.version or "unknown"],
            ["arcp_dpop_mode", f"{conf.mode} ({conf.mode_source})"],
            ["arcp_forged_tokens", "on" if conf.forger else "off"],
        ],
    )
    return facts


def merged_facts(config: pytest.Config) -> dict | None:
    """This run's facts: the local session's, or on the xdist controller the workers' together
    (the target as the first worker to finish saw it; transport counts added up). None when there
    is no target at all."""
    if config.stash.get(SESSION_KEY, None) is not None:
        return run_facts(config)
    workers = config.stash.get(WORKERS_KEY, {})
    if CONTROLLER_KEY not in config.stash:
        error = config.stash.get(ERROR_KEY, None)
        return {"error": error, "usage_error": None, "target": None} if error else None
    ordered = list(workers.values())  # in the order the workers finished, as the JUnit properties
    errors = [f["error"] for f in ordered if f.get("error")]
    usage = next((f["usage_error"] for f in ordered if f.get("usage_error")), None)
    with_target = [f for f in ordered if f.get("target")]
    if not with_target:
        return {"error": errors[0] if errors else "no pytest-xdist worker reported a session", "usage_error": usage, "target": None}
    first = with_target[0]
    modes = sorted({f["target"]["dpop_mode"] for f in with_target})
    error = errors[0] if errors else None
    if len(modes) > 1:
        error = f"the pytest-xdist workers detected different DPoP modes ({', '.join(modes)}): give --dpop-mode"
    transports = [f["transport"] for f in with_target]
    return {
        "error": error,
        "usage_error": usage,
        "target": first["target"],
        "limits": first["limits"],
        "transport": {
            "requests": sum(t["requests"] for t in transports),
            "unanswered": sum(t["unanswered"] for t in transports),
            "throttled": sum(t["throttled"] for t in transports),
            "stopped": next((t["stopped"] for t in transports if t["stopped"]), None),
            "given_up": sorted({g for t in transports for g in t["given_up"]}),
        },
        "notes": [n for f in with_target for n in f["notes"]],
        "cut_short": any(f["cut_short"] for f in with_target),
        "fuzz": next((f["fuzz"] for f in with_target if f["fuzz"] is not None), None),
        "stateful": next((f["stateful"] for f in with_target if f["stateful"] is not None), None),
        "fuzz_line": next((f["fuzz_line"] for f in with_target if f["fuzz_line"]), None),
        "stateful_line": next((f["stateful_line"] for f in with_target if f["stateful_line"]), None),
        "workers": len(with_target),
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if is_worker(config):
        # the controller writes the results; it gets this worker's session facts with its output
        if option(config, "target-url"):
            config.workeroutput["arcp_conformance"] = json.dumps(run_facts(config))
        return
    facts = merged_facts(config)
    config.stash[FACTS_KEY] = facts
    if facts is None:
        return
    if facts.get("usage_error"):
        config.stash[ERROR_KEY] = facts["usage_error"]
        session.exitstatus = USAGE_ERROR
        return
    if facts.get("error"):
        config.stash[ERROR_KEY] = facts["error"]
    if facts["target"] is None:
        session.exitstatus = 3  # the target could not be used: no verdict at all
        return
    if facts.get("error"):  # xdist workers that disagree about the target
        session.exitstatus = 3
    records = config.stash[RESULTS_KEY]  # on the xdist controller in the order they came (the document sorts them)
    counts = results.count(records)
    mode = facts["target"]["dpop_mode"]
    _finish_baseline(session, mode, facts["target"]["server_version"], records)
    if records and not any(counts[v] for v in (PASS, FAIL, "warn", "info", baseline.BASELINED, baseline.STALE)):
        config.stash[ERROR_KEY] = "every check was inconclusive or skipped: no verdict about the target"
        session.exitstatus = 3
    elif session.exitstatus == 0 and facts["cut_short"]:
        session.exitstatus = 3  # cut short: the checks not judged may hide failures
    limits = facts["limits"]
    doc = results.document(
        target=facts["target"],
        options={
            "strict": _truthy(option(config, "conformance-strict")),
            "baseline": option(config, "baseline"),
            "checks": check_patterns(config),
            "request_timeout": limits["request_timeout"],
            "run_timeout": limits["run_timeout"],
            "max_requests": limits["max_requests"],
            "retry_after_cap": limits["retry_after_cap"],
        },
        started_at=config.stash[STARTED_KEY],
        exit_status=int(session.exitstatus),
        checks=records,
        catalogue=requirements(),
        fuzz=facts["fuzz"],
        stateful=facts["stateful"],
    )
    doc["transport"] = facts["transport"]
    config.stash[DOC_KEY] = doc
    results.write(results_path(config), doc)
    _write_reproducers(config)
    if CONTROLLER_KEY in config.stash:
        _refresh_html_environment(config, facts)


def _refresh_html_environment(config: pytest.Config, facts: dict) -> None:
    """pytest-html reads the environment table at session start, before any xdist worker has a
    session: give it the target's lines now (its report is written after this hook)."""
    meta = _html_environment(config)
    if meta is None:
        return
    try:
        from pytest_html.basereport import BaseReport
    except ImportError:  # pytest-metadata alone: no HTML report to refresh
        return

    t = facts["target"]
    _set_environment(meta, t["url"], t["dpop_mode"], t["dpop_mode_source"], t["server_version"], bool(t["forged_tokens"]))
    if str(t["spec"]).startswith(MODEL_SCHEME) and facts.get("workers", 1) > 1:
        meta["ARCP target URL"] += f" (and {facts['workers'] - 1} more pytest-xdist workers' own)"
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, BaseReport):
            plugin._report.set_data("environment", plugin._generate_environment())


DOC_KEY = pytest.StashKey["dict"]()


def _transport_summary(client: TargetClient) -> dict:
    """The results document's `transport` member: what the run sent and why it stopped early."""
    return {
        "requests": client.requests,
        "unanswered": client.unanswered,
        "throttled": client.still_throttled,
        "stopped": client.stopped,
        "given_up": sorted(client.given_up.values()),
    }


def transport_notes(client: TargetClient) -> list[str]:
    """Console lines about the transport: a budget spent, paths given up, rate limiting, silence."""
    notes = [f"{why}; the checks that needed it are inconclusive" for why in sorted(client.given_up.values())]
    if client.stopped:
        notes.append(f"stopped early: {client.stopped}; {client.requests} requests sent, the remaining checks are inconclusive")
    if client.still_throttled:
        notes.append(f"rate limited: {client.still_throttled} responses were still 429, 503 or a lockout after honouring Retry-After "
                     f"up to {client.retry_cap:g} s (--retry-after-cap); the checks that needed them are inconclusive")
    if client.unanswered and not client.given_up and not client.stopped:
        notes.append(f"{client.unanswered} requests got no complete response; the checks that needed them are inconclusive")
    return notes


def _fuzz_summary(config: pytest.Config, conf: ConformanceSession) -> dict | None:
    run = config.stash.get(FUZZ_KEY, None)
    ran = [c for c in fuzz_checks(conf.mode) if c.id in {r["id"] for r in config.stash[RESULTS_KEY]}]
    if run is None or not ran or not run._done:
        return None
    return run.summary(ran)


def _stateful_summary(config: pytest.Config, conf: ConformanceSession) -> dict | None:
    run = config.stash.get(STATEFUL_KEY, None)
    ran = [c for c in stateful_checks(conf.mode) if c.id in {r["id"] for r in config.stash[RESULTS_KEY]}]
    if run is None or not ran or not run.done:
        return None
    return run.summary(ran)


def _finish_baseline(session: pytest.Session, mode: str, server_version: str | None, records: list[dict]) -> None:
    entries = session.config.stash[BASELINE_KEY]
    unknown = sorted(set(entries) - {c.id for c in known_checks(mode)})
    if unknown:
        # an entry that names no check of this mode can never match: stale
        session.config.stash[ERROR_KEY] = f"stale baseline entries (no such check in {mode} mode): {', '.join(unknown[:10])}"
        session.exitstatus = 1
    target = option(session.config, "write-baseline")
    if target:
        note = f"recorded {date.today().isoformat()} against {server_version or 'unknown version'}, DPoP {mode}"
        about = {"recorded": date.today().isoformat(), "server_version": server_version, "dpop_mode": mode,
                 "counts": _counts_without_baseline(records)}
        baseline.write(Path(target), records, entries, note, about)


def _counts_without_baseline(records: list[dict]) -> dict[str, int]:
    """Verdict counts as the run would have had without a baseline (what the server did)."""
    counts = results.count(records)
    for record in records:
        if record["verdict"] == baseline.BASELINED:
            counts[baseline.BASELINED] -= 1
            counts[graded(FAIL, record["level"])] += 1
    return counts


def _fuzz_line(config: pytest.Config) -> str | None:
    run = config.stash.get(FUZZ_KEY, None)
    if run is None or not run._done:
        return None
    s = run.settings
    stopped = f", stopped early ({run.stopped} budget spent)" if run.stopped else ""
    return f"arcp-conformance fuzzing: seed {s.seed} ({s.seed_source}), {len(run.results)} examples, {run.requests} requests{stopped}"


def _stateful_line(config: pytest.Config) -> str | None:
    srun = config.stash.get(STATEFUL_KEY, None)
    if srun is None or not srun.done:
        return None
    r = srun.result
    spent = f", {r.budget_spent or 'time'} budget spent" if r.budget_exhausted else ""
    return (f"arcp-conformance stateful flows: seed {r.seed} ({srun.settings.seed_source}), {r.examples} examples, {r.steps} steps, "
            f"{r.elapsed:.1f} s{spent}" + (f"; {r.error}" if r.error else ""))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if is_worker(config):
        return
    error = config.stash.get(ERROR_KEY, None)
    if error:
        terminalreporter.write_line(f"arcp-conformance: {error}", red=True)
    facts = config.stash.get(FACTS_KEY, None) or {}
    for note in facts.get("notes") or []:
        terminalreporter.write_line(f"arcp-conformance: {note}", yellow=True)
    records = config.stash.get(RESULTS_KEY, [])
    for line in (facts.get("fuzz_line"), facts.get("stateful_line")):
        if line:
            terminalreporter.write_line(line)
    if records:
        line = ", ".join(f"{n} {v}" for v, n in results.count(records).items() if n)
        terminalreporter.write_sep("=", f"arcp-conformance verdicts: {line}")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list, summary: list, postfix: list, session: pytest.Session) -> None:
    doc = session.config.stash.get(DOC_KEY, None)
    if doc is not None:
        postfix.extend(html_report.summary_sections(doc))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list) -> None:
    cells.insert(1, "<th>Check id</th>")
    cells.insert(2, "<th>Level</th>")
    cells.insert(3, "<th>Verdict</th>")
    cells.insert(4, "<th>Source</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list) -> None:
    props = getattr(report, "arcp_check", None) or {}
    for i, key in enumerate(("check_id", "level", "verdict", "source"), start=1):
        cells.insert(i, f"<td>{escape(str(props.get(key, '')))}</td>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "ARCP conformance report"

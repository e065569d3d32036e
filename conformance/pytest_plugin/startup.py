"""Starting a run: the options checked, the model started (model:MODE), the session opened and
its mode resolved, the fuzz run and the state machine prepared, --check validated; and stopping."""
from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from ..judging.fuzz import FuzzRun
from ..judging.judge_check import known_checks
from ..judging.stateful.run import StatefulRun
from ..report import baseline, results
from ..spec.vocabulary import AUTO, MODE_CHOICES
from ..wire.client import TargetError
from ..wire.session import ConformanceSession, Settings
from . import console, options
from .options import MODEL_SCHEME, SECRET_ENV, option, usage_error
from .state import state

SUITE_DIR = Path(__file__).resolve().parents[1] / "suite"


def configure(config: pytest.Config) -> None:
    run = state(config)
    run.started = results.now_rfc3339()
    url = option(config, "target-url")
    if not url:
        return
    if not url.startswith(MODEL_SCHEME) and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        usage_error(f"--target-url must be an http(s) URL or model:MODE[:FAULT,...], got {url!r}")
    if not suite_selected(config):  # pytest --target-url URL my_tests/: those tests only, nothing sent
        run.suite_not_selected = True
        return
    console.quiet_per_check_failures(config)
    mode = option(config, "dpop-mode")
    if not url.startswith(MODEL_SCHEME) and not option(config, "agent-key"):  # nothing can be registered: before any request
        usage_error(f"no --agent-key given (or {SECRET_ENV['agent-key']}): the suite registers its own agents with the "
                    "target's agent registration key; ask the target's operator for it")
    from .xdist import configure_controller, is_controller, is_worker

    if is_controller(config):
        configure_controller(config, url, mode)
        return
    agent_key, jwt_secret = option(config, "agent-key"), option(config, "jwt-secret")
    if url.startswith(MODEL_SCHEME):
        model = start_model(url)
        run.model = model
        url, mode = model.url, mode or model.config.mode
        agent_key, jwt_secret = agent_key or model.config.agent_key, jwt_secret or model.config.jwt_secret
    mode = mode or AUTO
    fuzz_settings, stateful_settings, limits = configure_run(config, mode)
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
        cause = session.preflight()
        if cause:
            raise TargetError(cause)
        session.resolve_mode()
    except TargetError as exc:
        run.error = str(exc)
        if session is not None:  # got as far as detecting the mode: free its agent endpoint
            session.close()
        return
    run.session = session
    run.explorations = {r.name: r for r in (FuzzRun(session, fuzz_settings), StatefulRun(session, stateful_settings))}
    unmatched = unmatched_patterns(config, [session.mode])
    if unmatched:  # unconfigure still closes the session
        message = f"--check {unmatched[0]!r} matches no check in DPoP mode {session.mode} (check ids are listed in reports/conformance.json)"
        if is_worker(config):  # the controller reports it (a worker cannot stop the run cleanly)
            run.worker_usage_error = message
            return
        usage_error(message)


def suite_selected(config: pytest.Config) -> bool:
    """Will pytest collect the conformance suite? Without paths it does (configure_run points it
    there); with paths, only when one of them is the suite, inside it or a folder that holds it."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    for arg in config.args:
        path = (Path(config.invocation_params.dir) / arg.split("::", 1)[0]).resolve()
        if path == SUITE_DIR or path in SUITE_DIR.parents or SUITE_DIR in path.parents:
            return True
    return False


def unmatched_patterns(config: pytest.Config, modes: list[str]) -> list[str]:
    """The --check patterns that match no check a run in any of `modes` can have."""
    known = [c for m in modes for c in known_checks(m)]
    return [p for p in options.check_patterns(config) or [] if not any(fnmatch.fnmatchcase(c.id, p) for c in known)]


def configure_run(config: pytest.Config, mode: str):
    """What every run with a target does with its options, on the xdist controller too: load the
    baseline, refuse a bad option (exit 2), run the suite rather than the project's tests, and
    default the report paths. Returns the fuzz, state-machine and limit settings."""
    baseline_path = option(config, "baseline")
    if baseline_path:
        try:
            state(config).baseline = baseline.load(Path(baseline_path))
        except baseline.BaselineError as exc:
            usage_error(str(exc))
    if mode not in MODE_CHOICES:
        usage_error(f"--dpop-mode must be one of {', '.join(MODE_CHOICES)}, got {mode!r}")
    # `pytest --target-url X` alone runs the suite, not the project's own tests.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = [str(SUITE_DIR)]
    pytest_html_path = getattr(config.option, "htmlpath", None)  # pytest-html's --html: its own per-test report
    if pytest_html_path and Path(pytest_html_path).resolve() == options.html_path(config).resolve():
        usage_error(f"--html {pytest_html_path} is where the suite writes its own report (--conformance-html): "
                    "give pytest-html another file, or leave --html out")
    if getattr(config.option, "xmlpath", "unset") is None:
        config.option.xmlpath = str(Path("reports") / "conformance.junit.xml")
    hypothesis_home(config)
    fuzz_settings = options.fuzz_settings(config)
    return fuzz_settings, options.stateful_settings(config, fuzz_settings), options.limits(config)


def hypothesis_home(config: pytest.Config) -> None:
    """Where Hypothesis keeps its caches (its Unicode tables): --conformance-hypothesis-dir, or a
    temporary folder removed at the end for 'none'. Unset, Hypothesis' own default."""
    where = option(config, "conformance-hypothesis-dir")
    if not where:
        return
    if where == options.NO_HYPOTHESIS_DIR:
        where = tempfile.mkdtemp(prefix="arcp-conformance-hypothesis-")
        config.add_cleanup(lambda: shutil.rmtree(where, ignore_errors=True))
    set_hypothesis_home_dir(where)
    config.add_cleanup(lambda: set_hypothesis_home_dir(None))


def start_model(spec: str):
    """The embedded strict model server on a free loopback port."""
    from ..model_target import start_spec

    try:
        return start_spec(spec)
    except ValueError as exc:
        usage_error(f"--target-url {spec}: {exc}")


def unconfigure(config: pytest.Config) -> None:
    run = state(config)
    if run.session is not None:
        for exploration in run.explorations.values():
            exploration.wait()  # one started ahead sends on the session's client
        run.session.close()
    if run.model is not None:
        run.model.close()

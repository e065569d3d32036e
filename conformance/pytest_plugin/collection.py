"""Collection: one test item per check (the check id in the test id), the suite only when a
target is given, and the order the checks run in."""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from ..spec.checks import Check, binding_checks, issuance_checks, malformed_checks
from ..wire.session import ConformanceSession
from .options import check_patterns, option
from .startup import SUITE_DIR
from .state import state
from .xdist import is_worker


def checks_for(config: pytest.Config, group: str) -> list[Check]:
    """The checks of one suite module: "issuance", "binding", "malformed", or an exploration ("fuzz", "stateful")
    when it is switched on; narrowed by --check."""
    run = state(config)
    session = run.session
    if session is None:
        return []
    if group in run.explorations:
        exploration = run.explorations[group]
        checks = exploration.checks(session.mode) if exploration.enabled else []
    else:
        checks = {"issuance": issuance_checks, "binding": binding_checks, "malformed": malformed_checks}[group](session.mode)
    patterns = check_patterns(config)
    return checks if patterns is None else [c for c in checks if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]


def ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if SUITE_DIR in (collection_path, *collection_path.parents) and not option(config, "target-url"):
        return True
    return None


def session_fixture(config: pytest.Config, record_testsuite_property) -> ConformanceSession:
    run = state(config)
    if run.session is None:
        pytest.skip(run.error or "no --target-url given")
    session = run.session
    # the run's context on the JUnit test suite
    record_testsuite_property("arcp_target", session.client.base_url)
    record_testsuite_property("arcp_server_version", session.discovery.version or "unknown")
    record_testsuite_property("arcp_dpop_mode", f"{session.mode} ({session.mode_source})")
    record_testsuite_property("arcp_forged_tokens", "on" if session.forger else "off")
    return session


def send_ahead(config: pytest.Config, items: list) -> None:
    """Hand the session the situations of the collected checks, in collection order, to send
    ahead of their checks (--conformance-concurrency), and start the fuzz run and the state machine
    whose checks were collected, each on a thread of its own, alongside. Not on an xdist worker: it
    collects every check but judges only those the scheduler gives it (which worker gets the fuzz
    and stateful groups is not known yet), so it would send for the other workers too."""
    run = state(config)
    session = run.session
    if session is None or is_worker(config) or config.option.collectonly:
        return
    checks = [c for c in (getattr(getattr(i, "callspec", None), "params", {}).get("check") for i in items) if isinstance(c, Check)]
    threads = session.settings.concurrency - 1  # besides the pytest thread's own
    judges = {c.judge for c in checks}
    # the longest first (the state machine, against a slow target), each a sender of its own; at
    # least one thread is left to send situations ahead
    ahead = [run.explorations[name] for name in ("stateful", "fuzz") if name in judges and run.explorations[name].enabled]
    ahead = ahead[:max(0, threads - 1)]
    for exploration in ahead:
        exploration.start()
    session.overlap([c.case for c in checks if c.case is not None], threads - len(ahead))


def order_items(config: pytest.Config, items: list) -> None:
    """A suite module with no check to run (--fuzz-examples 0, --stateful-examples 0, a --check
    that selects none of it) has no item at all, not an empty skipped one. The state machine's
    items go last, in their own order (sent on the pytest thread, at --conformance-concurrency 1,
    it comes after the other checks' traffic; above, it was started ahead, see send_ahead). Under pytest-xdist the fuzz checks and the state
    machine, one unit of work each and the longest, go first (pytest_plugin.scheduling hands out work
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

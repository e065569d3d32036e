"""pytest-xdist: each worker opens its own session against the target; the controller sends
nothing, gathers what the workers report (their check records, reproducers and session facts)
and writes the one set of reports."""
from __future__ import annotations

import json

import pytest

from ..spec.vocabulary import AUTO, MODES
from .options import MODEL_SCHEME, model_spec, usage_error
from .state import state


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The xdist controller (-n N, N > 0): it collects nothing and runs no check itself."""
    return (not is_worker(config) and getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))
            and not config.getoption("collectonly", False))


def configure_controller(config: pytest.Config, url: str, mode: str | None) -> None:
    """The controller validates the options (usage errors exit 2 here, once) and sets the report
    paths; every worker opens its own session against the target (its own model server for
    model:MODE), so the controller sends no request and starts no server."""
    from .startup import configure_run, unmatched_patterns

    if url.startswith(MODEL_SCHEME):
        from ..model_target import ModelConfig

        try:
            model_mode, faults, options = model_spec(url)
            ModelConfig(mode=model_mode, faults=frozenset(faults), **options)
        except ValueError as exc:
            usage_error(f"--target-url {url}: {exc}")
        mode = mode or model_mode
    mode = mode or AUTO
    configure_run(config, mode)  # the same usage errors and report paths as a run without xdist
    state(config).controller_mode = mode
    unmatched = unmatched_patterns(config, [mode] if mode != AUTO else list(MODES))  # auto: the workers detect it
    if unmatched:
        usage_error(f"--check {unmatched[0]!r} matches no check in DPoP mode {mode} (check ids are listed in reports/conformance.json)")


def make_scheduler(config: pytest.Config, log):
    """Situations whole per worker, the fuzz run and the state machine each on one worker."""
    from .scheduling import ConformanceScheduling

    return ConformanceScheduling(config, log)


def node_down(node) -> None:
    """A worker is done: keep what it reports about its session, for the results and the JUnit."""
    config = node.config
    raw = getattr(node, "workeroutput", {}).get("arcp_conformance")
    if raw is None:
        return
    facts = json.loads(raw)
    workers = state(config).workers
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


def send_record(report, entry: dict, reproducer: tuple[str, str] | None) -> None:
    """On a worker: the check's record (and its reproducer file) travel with its test report.
    pytest serialises a report's attributes for xdist (TestReport._to_json): JSON text survives
    any transport."""
    report.arcp_record = json.dumps(entry)
    if reproducer is not None:
        report.arcp_reproducer = json.dumps(reproducer)


def receive_record(report) -> None:
    """On the controller: keep the record (and reproducer) a worker's test report carries."""
    raw = getattr(report, "arcp_record", None)
    if raw is None or report.when != "call" or not hasattr(report, "node"):
        return
    run = state(report.node.config)
    run.records.append(json.loads(raw))
    reproducer = getattr(report, "arcp_reproducer", None)
    if reproducer:
        path, text = json.loads(reproducer)
        run.reproducers[path] = text

"""What the plugin keeps about one pytest run: one record in the config's stash."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ..judging.exploration import ExplorationRun
from ..wire.session import ConformanceSession


@dataclass
class RunState:
    session: ConformanceSession | None = None  # this process's session against the target (none on the xdist controller)
    model: object | None = None  # the embedded model server, for model:MODE
    suite_not_selected: bool = False  # paths were given and none holds the suite: no session, no request
    error: str | None = None  # why the checks cannot run, or why the run is not a verdict (console and exit 3)
    baseline: dict = field(default_factory=dict)  # check id -> baseline entry (report.baseline.Entry)
    started: str = ""  # RFC 3339
    records: list[dict] = field(default_factory=list)  # one results record per check, in the order judged
    reproducers: dict[str, str] = field(default_factory=dict)  # file path relative to the results -> its text
    explorations: dict[str, ExplorationRun] = field(default_factory=dict)  # "fuzz", "stateful" -> the run
    # pytest-xdist: on the controller, each worker's facts (finish.run_facts) and the mode asked for;
    # on a worker, a --check pattern it could not match (the controller reports it)
    workers: dict[str, dict] = field(default_factory=dict)
    controller_mode: str | None = None
    worker_usage_error: str | None = None
    facts: dict | None = None  # finish.merged_facts, computed once at session finish
    doc: dict | None = None  # the results document, for the HTML report
    exit_status: int | None = None  # the run's exit code as finish.finish left it, for the console's verdict line


STATE = pytest.StashKey[RunState]()
RECORD_KEY = pytest.StashKey[dict]()  # on a test item: its check's result record


def state(config: pytest.Config) -> RunState:
    if STATE not in config.stash:
        config.stash[STATE] = RunState()
    return config.stash[STATE]

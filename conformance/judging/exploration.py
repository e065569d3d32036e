"""What the fuzz run and the state machine have in common: a search sent once per session, on
first use, that several checks judge. The plugin, the mutation self-test and the reproducers
treat both through this one interface."""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

from ..spec.checks import Check
from ..spec.vocabulary import Verdict
from ..wire.exchange import Exchange


class ExplorationRun(ABC):
    name = ""  # "fuzz" | "stateful": the group its checks form (the judge its checks name)
    settings_type: type = object  # the dataclass of its settings (a reproducer rebuilds them from a plan)

    def __init__(self, session, settings):
        self.session = session
        self.settings = settings  # has examples, seconds, seed, seed_source
        self.elapsed = 0.0
        self._done = False
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.examples > 0

    @property
    def done(self) -> bool:
        return self._done

    def run(self) -> "ExplorationRun":
        """Send the search (once; later calls return at once)."""
        with self._lock:
            if not self._done:
                self._done = True
                started = time.monotonic()
                try:
                    self._run()
                finally:
                    self.elapsed = time.monotonic() - started
            return self

    @abstractmethod
    def _run(self) -> None: ...

    @staticmethod
    @abstractmethod
    def checks(mode: str) -> list[Check]:
        """The checks this search has in `mode`."""

    @abstractmethod
    def verdict(self, check: Check) -> tuple[Verdict, list[Exchange]]:
        """The verdict of one of its checks (sends the search first if need be) and the exchanges
        that show it."""

    @abstractmethod
    def summary(self, checks: list[Check]) -> dict:
        """Its member of the results document."""

    @abstractmethod
    def plan_line(self) -> str:
        """One line for the report header: what it will send."""

    @abstractmethod
    def console_line(self) -> str:
        """One line for the end of the run: what it sent."""

    @abstractmethod
    def rerun_args(self) -> list[str]:
        """The options that make another run send the same search."""

"""What the fuzz run and the state machine have in common: a search sent once per session, on
first use, that several checks judge. The plugin, the mutation self-test and the reproducers
treat both through this one interface. The plugin may start it ahead on a thread of its own
(`start`, with --conformance-concurrency above 1), so that it overlaps the other checks' requests;
its checks then wait for that run (`run`)."""
from __future__ import annotations

import threading
import time
import traceback
from abc import ABC, abstractmethod
from pathlib import Path

from ..spec.checks import Check
from ..spec.vocabulary import Verdict
from ..wire.exchange import Exchange, redact_tokens


class ExplorationRun(ABC):
    name = ""  # "fuzz" | "stateful": the group its checks form (the judge its checks name)
    settings_type: type = object  # the dataclass of its settings (a reproducer rebuilds them from a plan)

    def __init__(self, session, settings):
        self.session = session
        self.settings = settings  # has examples, seconds, seed, seed_source
        self.elapsed = 0.0
        self._done = False  # finished (or finishing on the thread that holds the lock)
        self._error: BaseException | None = None  # what the run raised: raised again to every caller
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.examples > 0

    @property
    def done(self) -> bool:
        """Sent, or being sent: what it found is for the results once `run` returns."""
        return self._done

    @property
    def crash(self) -> str | None:
        """What the run raised, a bug of the suite (its checks are internal errors), or None."""
        return None if self._error is None else describe_crash(self._error)

    def start(self) -> None:
        """Send the search on a thread of its own, now (once): `run` then waits for it. A daemon
        thread: only the plugin's `wait`, before the session closes its client, waits for its end."""
        self._prepare()
        with self._lock:
            if self._done or self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run_ahead, name=f"arcp-conformance-{self.name}", daemon=True)
        self._thread.start()

    def _run_ahead(self) -> None:
        try:
            self.run()
        except BaseException:  # noqa: BLE001 - kept in self._error: raised again to its checks
            pass

    def wait(self) -> None:
        """Wait for a search started ahead (before the session closes its client)."""
        if self._thread is not None:
            self._thread.join()

    def run(self) -> "ExplorationRun":
        """Send the search (once; later calls, on any thread, wait for it and return)."""
        with self._lock:
            if not self._done:
                self._done = True
                started = time.monotonic()
                try:
                    self._run()
                except BaseException as exc:
                    self._error = exc
                finally:
                    self.elapsed = time.monotonic() - started
            if self._error is not None:
                raise self._error
            return self

    @abstractmethod
    def _run(self) -> None: ...

    def _prepare(self) -> None:
        """What must be done on the starting thread before the run goes on a thread of its own."""

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


def describe_crash(exc: BaseException) -> str:
    """One secret-free line for a bug report: the exception and, for a group (Hypothesis' Flaky
    report wraps what the example raised), its first inner one, with where that was raised."""
    text = f"{type(exc).__name__}: {exc}"
    inner = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    if inner is not exc:
        text += f"; inner {type(inner).__name__}: {inner}"
    frames = traceback.extract_tb(inner.__traceback__)
    if frames:
        text += f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})"
    return redact_tokens(text)

"""A pytest plugin for the project's own tests (`run_suite(..., plugins=["broken_fuzz"])`): the fuzz
run's first generated example (after the fixed corpus) raises, as a bug of the suite would."""
from __future__ import annotations

from conformance.judging.fuzz import FuzzRun

_example = FuzzRun._example


def _broken(self, case):
    if len(self.results) >= len(self.corpus):
        raise KeyError("an example that read a member nobody wrote")
    return _example(self, case)


FuzzRun._example = _broken

"""A pytest plugin for the project's own tests (`run_suite(..., plugins=["broken_judge"])`): the
judge of the checks named in ARCP_TEST_BROKEN_JUDGE (fnmatch) raises, as a bug of the suite would."""
from __future__ import annotations

import fnmatch
import os

import conformance.pytest_plugin.outcomes as outcomes

_judge = outcomes.judge_check


def _broken(session, check):
    if fnmatch.fnmatchcase(check.id, os.environ.get("ARCP_TEST_BROKEN_JUDGE", "")):
        raise KeyError("a judge that read a member nobody wrote")
    return _judge(session, check)


outcomes.judge_check = _broken

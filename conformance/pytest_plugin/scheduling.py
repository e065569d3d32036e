"""pytest-xdist support: how the conformance checks are spread over workers.

Each worker opens its own ConformanceSession (its own phase 1, agent endpoint and identities),
so a situation is best judged whole on one worker: its checks share the one request the session
sends for it. The fuzz properties all judge one fuzz run and the state-machine invariants one
state-machine run, so each of those groups goes to a single worker. They are the longest units
(against a real target the state machine is the longest of all), so they are handed out first,
one to each worker, and the situations fill in around them. Imported only under xdist.
"""
from __future__ import annotations

import re

from xdist.scheduler.loadscope import LoadScopeScheduling

FUZZ_GROUP = "arcp-fuzz"
STATEFUL_GROUP = "arcp-stateful"
ALG_GROUP = "arcp-algs"  # the checks of the proof algorithms: their flows are sent together, once
# the suite's node ids: the module's path is relative to the rootdir, which may be anywhere
# (`test_fuzz.py::...` when run from a folder of one's own), so only the module's name is matched
_CHECK_ID = re.compile(r"(?:^|[/\\])test_(?P<kind>binding|fuzz|issuance|malformed|stateful)\.py::test_(?P=kind)\[(?P<check>[^\]]*)\]$")


def scope_of(nodeid: str) -> str:
    """The unit of work a test belongs to: the fuzz or stateful group, a situation, or itself."""
    match = _CHECK_ID.search(nodeid)
    if match is None:
        return nodeid
    kind, check = match["kind"], match["check"]
    if kind == "fuzz":
        return FUZZ_GROUP
    if kind == "stateful":
        return STATEFUL_GROUP
    _, _, situation = check.partition("@")
    if kind == "issuance" and situation.startswith("alg:"):
        return ALG_GROUP
    return f"{kind}@{situation}" if situation else nodeid


class ConformanceScheduling(LoadScopeScheduling):
    """LoadScopeScheduling over `scope_of`, in collection order (the plugin collects the fuzz
    group and the state machine first under xdist, the longest units)."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)

    def schedule(self) -> None:
        # keep the collection order: the size reordering of loadscope would move the state
        # machine, a large group, to the front
        option = self.config.option
        saved = getattr(option, "loadscopereorder", False)
        option.loadscopereorder = False
        try:
            super().schedule()
        finally:
            option.loadscopereorder = saved

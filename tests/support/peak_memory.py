"""A pytest plugin run_suite() loads into every suite run: at the very end it writes the process's
own peak resident memory (VmHWM of /proc/self/status, in kB) to the file ARCP_TEST_PEAK_FILE names.

Not os.wait4's ru_maxrss: on Linux a child's maxrss starts from its parent's high-water mark at
fork/exec, so a child of a test process that has grown to 320 MB reports at least 320 MB, whatever
it used itself. VmHWM is the child's own address space only."""
from __future__ import annotations

import os

import pytest


def own_peak_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    where = os.environ.get("ARCP_TEST_PEAK_FILE")
    peak = own_peak_kb()
    if where and peak is not None:
        with open(where, "w", encoding="ascii") as out:
            out.write(str(peak))

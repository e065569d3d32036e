"""Sending situations ahead of their checks: a pool of threads that asks the session for each
situation's result in the order given, while the pytest thread judges the checks in collection
order and, when it gets to a situation no thread took yet, sends it itself (the session's
results are built once per situation, wire.once). At most `threads` background requests are in
flight, plus the pytest thread's own."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor


class Overlap:
    def __init__(self, send: Callable[[object], object], cases: Iterable[object], threads: int):
        self._stopped = threading.Event()
        self._send = send
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="arcp-conformance-send")
        for case in cases:
            self._pool.submit(self._ahead, case)

    def _ahead(self, case: object) -> None:
        if self._stopped.is_set():
            return
        try:
            self._send(case)
        except Exception:  # noqa: BLE001 - kept with the situation's result: raised again to the check that needs it
            pass

    def stop(self) -> None:
        """Send nothing more ahead; wait for the requests in flight (before the session closes its client)."""
        self._stopped.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

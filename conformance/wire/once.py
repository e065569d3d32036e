"""Once per key: a value built by the first caller that needs it, while later callers (on any
thread) wait for that one and get the same value. The run's lazily built state (the main flow,
the operations' agents, each situation's result) is built this way, so that situations sent on
several threads share it, and no lock is held across keys while a request is in flight."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

_PENDING = object()


class Once:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.RLock] = {}
        self._values: dict[Hashable, Any] = {}
        self._errors: dict[Hashable, BaseException] = {}

    def lock(self, key: Hashable) -> threading.RLock:
        """The key's own lock (reentrant: a builder may ask for its own key's lock again)."""
        with self._guard:
            return self._locks.setdefault(key, threading.RLock())

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The key's value, built by `build()` on first use; an exception it raised is raised again
        to every caller, since building twice would send the same requests twice."""
        value = self._values.get(key, _PENDING)
        if value is _PENDING:
            with self.lock(key):
                if key not in self._values and key not in self._errors:
                    try:
                        self._values[key] = build()
                    except Exception as exc:
                        self._errors[key] = exc
                if key in self._errors:
                    raise self._errors[key]
                value = self._values[key]
        return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The key's value if built, else `default`; never waits, never builds."""
        return self._values.get(key, default)

    def forget(self, key: Hashable) -> None:
        """Build the key's value again the next time it is asked for (under its lock)."""
        with self.lock(key):
            self._values.pop(key, None)
            self._errors.pop(key, None)

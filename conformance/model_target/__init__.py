"""The strict model ARCP server: profile §3–§7 in all three DPoP modes, with fault flags.

The suite's self-test runs against it: fault-free it must pass every check, and each fault must
make exactly the checks of the requirements it breaks fail. It shares no checking code with the
suite; only conformance.dpop.keys (thumbprint and ath, pinned by RFC vectors) and the mode names
of conformance.spec.vocabulary.

Its parts are imported on first use (PEP 562): the plugin, loaded by every pytest run, reads
only `spec`, and the server (uvicorn, starlette) loads when a model is started.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "create_app": "app", "MODES": "config", "ModelConfig": "config", "FAULTS": "faults", "Fault": "faults",
    "ModelServer": "server", "start_model": "server", "start_spec": "server", "SPEC_SCHEME": "spec", "parse_spec": "spec",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)

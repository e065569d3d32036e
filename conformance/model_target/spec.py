"""How a run names the model instead of a server: --target-url model:MODE[:FAULT,...]. Light on
purpose: the plugin reads it in every pytest run, and the model's server is imported only to start it."""
from __future__ import annotations

SPEC_SCHEME = "model:"


def parse_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """`model:MODE[:FAULT,...]` -> (mode, faults); the mode defaults to required."""
    mode, _, faults = spec[len(SPEC_SCHEME):].partition(":")
    return mode or "required", tuple(f for f in faults.split(",") if f)

"""How a run names the model instead of a server: --target-url model:MODE[:ITEM,...]. Light on
purpose: the plugin reads it in every pytest run, and the model's server is imported only to start it.

An ITEM is a fault name, or one of the model's options:
  nonce               issue DPoP-Nonce values and require the newest in proofs (RFC 9449 §8, §9)
  algs=ALG+ALG...     the proof algorithms the model lists and accepts (default EdDSA+ES256)
  isolated            the model cannot reach any agent endpoint (phase 2's health check fails
                      without a request, as behind a firewall): what a wrong --agent-endpoint-host looks like
  latency=MS          every HTTP answer comes MS milliseconds late, as over a network (answers to
                      concurrent requests overlap): what the suite's concurrency is for
"""
from __future__ import annotations

SPEC_SCHEME = "model:"
OPTIONS = "nonce, isolated, algs=ALG+ALG..., latency=MS"


def milliseconds(value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"model option latency={value!r}: expected a whole number of milliseconds")
    return int(value)


def parse_spec(spec: str) -> tuple[str, tuple[str, ...], dict]:
    """`model:MODE[:ITEM,...]` -> (mode, faults, options for ModelConfig); the mode defaults to required."""
    mode, _, items = spec[len(SPEC_SCHEME):].partition(":")
    faults: list[str] = []
    options: dict = {}
    for item in filter(None, items.split(",")):
        name, eq, value = item.partition("=")
        if name == "nonce" and not eq:
            options["nonce"] = True
        elif name == "isolated" and not eq:
            options["isolated"] = True
        elif name == "algs" and eq:
            options["algs"] = tuple(a for a in value.split("+") if a)
        elif name == "latency" and eq:
            options["latency_ms"] = milliseconds(value)
        elif eq:
            raise ValueError(f"unknown model option {name!r} (options: {OPTIONS})")
        else:
            faults.append(item)
    return mode or "required", tuple(faults), options

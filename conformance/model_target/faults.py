"""The fault catalogue: named defects the model target can be started with (vectors/model-faults.json)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve()
# A wheel carries the data inside the package (conformance/vectors); a clone has it at the top.
CANDIDATES = (HERE.parents[1] / "vectors" / "model-faults.json", HERE.parents[2] / "vectors" / "model-faults.json")


@dataclass(frozen=True)
class Fault:
    name: str
    summary: str
    modes: tuple[str, ...]  # the DPoP modes the fault applies to
    breaks: tuple[str, ...]  # requirement ids whose fixed checks it makes fail or warn (those the mode checks)
    fuzz: tuple[str, ...] = ()  # requirement ids of the fuzz properties (@fuzz:validate) it makes fail or warn
    stateful: tuple[str, ...] = ()  # requirement ids of the state machine's invariants (@stateful) it breaks
    stateful_modes: tuple[str, ...] = ()  # where the random walk finds those at its default budget; () = every mode
    endpoints: tuple[str, ...] = ()  # where its fixed checks may flag (spec.cases.ENDPOINTS); () = anywhere
    # ModelConfig options the fault needs (e.g. {"nonce": True}: a nonce fault on a model that gives
    # no nonces would break nothing); start_model switches them on with the fault
    options: dict = field(default_factory=dict, hash=False, compare=False)

    def stateful_in(self, mode: str) -> tuple[str, ...]:
        return self.stateful if not self.stateful_modes or mode in self.stateful_modes else ()


def catalogue_path() -> Path:
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise RuntimeError(f"model fault catalogue missing: looked at {', '.join(map(str, CANDIDATES))}")


def load_faults(path: Path | None = None) -> dict[str, Fault]:
    data = json.loads((path or catalogue_path()).read_text(encoding="utf-8"))
    return {
        name: Fault(name, raw["summary"], tuple(raw["modes"]), tuple(raw["breaks"]), tuple(raw.get("fuzz", ())), tuple(raw.get("stateful", ())),
              tuple(raw.get("stateful_modes", ())), tuple(raw.get("endpoints", ())), _options(raw.get("options", {})))
        for name, raw in data["faults"].items()
    }


def _options(raw: dict) -> dict:
    # JSON lists as tuples, as ModelConfig holds them (algs), so that the two compare equal
    return {key: tuple(value) if isinstance(value, list) else value for key, value in raw.items()}


FAULTS: dict[str, Fault] = load_faults()


def fault_options(faults) -> dict:
    """The ModelConfig options the named faults need, together."""
    return {key: value for name in faults if name in FAULTS for key, value in FAULTS[name].options.items()}

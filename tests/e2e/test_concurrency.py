"""--conformance-concurrency: the same results document at N = 1 and N = 8 against the model, apart
from what differs between any two runs (timings, ports, agent ids: scripts/determinism.py's
fingerprint), with a fault that fails checks too; and the speed-up against a model with network
latency, printed (timing targets belong in benchmarks/, not in tests)."""
import importlib.util
import time
from pathlib import Path

import pytest

from support import NO_TIME_LIMIT

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("determinism", ROOT / "scripts" / "determinism.py")
determinism = importlib.util.module_from_spec(spec)
spec.loader.exec_module(determinism)


def results_at(target: str, concurrency: int, tmp_path: Path) -> tuple[dict, float]:
    """The run's results document and its wall time."""
    started = time.monotonic()
    doc = determinism.run_once(target, tmp_path / f"n{concurrency}" / "conformance.json",
                               ["--conformance-concurrency", str(concurrency), *NO_TIME_LIMIT])
    took = time.monotonic() - started
    assert doc is not None, f"{target} at N={concurrency} wrote no results"
    return doc, took


def searches(*docs: dict) -> list[dict]:
    """What a difference needs to be explained: how far each run's fuzz run and state machine got."""
    keep = ("examples_run", "examples", "steps", "stopped", "budget_spent", "elapsed_seconds", "error")
    return [{part: {k: v for k, v in (doc.get(part) or {}).items() if k in keep} for part in ("fuzz", "stateful")}
            for doc in docs]


def differences(a: dict, b: dict) -> dict:
    first, second = determinism.fingerprint(a), determinism.fingerprint(b)
    return {k: (first.get(k), second.get(k)) for k in first.keys() | second.keys() if first.get(k) != second.get(k)}


@pytest.mark.parametrize("target", ["model:required", "model:optional:nonce", "model:required:accept-replay"])
def test_the_verdicts_do_not_depend_on_the_concurrency(target, tmp_path):
    one, _ = results_at(target, 1, tmp_path)
    eight, _ = results_at(target, 8, tmp_path)
    assert differences(one, eight) == {}, searches(one, eight)
    if target.endswith("accept-replay"):  # the comparison covers failures, not only passes
        assert any(c["verdict"] == "fail" for c in eight["checks"])


def test_latency_is_overlapped_with_the_same_verdicts(tmp_path, capsys):
    target = "model:required:latency=20"
    one, took_one = results_at(target, 1, tmp_path)
    eight, took_eight = results_at(target, 8, tmp_path)
    with capsys.disabled():
        print(f"\n{target}: N=1 {took_one:.1f} s, N=8 {took_eight:.1f} s ({took_one / took_eight:.2f}x)")
    assert differences(one, eight) == {}, searches(one, eight)

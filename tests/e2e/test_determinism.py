"""scripts/determinism.py: the same seed twice gives the same fuzz examples, state-machine steps
and verdicts (issue 5), and the script notices when it does not."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("determinism", ROOT / "scripts" / "determinism.py")
determinism = importlib.util.module_from_spec(spec)
spec.loader.exec_module(determinism)


def doc(verdict="fail", digest="sha256:aaaa", steps="sha256:bbbb", message="minimal failing example: defects replay (seed 5449)"):
    return {
        "checks": [
            {"id": "PROOF-replay@fuzz:validate", "subject": "fuzz:validate", "verdict": verdict, "message": message},
            {"id": "ISSUE-audience@temp", "subject": "temp", "verdict": "pass", "message": "took 0.12 s at 127.0.0.1:4711"},
        ],
        "fuzz": {"examples_digest": digest},
        "stateful": {"steps_digest": steps},
    }


@pytest.mark.parametrize("changed", [
    {"verdict": "pass"},
    {"digest": "sha256:cccc"},
    {"steps": "sha256:dddd"},
    {"message": "minimal failing example: defects replay; iat-future (seed 5449)"},
])
def test_any_difference_between_runs_is_reported(monkeypatch, tmp_path, capsys, changed):
    docs = iter([doc(), doc(**changed)])
    monkeypatch.setattr(determinism, "run_once", lambda target, out, extra: next(docs))
    assert determinism.main(["--runs", "2", "--out", str(tmp_path), "model:required"]) == 1
    assert "1 difference(s)" in capsys.readouterr().out


def test_ports_clock_seconds_token_hashes_agent_ids_and_key_urls_are_not_differences(monkeypatch, tmp_path):
    a, b = doc(), doc()
    a["checks"][0]["message"] += " at 127.0.0.1:4711 in 1.5 s, token sha256:0123456789ab, POST /agents/arcp-conf-a-f22283549b/heartbeat, key URL http://127.0.0.1:4712/keys/v-UnI6Rojx7PJhokqrHUS1ch.pem"
    b["checks"][0]["message"] += " at 127.0.0.1:5822 in 2.5 s, token sha256:ba9876543210, POST /agents/arcp-conf-a-0c1d2e3f4a/heartbeat, key URL http://127.0.0.1:5823/keys/UakY4cmhx0WdNyUC17sTu74k.pem"
    docs = iter([a, b])
    monkeypatch.setattr(determinism, "run_once", lambda target, out, extra: next(docs))
    assert determinism.main(["--runs", "2", "--out", str(tmp_path), "model:required"]) == 0


def test_a_run_without_results_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setattr(determinism, "run_once", lambda target, out, extra: None)
    assert determinism.main(["--runs", "2", "--out", str(tmp_path), "model:required"]) == 2


def test_the_same_seed_twice_against_the_model_changes_nothing(tmp_path, capsys):
    # a fault each fuzzer finds, so that minimal examples and sequences are compared too
    target = "model:required:accept-replay"
    status = determinism.main(["--runs", "2", "--out", str(tmp_path), target, "--", "--check", "*@fuzz:*", "--check", "*@stateful"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "0 difference(s)" in out
    first = json.loads((tmp_path / "model_required_accept-replay-1.json").read_text(encoding="utf-8"))
    assert first["fuzz"]["examples_run"] > 25 and first["stateful"]["steps"] > 0
    assert {c["id"]: c["verdict"] for c in first["checks"]}["PROOF-replay@stateful"] == "fail"

"""The parts of --conformance-concurrency: a value built once per key whatever the threads, the
run-wide pause of a Retry-After, and the option's values."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conformance.pytest_plugin import options
from conformance.wire.client import TargetClient
from conformance.wire.once import Once
from conformance.wire.overlap import Overlap


def test_once_builds_a_key_once_whatever_the_threads():
    once, built = Once(), []

    def build():
        built.append(threading.current_thread().name)
        time.sleep(0.05)  # the other threads arrive while it builds
        return len(built)

    threads = [threading.Thread(target=lambda: results.append(once.get("k", build))) for _ in range(8)]
    results: list[int] = []
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and results == [1] * 8
    assert once.peek("k") == 1 and once.peek("other") is None


def test_once_raises_a_failed_build_again_without_building_twice():
    once, calls = Once(), []

    def build():
        calls.append(1)
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError):
            once.get("k", build)
    assert calls == [1]
    once.forget("k")
    assert once.get("k", lambda: 3) == 3


def test_a_build_may_ask_for_its_own_key_lock_again():
    once = Once()
    assert once.get("k", lambda: once.lock("k").acquire() and once.lock("k").release() is None) is True


def test_overlap_sends_each_case_ahead_and_stop_waits_for_those_in_flight():
    sent, gate = [], threading.Event()

    def send(case):
        gate.wait(2)
        sent.append(case)

    overlap = Overlap(send, range(20), threads=2)
    time.sleep(0.05)
    gate.set()
    overlap.stop()
    done = len(sent)
    time.sleep(0.1)
    assert len(sent) == done  # nothing more after stop
    assert set(sent) <= set(range(20)) and len(sent) == len(set(sent))


class Busy(BaseHTTPRequestHandler):
    """/busy answers 429 Retry-After 0.5 once, then 200; /other 200. Records when each arrived."""

    arrivals: list[tuple[str, float]] = []
    refused = False

    def do_GET(self):
        Busy.arrivals.append((self.path, time.monotonic()))
        if self.path == "/busy" and not Busy.refused:
            Busy.refused = True
            self.send_response(429)
            self.send_header("Retry-After", "0.5")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_retry_after_pauses_every_sender_of_the_run():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = TargetClient(f"http://127.0.0.1:{server.server_address[1]}", retry_cap=5)
    try:
        busy = threading.Thread(target=lambda: client.send("GET", "/busy"))
        busy.start()
        while not Busy.refused:
            time.sleep(0.01)
        time.sleep(0.05)  # the pause is set once the 429 is read
        assert client.send("GET", "/other").status == 200
        busy.join()
    finally:
        client.close()
        server.shutdown()
    refused_at = Busy.arrivals[0][1]
    other_at = next(at for path, at in Busy.arrivals if path == "/other")
    assert other_at - refused_at >= 0.45  # it waited out the pause another sender was asked for


class Config:
    """What options.option reads of a pytest config."""

    def __init__(self, **given):
        self.given = given

    def getoption(self, dest):
        return self.given.get(dest)

    def getini(self, dest):
        return None


def test_the_concurrency_option_defaults_to_4_and_refuses_less_than_1(monkeypatch):
    monkeypatch.delenv("ARCP_CONFORMANCE_CONCURRENCY", raising=False)
    assert options.limits(Config())["concurrency"] == 4
    assert options.limits(Config(arcp_conformance_concurrency="8"))["concurrency"] == 8
    monkeypatch.setenv("ARCP_CONFORMANCE_CONCURRENCY", "2")
    assert options.limits(Config())["concurrency"] == 2
    for bad in ("0", "-1", "many"):
        with pytest.raises(pytest.exit.Exception, match="conformance-concurrency"):
            options.limits(Config(arcp_conformance_concurrency=bad))


def test_concurrency_1_sends_nothing_ahead_and_phase3_malformed_and_unregister_wait_their_turn():
    from conformance.spec.cases import Case
    from conformance.spec.requests import MalformedCase
    from conformance.wire.session import ConformanceSession, Settings, independent

    s = ConformanceSession.__new__(ConformanceSession)
    s.settings, s._overlap = Settings("http://t", concurrency=1), None
    s.overlap([Case("validate", "bound", "valid")])
    assert s._overlap is None
    assert independent(Case("validate", "bound", "valid")) and independent(Case("register", "bound", "valid"))
    assert not independent(Case("unregister", "bound", "valid"))
    assert not independent(MalformedCase("register", "syntax")) and not independent(MalformedCase("unregister", "syntax"))


class _Exploration:
    def __init__(self, name):
        self.name, self.enabled, self.started = name, True, False

    def start(self):
        self.started = True


class _Session:
    def __init__(self, concurrency):
        from conformance.wire.session import Settings

        self.settings, self.threads = Settings("http://t", concurrency=concurrency), None

    def overlap(self, cases, threads=None):
        self.threads = threads


def _sent_ahead(concurrency: int, judges=("stateful", "fuzz"), worker: bool = False):
    """(explorations started ahead, threads left for the situations) after collection."""
    from types import SimpleNamespace

    from conformance.pytest_plugin import collection
    from conformance.pytest_plugin.state import state
    from conformance.spec.checks import Check

    config = SimpleNamespace(stash=pytest.Stash(), option=SimpleNamespace(collectonly=False))
    if worker:
        config.workerinput = {}
    run = state(config)
    run.session = _Session(concurrency)
    run.explorations = {n: _Exploration(n) for n in ("fuzz", "stateful")}
    items = [SimpleNamespace(callspec=SimpleNamespace(params={"check": Check("REQ", judge, judge)})) for judge in judges]
    collection.send_ahead(config, items)
    return sorted(n for n, e in run.explorations.items() if e.started), run.session.threads


def test_the_fuzz_run_and_the_state_machine_start_ahead_within_the_concurrency():
    assert _sent_ahead(1) == ([], 0)  # today's order: on the pytest thread, after the other checks
    assert _sent_ahead(2) == ([], 1)
    assert _sent_ahead(3) == (["stateful"], 1)  # the longest first; one thread still sends situations
    assert _sent_ahead(4) == (["fuzz", "stateful"], 1)
    assert _sent_ahead(8) == (["fuzz", "stateful"], 5)
    assert _sent_ahead(8, judges=("fuzz",)) == (["fuzz"], 6)  # only a search whose checks were collected
    assert _sent_ahead(8, worker=True) == ([], None)  # an xdist worker does not know which groups it gets



def test_body_bindings_register_the_agent_only_under_its_registering_lock():
    """The state machine and the phase-3 situations register the main flow's agent on other
    threads at N > 1: a body-binding registration outside the agent's lock made either side meet a
    duplicate registration, and the state machine's path depend on N."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from conformance.dpop.keys import generate_key
    from conformance.wire.body_bindings import send_body_bindings
    from conformance.wire.flows import Proof

    held, events = set(), []

    @contextmanager
    def registering(identity):
        held.add(identity.agent_id)
        try:
            yield
        finally:
            held.discard(identity.agent_id)

    class Flows:
        def validate(self, identity, temp, proof, extra=None):
            return None, None, "validated-token"

        def phase3(self, identity, token, proof):
            events.append(("register", identity.agent_id in held))
            return SimpleNamespace(ok=True)

        def unregister_last(self, identity):
            events.append(("unregister", identity.agent_id in held))

    who = SimpleNamespace(agent_id="agent-a")
    bindings = send_body_bindings(Flows(), Proof(key=generate_key("ES256")), "jkt-b", (who, "temp"), (None, None),
                                  ["dpop_jkt", "cnf"], registering)
    assert set(bindings) == {"dpop_jkt", "cnf"}
    assert events == [("register", True), ("unregister", True)] * 2 and not held


def test_a_crash_is_described_with_the_exception_a_group_wraps_and_where_it_was_raised():
    """Hypothesis reports an example that raised once and not on its replay as a FlakyFailure
    group: the line for the bug report names the exception inside, not only the wrapper."""
    from conformance.judging.exploration import describe_crash

    def fails():
        raise KeyError("a member nobody wrote")

    try:
        fails()
    except KeyError as exc:
        inner = exc
    line = describe_crash(ExceptionGroup("Inconsistent results (1 sub-exception)", [inner]))
    assert line.startswith("ExceptionGroup: Inconsistent results")
    assert "; inner KeyError: 'a member nobody wrote' (at test_concurrency_parts.py:" in line and line.endswith(" in fails)")
    assert describe_crash(ValueError("plain")).startswith("ValueError: plain")


def test_the_fuzz_strategies_import_what_hypothesis_imports_lazily_before_any_thread_draws():
    """Hypothesis imports its regex module on a from_regex strategy's first use; on the fuzz run's
    thread, beside the state machine's, that import once crashed the run (CPython 3.11's compiler
    entered from two threads). Starting the fuzz run on its thread does it first, on the caller's."""
    import subprocess
    import sys

    code = ("import sys, types; from conformance.judging.fuzz import FuzzRun, FuzzSettings; "
            "run = FuzzRun(types.SimpleNamespace(), FuzzSettings()); run._run = lambda: None; "
            "was = 'hypothesis.strategies._internal.regex' in sys.modules; run.start(); run.wait(); "
            "print(was, 'hypothesis.strategies._internal.regex' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False True", out.stderr[-2000:]

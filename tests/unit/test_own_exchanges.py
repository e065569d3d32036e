"""Per-thread exchange attribution (TargetClient.own_exchanges): the state machine judges only the
exchanges its own thread sent, while another thread sends on the same session (the situations
sent ahead, the fuzz run), so that it need not stop them."""
import threading

from conformance.judging.stateful import machine
from conformance.judging.stateful.run import run_state_machine
from conformance.model_target import start_model
from conformance.wire.client import TargetClient
from conformance.wire.session import ConformanceSession, Settings

OTHER_PATH = "/public/agent_types"  # what the other thread sends: no step of the machine does


def test_each_thread_sees_only_its_own_exchanges():
    model = start_model("required", ())
    client = TargetClient(model.url, keep_exchanges=True)
    try:
        mine: dict[str, list] = {}

        def send(name: str, path: str) -> None:
            watched = client.own_exchanges()  # from now on, this thread's exchanges are kept for it
            for _ in range(5):
                client.send("GET", path)
            mine[name] = list(watched)

        threads = [threading.Thread(target=send, args=(n, p)) for n, p in (("a", "/health"), ("b", OTHER_PATH))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [ex.url.endswith("/health") for ex in mine["a"]] == [True] * 5
        assert [ex.url.endswith(OTHER_PATH) for ex in mine["b"]] == [True] * 5
        assert len(client.exchanges) == 10 and client.own_exchanges() == []  # this thread sent none
    finally:
        client.close()
        model.close()


def test_a_run_keeps_no_exchange_nobody_asked_for():
    """A suite run does not keep every exchange to its end (a hostile target's 64 KB bodies, by the
    thousand): only a reproducer asks for all, and a thread for its own once it watches."""
    model = start_model("required", ())
    client = TargetClient(model.url)
    try:
        client.send("GET", "/health")
        watched = client.own_exchanges()
        client.send("GET", OTHER_PATH)
        assert client.exchanges == [] and [ex.url.endswith(OTHER_PATH) for ex in watched] == [True]
    finally:
        client.close()
        model.close()


def test_the_machine_judges_only_its_own_threads_exchanges(monkeypatch):
    model = start_model("required", ())
    cfg = model.config
    session = ConformanceSession(Settings(target_url=model.url, agent_key=cfg.agent_key, jwt_secret=cfg.jwt_secret, dpop_mode="required",
                                          keep_exchanges=True))
    judged = []
    real = machine.response_verdicts

    def recording(ex):
        judged.append(ex)
        return real(ex)

    monkeypatch.setattr(machine, "response_verdicts", recording)
    stop = threading.Event()

    def other_sender() -> None:
        while not stop.is_set():
            session.client.send("GET", OTHER_PATH)

    try:
        session.issuance()
        other = threading.Thread(target=other_sender)
        other.start()
        try:
            result = run_state_machine(session, examples=3, steps=4, seconds=60.0, seed=1)
        finally:
            stop.set()
            other.join()
        assert result.error is None and result.steps > 0 and not result.failed
        others = {id(ex) for ex in session.client.exchanges if ex.url.endswith(OTHER_PATH)}
        # the other thread did send while the machine's steps were judged...
        positions = [i for i, ex in enumerate(session.client.exchanges) if id(ex) in {id(j) for j in judged}]
        between = session.client.exchanges[positions[0]:positions[-1]]
        assert any(id(ex) in others for ex in between)
        # ...and none of it was taken for a step's
        assert judged and not any(id(ex) in others for ex in judged)
    finally:
        session.close()
        model.close()

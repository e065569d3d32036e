"""The fuzz run and the state machine run Hypothesis on threads of their own at the same time
(--conformance-concurrency above 1): separate tests on separate threads must draw what each draws
alone, so that a seed gives the same examples whatever N (Hypothesis is thread-safe for this
since 6.136)."""
import threading

from hypothesis import Phase, given, seed, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test


def given_draws(seed_value: int) -> list:
    drawn = []

    @seed(seed_value)
    @settings(max_examples=200, database=None, deadline=None, phases=(Phase.generate,))
    @given(st.lists(st.integers(), max_size=5), st.text(max_size=5))
    def probe(xs, text):
        drawn.append((tuple(xs), text))

    probe()
    return drawn


def machine_draws(seed_value: int) -> list:
    drawn = []

    class Machine(RuleBasedStateMachine):
        @rule(x=st.integers(0, 100))
        def step(self, x):
            drawn.append(x)

    run_state_machine_as_test(seed(seed_value)(Machine), settings=settings(max_examples=100, stateful_step_count=5, database=None,
                                                                              deadline=None, phases=(Phase.generate,)))
    return drawn


def test_separate_tests_on_separate_threads_draw_what_they_draw_alone():
    alone = {"given": given_draws(5449), "machine": machine_draws(5449)}
    together: dict[str, list] = {}
    threads = [threading.Thread(target=lambda n=name, f=fn: together.__setitem__(n, f(5449)))
               for name, fn in (("given", given_draws), ("machine", machine_draws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone and alone["given"] and alone["machine"]

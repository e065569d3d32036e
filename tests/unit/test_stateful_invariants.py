"""The registration state machine's invariants (conformance.judging.stateful): each names a
catalogued requirement or says it has none, one check per catalogued invariant that applies in
the mode, and bad arguments are refused before anything is sent. (The machine against the model
target: tests/e2e/test_stateful.py.)"""
from __future__ import annotations

import pytest

from conformance.judging.stateful.invariants import INVARIANTS
from conformance.judging.stateful.run import run_state_machine
from conformance.spec.catalogue import requirements


def test_invariants_name_catalogued_requirements():
    catalogue = requirements()
    for inv in INVARIANTS:
        assert (inv.requirement_id in catalogue) == inv.catalogued, inv.name


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        run_state_machine(object(), examples=0, steps=8, seconds=1.0, seed=0)


def test_one_check_per_catalogued_invariant_that_applies_in_the_mode():
    from conformance.judging.stateful.run import stateful_checks

    ids = [c.id for c in stateful_checks("required")]
    assert ids == [f"{inv.requirement_id}@stateful" for inv in INVARIANTS if inv.catalogued]
    assert all(inv.requirement_id in requirements() for inv in INVARIANTS if inv.catalogued)
    assert "unregistered-refused" not in {inv.name for inv in INVARIANTS if inv.catalogued}  # no requirement to source it
    assert {c.requirement_id for c in stateful_checks("disabled")} == {
        inv.requirement_id for inv in INVARIANTS if inv.catalogued and "disabled" in inv.modes}

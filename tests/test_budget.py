"""BudgetLadder validation (one test per rule), rungs, fidelity schedule, paper brackets."""
from __future__ import annotations

import pytest

from tuner.budget import BudgetError, BudgetLadder, Rung, hyperband_brackets


def test_min_must_be_a_whole_number():
    with pytest.raises(BudgetError, match=r"budget\.min: expected a whole number, got 1\.5"):
        BudgetLadder(min=1.5, max=9)


def test_min_must_be_at_least_one():
    with pytest.raises(BudgetError, match=r"budget\.min: must be >= 1, got 0"):
        BudgetLadder(min=0, max=9)


def test_max_must_be_finite():
    with pytest.raises(BudgetError, match=r"budget\.max: expected a whole number, got inf"):
        BudgetLadder(min=1, max=float("inf"))


def test_nan_is_not_a_budget():
    with pytest.raises(BudgetError, match=r"budget\.min"):
        BudgetLadder(min=float("nan"), max=9)


def test_bool_is_not_a_budget():
    with pytest.raises(BudgetError, match=r"budget\.max"):
        BudgetLadder(min=1, max=True)


def test_min_must_not_exceed_max():
    with pytest.raises(BudgetError, match="min must be <= max, got min=10, max=9"):
        BudgetLadder(min=10, max=9)


@pytest.mark.parametrize("eta", [1, 2.5, float("inf"), True, "3"])
def test_eta_must_be_a_whole_number_of_at_least_two(eta):
    with pytest.raises(BudgetError, match=r"budget\.eta"):
        BudgetLadder(min=1, max=9, eta=eta)


def test_only_epochs_are_a_resource():
    with pytest.raises(BudgetError, match="only 'epochs'"):
        BudgetLadder(resource="steps")


@pytest.mark.parametrize("bad", [0, 1.5, -0.1, True])
def test_data_fraction_entries_in_zero_one(bad):
    with pytest.raises(BudgetError, match=r"budget\.data_fraction: each entry must be in"):
        BudgetLadder(min=1, max=9, eta=3, data_fraction=(0.5, bad))


def test_data_fraction_must_not_decrease():
    with pytest.raises(BudgetError, match="must not decrease"):
        BudgetLadder(min=1, max=9, eta=3, data_fraction=(0.5, 0.25))


def test_data_fraction_at_most_one_entry_per_rung():
    with pytest.raises(BudgetError, match=r"4 entries for 3 rungs \[1, 3, 9\]"):
        BudgetLadder(min=1, max=9, eta=3, data_fraction=(0.1, 0.2, 0.3, 0.4))
    BudgetLadder(min=1, max=10, eta=3, data_fraction=(0.1, 0.2, 0.3, 0.4))  # 10 is a rung


def test_from_dict_rejects_unknown_keys_with_the_valid_ones():
    with pytest.raises(BudgetError, match="budget.etta: unknown key; valid keys: data_fraction"):
        BudgetLadder.from_dict({"etta": 3})


def test_from_dict_accepts_a_list_of_fractions():
    assert BudgetLadder.from_dict({"max": 9, "data_fraction": [0.5, 1]}).data_fraction == (0.5, 1)


@pytest.mark.parametrize("lo,hi,eta,rungs", [
    (1, 81, 3, [1, 3, 9, 27, 81]), (1, 100, 4, [1, 4, 16, 64]), (2, 54, 3, [2, 6, 18, 54]),
    (1, 1000, 10, [1, 10, 100, 1000]), (5, 5, 2, [5]),
])
def test_rung_resources(lo, hi, eta, rungs):
    assert BudgetLadder(lo, hi, eta).rung_resources() == rungs


def test_rungs_add_max_when_it_is_not_a_power():
    assert [r.resource for r in BudgetLadder(1, 100, 4).rungs()] == [1, 4, 16, 64, 100]


def test_fidelity_schedule_and_cost():
    ladder = BudgetLadder(1, 9, 3, data_fraction=(0.25, 0.5, 1.0))
    assert ladder.rungs() == [Rung(1, 0.25), Rung(3, 0.5), Rung(9, 1.0)]
    assert ladder.fidelity_schedule() == [[1, 0.25], [3, 0.5], [9, 1.0]]
    assert [ladder.fraction_for_epoch(e) for e in (1, 2, 3, 4, 9)] == [0.25, 0.5, 0.5, 1.0, 1.0]
    assert ladder.cost_units(3) == pytest.approx(1.25)
    assert BudgetLadder(1, 9, 3).fidelity_schedule() is None


def test_short_fraction_list_repeats_its_last_entry():
    assert BudgetLadder(1, 9, 3, data_fraction=(0.5,)).fidelity_schedule() == \
        [[1, 0.5], [3, 0.5], [9, 0.5]]


def test_paper_brackets_r81_eta3_table_1():
    got = [(b.s, list(b.rungs)) for b in hyperband_brackets(1, 81, 3)]
    assert got == [
        (4, [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]),
        (3, [(34, 3), (11, 9), (3, 27), (1, 81)]),
        (2, [(15, 9), (5, 27), (1, 81)]),
        (1, [(8, 27), (2, 81)]),
        (0, [(5, 81)]),
    ]


def test_paper_brackets_scale_with_min():
    firsts = [b.rungs[0] for b in hyperband_brackets(2, 54, 3)]
    assert firsts == [(27, 2), (12, 6), (6, 18), (4, 54)]


def test_bracket_budget_is_the_papers_sum():
    assert hyperband_brackets(1, 81, 3)[0].budget == 81 + 81 + 81 + 81 + 81

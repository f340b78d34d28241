"""tuner plan: HyperBand's paper brackets and ASHA's expected rung counts as plain data."""
from __future__ import annotations

import json

import pytest

from tuner.budget import BudgetLadder
from tuner.plan import format_plan, plan
from tuner.schedulers import SchedulerError


def test_hyperband_plan_is_table_1():
    p = plan(BudgetLadder(1, 81, 3), "hyperband")
    assert [b["s"] for b in p["brackets"]] == [4, 3, 2, 1, 0]
    assert [(r["n"], r["r"]) for r in p["brackets"][0]["rungs"]] == \
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    assert [(r["n"], r["r"]) for r in p["brackets"][1]["rungs"]] == \
        [(34, 3), (11, 9), (3, 27), (1, 81)]
    assert p["brackets"][0]["budget_from_scratch"] == 405
    assert p["brackets"][0]["budget"] == 81 * 1 + 27 * 2 + 9 * 6 + 3 * 18 + 1 * 54
    assert p["trials_per_band"] == 143 and p["budget"] == p["budget_per_band"] == 1581
    json.dumps(p)  # plain data


def test_asha_plan_expected_counts_and_fractions():
    p = plan(BudgetLadder(1, 27, 3, data_fraction=(0.25, 0.5, 1.0)), "asha", num_samples=81)
    (b,) = p["brackets"]
    assert b["rungs"] == [{"n": 81, "r": 1, "data_fraction": 0.25},
                          {"n": 27, "r": 3, "data_fraction": 0.5},
                          {"n": 9, "r": 9, "data_fraction": 1.0},
                          {"n": 3, "r": 27, "data_fraction": 1.0}]
    assert p["budget"] == 81 + 27 * 2 + 9 * 6 + 3 * 18


def test_asha_brackets_split_trials_like_the_scheduler():
    p = plan(BudgetLadder(1, 9, 3), "asha", num_samples=100, brackets=2)
    first, second = p["brackets"]
    assert first["rungs"][0]["r"] == 1 and second["rungs"][0]["r"] == 3
    assert first["rungs"][0]["n"] + second["rungs"][0]["n"] == pytest.approx(100, abs=0.02)


def test_fifo_plan_and_text():
    p = plan(BudgetLadder(1, 9, 3), "fifo", num_samples=10)
    assert p["brackets"] == [{"s": 0, "rungs": [{"n": 10, "r": 9, "data_fraction": 1.0}],
                              "budget": 90, "budget_from_scratch": 90}]
    text = format_plan(plan(BudgetLadder(1, 81, 3), "hyperband"))
    assert "bracket s=4: 81@1  27@3  9@9  3@27  1@81" in text and "total: 1581 epochs" in text


def test_unknown_scheduler():
    with pytest.raises(SchedulerError, match="one of fifo"):
        plan(BudgetLadder(), "nope")

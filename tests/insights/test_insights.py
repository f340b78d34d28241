"""Importance and plots over hand-made trial records (no Ray)."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.record import insights
from tuner.budget import BudgetLadder
from tuner.record.results import TrialRecord

SPACE = SearchSpace({"lr": Float(1e-4, 1e-1, log=True), "noise": Float(0.0, 1.0),
                     "width": Int(8, 64, log=True), "act": Categorical(("relu", "tanh"))})


def _records(n: int, seed: int = 0, epochs: int = 1) -> list[TrialRecord]:
    """Only lr matters: accuracy peaks at lr = 1e-2; the others are pure decoration."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cfg = SPACE.sample(rng)
        acc = 1.0 - (math.log10(cfg["lr"]) + 2.0) ** 2 / 4.0
        out.append(TrialRecord(f"t_{i:04d}", cfg, "completed", epochs, [acc] * epochs))
    return out


@pytest.mark.parametrize("evaluator", ["ped-anova", "fanova"])
def test_the_parameter_that_matters_gets_the_largest_share(evaluator):
    recs = _records(120)
    sample = insights.rung_sample(recs, BudgetLadder(min=1, max=1))
    shares = insights.importances(insights.to_study(sample.points, SPACE, "max"), evaluator)
    assert set(shares) == {"lr", "noise", "width", "act"}
    assert shares["lr"] > 0.5
    assert shares["lr"] > 3 * max(shares["noise"], shares["width"], shares["act"])


def test_min_mode_flips_nothing_about_which_parameter_matters():
    recs = _records(120)
    for r in recs:
        r.history = [-v for v in r.history]  # a loss: lower is better, same structure
    sample = insights.rung_sample(recs, BudgetLadder(min=1, max=1))
    shares = insights.importances(insights.to_study(sample.points, SPACE, "min"))
    assert max(shares, key=shares.get) == "lr"


def test_rung_sample_takes_the_highest_rung_with_enough_trials():
    ladder = BudgetLadder(min=1, max=9, eta=3)  # rungs at 1, 3, 9 epochs
    recs = _records(20, epochs=1)
    for r in recs[:10]:
        r.epochs, r.history = 3, [0.1, 0.2, 0.3]
    for r in recs[:3]:
        r.epochs, r.history = 9, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    s = insights.rung_sample(recs, ladder, min_trials=8)
    assert (s.rung, s.epoch, len(s.points)) == (1, 3, 10)
    assert all(v == 0.3 for _, v in s.points)  # read at epoch 3, not the last epoch
    assert s.counts == {0: 20, 1: 10, 2: 3}


def test_errored_trials_are_left_out():
    recs = _records(10)
    recs[0].status = "errored: RuntimeError: boom"
    assert len(insights.rung_sample(recs, BudgetLadder(min=1, max=1)).points) == 9


def test_conditional_parameters_enter_only_where_active():
    space = SearchSpace({"opt": Categorical(("sgd", "adam")),
                         "momentum": Float(0.0, 0.99, when={"opt": "sgd"})})
    pts = [({"opt": "sgd", "momentum": 0.5}, 1.0), ({"opt": "adam"}, 0.5)]
    study = insights.to_study(pts, space, "max")
    assert [set(t.params) for t in study.trials] == [{"opt", "momentum"}, {"opt"}]


def test_markdown_says_not_enough_trials(tmp_path):
    md = insights.insights_markdown(_records(5), SPACE, "val_accuracy", "max",
                                    BudgetLadder(min=1, max=1), str(tmp_path))
    assert "not enough trials yet (5 at rung 0; need ≥ 8)" in md.lower()
    assert not os.listdir(tmp_path)


def test_markdown_has_table_and_writes_plots(tmp_path):
    md = insights.insights_markdown(_records(40), SPACE, "val_accuracy", "max",
                                    BudgetLadder(min=1, max=1), str(tmp_path))
    assert "| lr |" in md and "rung 0" in md
    table = [line for line in md.splitlines() if line.startswith("| ") and "|---" not in line]
    assert table[1].startswith("| lr |")  # most important first
    for name in insights.PLOTS:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000
        assert f"]({name})" in md


def test_report_extras_turns_a_failure_into_one_line(tmp_path):
    class BrokenExp:  # what the runner hands over, with a space that cannot be read
        trainable, metric, mode, space, path = "nope", "val_accuracy", "max", None, str(tmp_path)
        budget = BudgetLadder(min=1, max=1)

        def trial_config(self):
            return {}

    text = insights.report_extras(BrokenExp(), _records(10), None, {})
    assert "importance unavailable: AttributeError" in text
    assert "No winner to judge." in text

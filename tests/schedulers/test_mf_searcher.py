"""The multi-fidelity TPE searcher: per-rung data, model rung choice, seeding, and a synthetic
multi-fidelity benchmark where it must beat random search under the same ASHA."""
from __future__ import annotations

import math

import numpy as np
import pytest

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.compose.methods import build_searcher
from tuner.searchers.mf_tpe import ladder_milestones
from tuner.schedulers import make_scheduler
from tuner.schedulers.controller import StubController, make_trial

LADDER = BudgetLadder(1, 27, 3)
COND = SearchSpace({
    "opt": Categorical(("sgd", "adam")),
    "lr": Float(1e-4, 1e-1, log=True),
    "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
    "width": Int(8, 64, log=True),
    "act": Categorical((("relu", 1), ("tanh", 2))),  # non-primitive choices
})


def mf(space=COND, **kw):
    return build_searcher("mf-optuna-tpe", space, LADDER, metric="loss", mode="min", seed=0, **kw)


def feed(s, tid, epochs, value=1.0, complete=True):
    """Suggest, report ``epochs``, complete; ``value`` is a number or ``f(config, epoch)``."""
    config = s.suggest(tid)
    loss = value if callable(value) else (lambda c, e: value)
    for e in epochs:
        s.on_trial_result(tid, {"training_iteration": e, "loss": loss(config, e)})
    if complete:
        s.on_trial_complete(tid, {"training_iteration": epochs[-1],
                                  "loss": loss(config, epochs[-1])})
    return config


def test_milestones_cover_asha_and_hyperband_rungs():
    assert ladder_milestones(LADDER) == [1, 3, 9, 27]
    assert ladder_milestones(BudgetLadder(1, 100, 3)) == [1, 3, 4, 9, 11, 27, 33, 81, 100]


def test_records_once_per_rung_and_stopped_trials_only_where_they_got():
    s = mf()
    feed(s, "a", [1, 2, 3])  # stopped by the scheduler at epoch 3
    feed(s, "b", list(range(1, 28)))
    assert {r: sorted(d) for r, d in s.rung_data.items()} == \
        {1: ["a", "b"], 3: ["a", "b"], 9: ["b"], 27: ["b"]}
    s.on_trial_result("b", {"training_iteration": 3, "loss": 0.0})  # re-report: ignored
    assert s.rung_data[3]["b"][1] == 1.0


def test_nan_and_errored_results_are_not_recorded():
    s = mf()
    feed(s, "a", [1, 2, 3], value=float("nan"))
    config = s.suggest("b")
    s.on_trial_result("b", {"training_iteration": 1, "loss": 0.5})
    s.on_trial_complete("b", error=True)
    assert list(s.rung_data[1]) == ["b"] and not s.rung_data[3]
    assert s.num_failed == 2 and config


def test_model_uses_the_highest_rung_with_enough_points():
    s = mf(min_points=3, random_fraction=0.0)
    assert s.model_rung() is None
    for i in range(3):
        feed(s, f"low{i}", [1, 2, 3])
    assert s.model_rung() == 3
    for i in range(2):
        feed(s, f"hi{i}", list(range(1, 10)))
    assert s.model_rung() == 3  # rung 9 has only 2
    feed(s, "hi2", list(range(1, 10)))
    assert s.model_rung() == 9
    s.suggest("next")
    assert s.proposed_from["next"] == 9


def test_default_min_points_is_d_plus_2_at_least_6():
    assert mf().min_points == 7  # d = 5 searchable
    big = SearchSpace({f"x{i}": Float(0, 1) for i in range(7)})
    assert mf(big).min_points == 9


def test_conditional_space_proposals_are_valid_points():
    s = mf(min_points=4, random_fraction=0.0)
    rng = np.random.default_rng(0)
    for i in range(30):
        config = feed(s, f"t{i}", [1], value=lambda c, e: float(rng.random()))
        COND.validate_config(config)
    assert sum(v is not None for v in s.proposed_from.values()) >= 25


def test_same_seed_same_suggestions():
    def run(seed):
        s = build_searcher("mf-optuna-tpe", COND, LADDER, metric="loss", mode="min", seed=seed,
                           min_points=4)
        return [feed(s, f"t{i}", [1, 2, 3], value=lambda c, e: c["lr"] * 10 + 1 / e)
                for i in range(15)]
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_state_round_trip_keeps_data_and_drops_the_studies():
    s = mf(min_points=3, random_fraction=0.0)
    for i in range(4):
        feed(s, f"t{i}", [1])
    s.suggest("x")
    state = s.get_state()
    assert "_studies" not in state
    t = mf()
    t.set_state(state)
    assert t.rung_data == s.rung_data
    t.suggest("y")  # rebuilds its study from rung_data


def test_bad_knobs_rejected():
    with pytest.raises(ValueError, match="random_fraction"):
        mf(random_fraction=1.5)
    with pytest.raises(ValueError, match="top_fraction"):
        mf(top_fraction=0.0)


# A multi-fidelity benchmark: Branin + two quadratic dimensions; low budgets are biased in x1
# and all share a 20/epoch offset. Same ASHA, same number of trials.
SPACE4 = SearchSpace({"x1": Float(-5, 10), "x2": Float(0, 15), "x3": Float(0, 1),
                      "x4": Float(0, 1)})


def _branin(x1, x2):
    return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def _loss(c, epoch):
    bias = (1 - epoch / LADDER.max) * (10 + 5 * math.sin(c["x1"]))
    quad = 50 * ((c["x3"] - 0.3) ** 2 + (c["x4"] - 0.7) ** 2)
    return _branin(c["x1"], c["x2"]) + quad + bias + 20 / epoch


def _best_at_max(searcher_name, seed, n_trials=50):
    s = build_searcher(searcher_name, SPACE4, LADDER, metric="loss", mode="min", seed=seed)
    ctl = StubController(make_scheduler("asha", LADDER, metric="loss", mode="min", seed=seed))
    best = math.inf
    for i in range(n_trials):
        config = s.suggest(f"t{i}")
        trial = ctl.add(make_trial(f"t{i}", config))
        for epoch in range(1, LADDER.max + 1):
            result = {"training_iteration": epoch, "loss": _loss(config, epoch)}
            s.on_trial_result(f"t{i}", result)
            if ctl.report(trial, result) == "STOP":
                break
        s.on_trial_complete(f"t{i}", result)
        if epoch == LADDER.max:
            best = min(best, result["loss"])
    return best - (0.397887 + 20 / 27)  # regret


def test_beats_random_search_on_a_synthetic_multi_fidelity_function():
    seeds = range(5)
    mf_regret = [_best_at_max("mf-optuna-tpe", s) for s in seeds]
    random_regret = [_best_at_max("random", s) for s in seeds]
    assert np.mean(mf_regret) < 0.75 * np.mean(random_regret), (mf_regret, random_regret)

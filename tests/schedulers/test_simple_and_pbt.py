"""FIFO, median stopping and PBT: decision tables with a stub controller, no Ray running."""
from __future__ import annotations

import random

import numpy as np
import pytest

from search_spaces import Categorical, Float, Int, SearchSpace
from tuner.budget import BudgetLadder
from tuner.schedulers import (
    SCHEDULERS,
    SchedulerError,
    SeededPBT,
    make_scheduler,
    mutations_from_space,
)
from tuner.schedulers.controller import StubController, make_trial

C, P, S = "CONTINUE", "PAUSE", "STOP"
LADDER = BudgetLadder(1, 9, 3)
SPACE = SearchSpace({
    "lr": Float(1e-4, 1e-1, log=True),
    "width": Int(8, 64),
    "batch": Categorical((16, 32, 64)),
    "opt": Categorical(("sgd", "adam")),
    "momentum": Float(0.0, 0.99, when={"opt": "sgd"}),
})


def res(epoch, value):
    return {"training_iteration": epoch, "loss": value}


# Registry ----------------------------------------------------------------------------------
# The class each name must build, written out (not read from the registry being tested);
# a scheduler added later is checked for its wiring only.
CLASSES = {"fifo": "LadderFIFO", "asha": "SeededASHA", "asha-checked": "CheckedASHA",
           "hyperband": "PaperHyperBand", "median": "LadderMedian", "pbt": "SeededPBT",
           "pb2": "SeededPB2"}


def test_every_registered_scheduler_builds_its_class_on_the_ladder():
    assert {"fifo", "asha", "hyperband", "median", "pbt"} <= set(SCHEDULERS)
    for name in SCHEDULERS:
        sched = make_scheduler(name, LADDER, metric="loss", mode="max", seed=0, space=SPACE)
        assert type(sched).__name__ == CLASSES.get(name, type(sched).__name__), name
        assert sched.ladder is LADDER and (sched._metric, sched._mode) == ("loss", "max"), name


@pytest.mark.parametrize("name", ["fifo", "asha", "median"])
def test_stopping_schedulers_end_a_trial_at_the_ladders_max(name):
    ctl = StubController(make_scheduler(name, LADDER, metric="loss", mode="min", seed=0))
    t = ctl.add(make_trial("t0"))
    assert [ctl.report(t, res(e, 1.0 / e)) for e in range(1, LADDER.max + 1)] == \
        [C] * (LADDER.max - 1) + [S]


def test_unknown_scheduler_lists_the_valid_ones():
    with pytest.raises(SchedulerError, match="one of fifo, asha"):
        make_scheduler("asa", LADDER, metric="loss", mode="min")


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(SchedulerError, match="unknown option 'grace'.*brackets"):
        make_scheduler("asha", LADDER, metric="loss", mode="min", grace=3)


def test_bad_mode_rejected():
    with pytest.raises(SchedulerError, match="mode must be"):
        make_scheduler("fifo", LADDER, metric="loss", mode="minimize")


def test_pbt_needs_the_space():
    with pytest.raises(SchedulerError, match="needs the search space"):
        make_scheduler("pbt", LADDER, metric="loss", mode="min")


# FIFO --------------------------------------------------------------------------------------
def test_fifo_runs_to_the_ladder_max():
    ctl = StubController(make_scheduler("fifo", LADDER, metric="loss", mode="min"))
    t = ctl.add(make_trial("a"))
    assert [ctl.report(t, res(e, 1.0)) for e in range(1, 10)] == [C] * 8 + [S]


# Median ------------------------------------------------------------------------------------
def test_median_decision_table():
    sched = make_scheduler("median", LADDER, metric="loss", mode="min", min_samples_required=2)
    ctl = StubController(sched)
    a, b, c, d = (ctl.add(make_trial(x)) for x in "abcd")
    # a, b: too few peers → continue (no pausing by default)
    assert [ctl.report(a, res(e, 1.0 / e)) for e in (1, 2, 3)] == [C, C, C]
    assert [ctl.report(b, res(e, 2.0 / e)) for e in (1, 2, 3)] == [C, C, C]
    # c better than the median of a and b's running means → continue; d worse → stop at 1
    assert ctl.report(c, res(1, 0.5)) == C
    assert ctl.report(d, res(1, 5.0)) == S
    assert ctl.report(c, res(2, 0.4)) == C


def test_median_nan_trial_is_stopped_once_peers_exist():
    sched = make_scheduler("median", LADDER, metric="loss", mode="min", min_samples_required=1)
    ctl = StubController(sched)
    a, b = ctl.add(make_trial("a")), ctl.add(make_trial("b"))
    assert ctl.report(a, res(1, 1.0)) == C
    assert ctl.report(b, res(1, float("nan"))) == S


def test_median_caps_at_max_and_validates_grace():
    sched = make_scheduler("median", LADDER, metric="loss", mode="min")
    ctl = StubController(sched)
    t = ctl.add(make_trial("a"))
    assert [ctl.report(t, res(e, 1.0)) for e in range(1, 10)][-1] == S
    with pytest.raises(SchedulerError, match="grace_period"):
        make_scheduler("median", LADDER, metric="loss", mode="min", grace_period=0)


# PBT ---------------------------------------------------------------------------------------
def test_mutations_skip_conditional_parameters_and_their_parents():
    muts = mutations_from_space(SPACE, np.random.default_rng(0))
    assert sorted(muts) == ["batch", "lr", "width"]
    assert muts["batch"] == [16, 32, 64]
    with pytest.raises(ValueError, match="'momentum' cannot be mutated"):
        mutations_from_space(SPACE, np.random.default_rng(0), params=["momentum"])


def _population(seed, n=4):
    sched = make_scheduler("pbt", LADDER, metric="loss", mode="min", seed=seed, space=SPACE)
    ctl = StubController(sched)
    rng = np.random.default_rng(1)
    trials = [ctl.add(make_trial(f"p{i}", {**SPACE.sample(rng), "opt": "adam"}))
              for i in range(n)]
    for t in trials:
        t.config.pop("momentum", None)
    return sched, ctl, trials


def test_pbt_interval_is_the_second_rung():
    sched, _, _ = _population(0)
    assert sched._perturbation_interval == 3


def test_pbt_exploit_copies_a_top_checkpoint_and_perturbs_its_config():
    sched, ctl, trials = _population(0)
    losses = [0.1, 0.2, 0.3, 0.9]  # p0 best, p3 worst
    # round one (epochs 1-3): at epoch 3 nobody was in the top quantile when it reported, so
    # nothing can be cloned yet (Ray's asynchronous PBT); round two (epoch 6) exploits
    for e in range(1, 6):
        assert [ctl.report(t, res(e, v)) for t, v in zip(trials, losses)] == [C] * 4
    assert ctl.saved == {}  # p0 reported first at epoch 3: no quantiles yet, no checkpoint
    decisions = [ctl.report(t, res(6, v)) for t, v in zip(trials, losses)]
    assert decisions[:3] == [C, C, C]
    assert decisions[3] == "NOOP" and trials[3].status == "PAUSED"  # paused to load the clone
    worst = trials[3]
    ckpt = worst.run_metadata.checkpoint_manager._latest_checkpoint_result.checkpoint
    assert ckpt.path.endswith("/stub/p0/epoch6")  # the top trial's state at epoch 6
    for name in ("lr", "width", "batch"):
        assert SPACE[name].contains(worst.config[name])
    assert worst.config != trials[0].config  # explored
    assert worst.config["opt"] == trials[0].config["opt"]  # unmutated keys cloned


def test_pbt_same_seed_same_exploit_whatever_the_global_random():
    def run(seed, disturb):
        random.seed(disturb)
        sched, ctl, trials = _population(seed, n=8)
        losses = list(np.linspace(0.1, 0.8, 8))
        for e in range(1, 7):
            [ctl.report(t, res(e, v)) for t, v in zip(trials, losses)]
        return [dict(t.config) for t in trials]
    assert run(4, disturb=1) == run(4, disturb=2)
    assert run(4, disturb=1) != run(5, disturb=1)


def test_pbt_clips_perturbed_values_into_the_domain():
    sched = SeededPBT(LADDER, SPACE, metric="loss", mode="min")
    assert sched._clip({"lr": 0.5, "width": 70.4, "batch": 64}) == \
        {"lr": 0.1, "width": 64, "batch": 64}
    assert sched._clip({"lr": 1e-6, "width": 9.6}) == {"lr": 1e-4, "width": 10}


def test_concurrency_hint():
    from tuner.schedulers import concurrency_hint

    assert concurrency_hint("hyperband", BudgetLadder(1, 81, 3), slots=4) == 81
    assert concurrency_hint("pbt", LADDER, slots=2, num_samples=8) == 8
    assert concurrency_hint("asha", LADDER, slots=2) == 2
    assert concurrency_hint("fifo", LADDER, slots=None) is None
